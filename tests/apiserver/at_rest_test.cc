// What a KMS-encrypted Secret leaves on disk: after the API server writes,
// updates and deletes Secrets through its HTTP handler, the RocksDB
// directory is flushed and compacted, and every file under it is searched
// for the Secrets' plaintext. The stored values are then decoded by hand as
// kube-apiserver's KMS v2 EncryptedObject.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <rocksdb/db.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "base/crypto.h"
#include "encrypted_object.pb.h"
#include "tests/apiserver/handler_env.h"

namespace apiserver {
namespace {

using ::testing::StartsWith;

// Concatenates every regular file under `dir`, WAL, SST and MANIFEST
// files alike.
std::string AllFileBytes(const std::string& dir) {
  std::string bytes;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream file(entry.path(), std::ios::binary);
    std::ostringstream text;
    text << file.rdbuf();
    bytes += text.str();
  }
  return bytes;
}

// Flushes the memtable into an SST file and compacts, with the store
// closed, so that the values sit in SST files as well as in the WAL. The
// compaction writes without block compression, so that a byte search of
// the files sees every value as it was stored.
void FlushAndCompact(const std::string& path) {
  rocksdb::Options options;
  options.compression = rocksdb::kNoCompression;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(options, path, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  ASSERT_TRUE(db->Flush(rocksdb::FlushOptions()).ok());
  ASSERT_TRUE(
      db->CompactRange(rocksdb::CompactRangeOptions(), nullptr, nullptr).ok());
  ASSERT_TRUE(db->Close().ok());
}

// Byte sequences of `plain` to look for: the text itself, its base64 and
// every 12-byte window of it.
std::vector<std::string> Fragments(const std::string& plain) {
  std::vector<std::string> fragments = {plain, base::Base64Encode(plain)};
  for (size_t at = 0; at + 12 <= plain.size(); at += 1) {
    fragments.push_back(plain.substr(at, 12));
  }
  return fragments;
}

class AtRestTest : public ApiHandlerTest {
 protected:
  // Creates a Secret through the handler with one data key and value.
  void CreateSecret(const std::string& name, const std::string& key,
                    const std::string& value) {
    Json secret = {
        {"apiVersion", "v1"},
        {"kind", "Secret"},
        {"metadata",
         {{"name", name}, {"annotations", {{"owner", "owner of " + name}}}}},
        {"data", {{key, base::Base64Encode(value)}}}};
    ApiResponse response = Send("POST", kSecrets, secret.dump(),
                                {{"content-type", "application/json"}});
    ASSERT_EQ(response.status, 201) << response.body;
    uids_.push_back(Body(response)["metadata"]["uid"]);
  }

  std::vector<std::string> uids_;
};

TEST_F(AtRestTest, NoPlaintextUnderRocksDbAfterFlush) {
  const std::map<std::string, std::string> secrets = {
      {"database", "correct-horse-battery-staple-7f3a9c"},
      {"api-token", "tok_live_51HqLyjWDarjtT1zdp7dcXyz"},
      {"replaced", "first-value-that-is-later-overwritten"},
      {"deleted", "value-of-a-secret-that-is-deleted-later"}};
  for (const auto& [name, value] : secrets) {
    CreateSecret(name, "key-of-" + name, value);
  }
  Json update = Body(Send("GET", std::string(kSecrets) + "/replaced"));
  update["data"]["key-of-replaced"] =
      base::Base64Encode("second-value-after-the-update-9d2e");
  ASSERT_EQ(Send("PUT", std::string(kSecrets) + "/replaced", update.dump(),
                 {{"content-type", "application/json"}})
                .status,
            200);
  ASSERT_EQ(Send("DELETE", std::string(kSecrets) + "/deleted").status, 200);
  // A control: ConfigMaps are not encrypted, so this value must be found,
  // which shows that the search reads the values where RocksDB keeps them.
  Json config_map = {{"apiVersion", "v1"},
                     {"kind", "ConfigMap"},
                     {"metadata", {{"name", "control"}}},
                     {"data", {{"visible", "plain-configmap-value-4b1d"}}}};
  ASSERT_EQ(Send("POST", "/api/v1/namespaces/default/configmaps",
                 config_map.dump(), {{"content-type", "application/json"}})
                .status,
            201);
  auto stored_value =
      registry_->RawValue(SecretsResource(), "default", "database");
  ASSERT_TRUE(stored_value.ok()) << stored_value.status();
  handler_.reset();
  registry_.reset();
  store_.reset();

  FlushAndCompact(dir_ + "/db");
  const std::string disk = AllFileBytes(dir_ + "/db");

  ASSERT_NE(disk.find("plain-configmap-value-4b1d"), std::string::npos);
  ASSERT_NE(disk.find(*stored_value), std::string::npos);
  std::vector<std::string> plaintexts = {
      "second-value-after-the-update-9d2e",
      base::Base64Encode("second-value-after-the-update-9d2e")};
  for (const auto& [name, value] : secrets) {
    // The stored JSON contains data values in base64.
    plaintexts.push_back(value);
    plaintexts.push_back(base::Base64Encode(value));
    plaintexts.push_back("owner of " + name);
    plaintexts.push_back("\"key-of-" + name + "\"");
  }
  plaintexts.insert(plaintexts.end(), uids_.begin(), uids_.end());
  for (const std::string& plain : plaintexts) {
    for (const std::string& fragment : Fragments(plain)) {
      EXPECT_EQ(disk.find(fragment), std::string::npos)
          << "\"" << fragment << "\" of \"" << plain << "\" is on disk";
    }
  }
}

// Decodes a stored value without the transformer, as kube-apiserver's KMS
// v2 provider reads it: the EncryptedObject protobuf after the prefix, the
// seed unwrapped by the KMS, HKDF-SHA256 over the seed and the first 32
// bytes of encryptedData, and AES-256-GCM with the next 12 bytes as nonce
// and the etcd key as associated data.
TEST_F(AtRestTest, StoredValueDecodesAsEncryptedObject) {
  CreateSecret("database", "password", "correct-horse-battery-staple");
  const std::string etcd_key = "/registry/secrets/default/database";
  auto stored = registry_->RawValue(SecretsResource(), "default", "database");
  ASSERT_TRUE(stored.ok()) << stored.status();

  ASSERT_THAT(*stored, StartsWith("k8s:enc:kms:v2:kp:"));
  v2::EncryptedObject object;
  ASSERT_TRUE(object.ParseFromString(stored->substr(18)));
  EXPECT_EQ(object.encrypteddeksourcetype(),
            v2::HKDF_SHA256_XNONCE_AES_GCM_SEED);
  EXPECT_EQ(object.keyid(), kms_transformer_->current_key_id());
  auto seed = kms_.Unwrap(instance_id_, key_id_, object.encrypteddeksource());
  ASSERT_TRUE(seed.ok()) << seed.status();
  ASSERT_EQ(seed->plaintext.size(), 32u);
  const std::string block = object.encrypteddata().substr(0, 32) + '\x01';
  unsigned char key[32];
  unsigned int key_size = 0;
  ASSERT_NE(HMAC(EVP_sha256(), seed->plaintext.data(), 32,
                 reinterpret_cast<const unsigned char*>(block.data()),
                 block.size(), key, &key_size),
            nullptr);
  auto opened =
      base::AesGcmOpen(std::string(reinterpret_cast<char*>(key), key_size),
                       object.encrypteddata().substr(32, 12),
                       object.encrypteddata().substr(44), etcd_key);

  ASSERT_TRUE(opened.ok()) << opened.status();
  Json plain = Json::parse(*opened, nullptr, false);
  EXPECT_EQ(plain["kind"], "Secret");
  EXPECT_EQ(plain["metadata"]["name"], "database");
  EXPECT_EQ(plain["data"]["password"],
            base::Base64Encode("correct-horse-battery-staple"));
}

}  // namespace
}  // namespace apiserver
