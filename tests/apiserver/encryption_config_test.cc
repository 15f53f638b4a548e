#include "apiserver/encryption_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "base/crypto.h"
#include "tests/apiserver/test_env.h"

namespace apiserver {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kKey[] = "/registry/secrets/default/s1";
constexpr char kData[] = R"({"kind":"Secret"})";

class EncryptionConfigTest : public ApiserverEnv {
 protected:
  KmsClientFactory Factory() {
    return [this](const KmsProviderConfig& config)
               -> base::StatusOr<std::shared_ptr<KmsClient>> {
      ++factory_calls_;
      last_config_ = config;
      return NewClient();
    };
  }

  base::StatusOr<EncryptionConfig> Parse(const std::string& yaml) {
    return ParseEncryptionConfig(yaml, Factory(), clock_, random_);
  }

  // Returns the error of parsing `yaml`, or "OK".
  std::string ParseError(const std::string& yaml) {
    auto config = Parse(yaml);
    return config.ok() ? "OK" : config.status().message();
  }

  static std::string Header() {
    return "apiVersion: apiserver.config.k8s.io/v1\n"
           "kind: EncryptionConfiguration\n";
  }

  int factory_calls_ = 0;
  KmsProviderConfig last_config_;
};

std::string Write(Transformer& transformer, const std::string& key = kKey) {
  auto stored = transformer.ToStorage(kData, key);
  EXPECT_TRUE(stored.ok()) << stored.status();
  return stored.ok() ? *stored : "";
}

TEST_F(EncryptionConfigTest, KmsThenIdentityForSecrets) {
  auto config = Parse(Header() + R"(
resources:
  - resources: [secrets]
    providers:
      - kms:
          apiVersion: v2
          name: key-protect
          endpoint: unix:///tmp/kp.sock
          timeout: 5s
      - identity: {}
)");
  ASSERT_TRUE(config.ok()) << config.status();

  std::string secret = Write(*config->ForResource("secrets"));
  std::string config_map = Write(*config->ForResource("configmaps"));

  EXPECT_THAT(secret, StartsWith("k8s:enc:kms:v2:key-protect:"));
  EXPECT_EQ(config_map, kData);
  ASSERT_EQ(config->kms_providers.count("key-protect"), 1u);
  EXPECT_EQ(factory_calls_, 1);
  EXPECT_EQ(last_config_.endpoint, "unix:///tmp/kp.sock");
  EXPECT_EQ(last_config_.timeout, std::chrono::seconds(5));
  auto read = config->ForResource("secrets")->FromStorage(kData, kKey);
  ASSERT_TRUE(read.ok());
  EXPECT_TRUE(read->stale);
}

TEST_F(EncryptionConfigTest, AescbcRoundTripsAndRotatesKeys) {
  const std::string key1 = base::Base64Encode(std::string(32, '1'));
  const std::string key2 = base::Base64Encode(std::string(16, '2'));
  auto old_config = Parse(Header() + R"(
resources:
  - resources: [secrets]
    providers:
      - aescbc:
          keys:
            - name: key1
              secret: )" + key1 +
                          "\n");
  auto new_config = Parse(Header() + R"(
resources:
  - resources: [secrets]
    providers:
      - aescbc:
          keys:
            - name: key2
              secret: )" + key2 +
                          R"(
            - name: key1
              secret: )" + key1 +
                          "\n");
  ASSERT_TRUE(old_config.ok()) << old_config.status();
  ASSERT_TRUE(new_config.ok()) << new_config.status();

  std::string old_value = Write(*old_config->ForResource("secrets"));
  std::string new_value = Write(*new_config->ForResource("secrets"));
  auto old_read =
      new_config->ForResource("secrets")->FromStorage(old_value, kKey);
  auto new_read =
      new_config->ForResource("secrets")->FromStorage(new_value, kKey);

  EXPECT_THAT(old_value, StartsWith("k8s:enc:aescbc:v1:key1:"));
  EXPECT_THAT(new_value, StartsWith("k8s:enc:aescbc:v1:key2:"));
  // Prefix, 16-byte IV, then the data padded to whole blocks.
  EXPECT_EQ(old_value.size(), 23u + 16u + 32u);
  ASSERT_TRUE(old_read.ok()) << old_read.status();
  EXPECT_EQ(old_read->data, kData);
  EXPECT_TRUE(old_read->stale);
  ASSERT_TRUE(new_read.ok()) << new_read.status();
  EXPECT_FALSE(new_read->stale);
}

TEST_F(EncryptionConfigTest, AescbcWrongKeyReportsPadding) {
  auto writer = NewAesCbcTransformer(
      "k8s:enc:aescbc:v1:k:", std::string(32, 'a'), random_);
  auto reader = NewAesCbcTransformer(
      "k8s:enc:aescbc:v1:k:", std::string(32, 'b'), random_);
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE(reader.ok());
  std::string stored = Write(**writer);

  auto read = (*reader)->FromStorage(stored, kKey);

  ASSERT_FALSE(read.ok());
  EXPECT_THAT(read.status().message(),
              testing::AnyOf("invalid padding on input",
                             "invalid PKCS7 data (empty or not padded)"));
}

// The minimum sizes are an IV (aescbc), a nonce and a tag (aesgcm), and a
// nonce and a MAC (secretbox).
TEST_F(EncryptionConfigTest, StaticKeyProvidersRejectMalformedValues) {
  struct Case {
    std::string prefix;
    base::StatusOr<std::shared_ptr<Transformer>> transformer;
    size_t min_size;
    std::string error_at_min_size;
  };
  const std::string key(32, 'a');
  std::vector<Case> cases;
  cases.push_back({"k8s:enc:aescbc:v1:k:",
                   NewAesCbcTransformer("k8s:enc:aescbc:v1:k:", key, random_),
                   16, "invalid PKCS7 data (empty or not padded)"});
  cases.push_back({"k8s:enc:aesgcm:v1:k:",
                   NewAesGcmTransformer("k8s:enc:aesgcm:v1:k:", key, random_),
                   12 + 16, "cipher: message authentication failed"});
  cases.push_back(
      {"k8s:enc:secretbox:v1:k:",
       NewSecretboxTransformer("k8s:enc:secretbox:v1:k:", key, random_),
       24 + 16, "output array was not large enough for encryption"});

  for (const Case& c : cases) {
    SCOPED_TRACE(c.prefix);
    ASSERT_TRUE(c.transformer.ok()) << c.transformer.status();
    Transformer& transformer = **c.transformer;

    auto other_prefix = transformer.FromStorage(
        "k8s:enc:other:v1:k:" + std::string(64, 'x'), kKey);
    auto too_short = transformer.FromStorage(
        c.prefix + std::string(c.min_size - 1, 'x'), kKey);
    auto min_size =
        transformer.FromStorage(c.prefix + std::string(c.min_size, 'x'), kKey);

    ASSERT_FALSE(other_prefix.ok());
    EXPECT_EQ(other_prefix.status().message(), "no matching prefix found");
    ASSERT_FALSE(too_short.ok());
    EXPECT_EQ(too_short.status().message(),
              "the stored data was shorter than the required size");
    ASSERT_FALSE(min_size.ok());
    EXPECT_EQ(min_size.status().message(), c.error_at_min_size);
  }
}

TEST_F(EncryptionConfigTest, AesgcmBindsEtcdKey) {
  auto config = Parse(Header() + R"(
resources:
  - resources: ["*."]
    providers:
      - aesgcm:
          keys:
            - name: k
              secret: )" +
                      base::Base64Encode(std::string(24, 'g')) + "\n");
  ASSERT_TRUE(config.ok()) << config.status();
  auto transformer = config->ForResource("configmaps");

  std::string stored = Write(*transformer);
  auto same_key = transformer->FromStorage(stored, kKey);
  auto other_key = transformer->FromStorage(stored, "/registry/secrets/x/y");

  EXPECT_THAT(stored, StartsWith("k8s:enc:aesgcm:v1:k:"));
  ASSERT_TRUE(same_key.ok()) << same_key.status();
  EXPECT_EQ(same_key->data, kData);
  ASSERT_FALSE(other_key.ok());
  EXPECT_EQ(other_key.status().message(),
            "cipher: message authentication failed");
}

TEST_F(EncryptionConfigTest, KeyOfWrongLengthIsRejected) {
  EXPECT_EQ(ParseError(Header() + R"(
resources:
  - resources: [secrets]
    providers:
      - aescbc:
          keys:
            - name: key1
              secret: cGFzc3dvcmQK
)"),
            "invalid encryption configuration: resources[0].providers[0]."
            "aescbc.keys[0].secret: Invalid value: \"REDACTED\": secret is not "
            "of the expected length, got 9, expected one of [16 24 32]");
}

TEST_F(EncryptionConfigTest, KeyThatIsNotBase64IsRejected) {
  EXPECT_EQ(ParseError(Header() + R"(
resources:
  - resources: [secrets]
    providers:
      - aesgcm:
          keys:
            - name: key1
              secret: P@ssword
)"),
            "invalid encryption configuration: resources[0].providers[0]."
            "aesgcm.keys[0].secret: Invalid value: \"REDACTED\": secrets must "
            "be base64 encoded");
}

TEST_F(EncryptionConfigTest, SecretboxRoundTripsAndRotatesKeys) {
  const std::string key1 = base::Base64Encode(std::string(32, '1'));
  const std::string key2 = base::Base64Encode(std::string(32, '2'));
  auto old_config = Parse(Header() + R"(
resources:
  - resources: [secrets]
    providers:
      - secretbox:
          keys:
            - name: key1
              secret: )" + key1 +
                          "\n");
  auto new_config = Parse(Header() + R"(
resources:
  - resources: [secrets]
    providers:
      - secretbox:
          keys:
            - name: key2
              secret: )" + key2 +
                          R"(
            - name: key1
              secret: )" + key1 +
                          "\n");
  ASSERT_TRUE(old_config.ok()) << old_config.status();
  ASSERT_TRUE(new_config.ok()) << new_config.status();

  std::string old_value = Write(*old_config->ForResource("secrets"));
  std::string new_value = Write(*new_config->ForResource("secrets"));
  auto old_read =
      new_config->ForResource("secrets")->FromStorage(old_value, kKey);
  auto new_read =
      new_config->ForResource("secrets")->FromStorage(new_value, kKey);

  EXPECT_THAT(old_value, StartsWith("k8s:enc:secretbox:v1:key1:"));
  EXPECT_THAT(new_value, StartsWith("k8s:enc:secretbox:v1:key2:"));
  // Prefix, 24-byte nonce, 16-byte Poly1305 tag, then the ciphertext.
  EXPECT_EQ(old_value.size(), 26u + 24u + 16u + std::string(kData).size());
  EXPECT_EQ(old_value.find(kData), std::string::npos);
  ASSERT_TRUE(old_read.ok()) << old_read.status();
  EXPECT_EQ(old_read->data, kData);
  EXPECT_TRUE(old_read->stale);
  ASSERT_TRUE(new_read.ok()) << new_read.status();
  EXPECT_EQ(new_read->data, kData);
  EXPECT_FALSE(new_read->stale);
}

TEST_F(EncryptionConfigTest, SecretboxWrongKeyFailsAuthentication) {
  auto writer = NewSecretboxTransformer(
      "k8s:enc:secretbox:v1:k:", std::string(32, 'a'), random_);
  auto reader = NewSecretboxTransformer(
      "k8s:enc:secretbox:v1:k:", std::string(32, 'b'), random_);
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE(reader.ok());
  std::string stored = Write(**writer);
  std::string flipped = stored;
  flipped.back() ^= 0x01;

  auto wrong_key = (*reader)->FromStorage(stored, kKey);
  auto tampered = (*writer)->FromStorage(flipped, kKey);
  auto truncated = (*writer)->FromStorage(stored.substr(0, 60), kKey);

  ASSERT_FALSE(wrong_key.ok());
  EXPECT_EQ(wrong_key.status().message(),
            "output array was not large enough for encryption");
  ASSERT_FALSE(tampered.ok());
  EXPECT_EQ(tampered.status().message(),
            "output array was not large enough for encryption");
  ASSERT_FALSE(truncated.ok());
  EXPECT_EQ(truncated.status().message(),
            "the stored data was shorter than the required size");
}

// Secretbox has no associated data, so unlike aesgcm the etcd key is not
// bound to the value.
TEST_F(EncryptionConfigTest, SecretboxIgnoresEtcdKey) {
  auto transformer = NewSecretboxTransformer(
      "k8s:enc:secretbox:v1:k:", std::string(32, 'a'), random_);
  ASSERT_TRUE(transformer.ok());
  std::string stored = Write(**transformer);

  auto read = (*transformer)->FromStorage(stored, "/registry/secrets/x/y");

  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->data, kData);
}

TEST_F(EncryptionConfigTest, SecretboxKeyMustHave32Bytes) {
  EXPECT_EQ(ParseError(Header() + R"(
resources:
  - resources: [secrets]
    providers:
      - secretbox:
          keys:
            - name: key1
              secret: )" +
                       base::Base64Encode(std::string(16, 's')) + "\n"),
            "invalid encryption configuration: resources[0].providers[0]."
            "secretbox.keys[0].secret: Invalid value: \"REDACTED\": secret is "
            "not of the expected length, got 16, expected one of [32]");
}

TEST_F(EncryptionConfigTest, KmsNeedsApiVersionV2) {
  EXPECT_THAT(ParseError(Header() + R"(
resources:
  - resources: [secrets]
    providers:
      - kms:
          name: kp
          endpoint: unix:///tmp/kp.sock
)"),
              HasSubstr("providers[0].kms.apiVersion: Invalid value: \"v1\""));
  EXPECT_EQ(factory_calls_, 0);
}

TEST_F(EncryptionConfigTest, KmsNameWithColonIsRejected) {
  EXPECT_THAT(ParseError(Header() + R"(
resources:
  - resources: [secrets]
    providers:
      - kms:
          apiVersion: v2
          name: "a:b"
          endpoint: unix:///tmp/kp.sock
)"),
              HasSubstr("invalid KMS provider name a:b, must not contain ':'"));
}

TEST_F(EncryptionConfigTest, TwoProvidersInOneElementAreRejected) {
  EXPECT_THAT(ParseError(Header() + R"(
resources:
  - resources: [secrets]
    providers:
      - identity: {}
        aescbc: {keys: []}
)"),
              HasSubstr("more than one provider specified in a single "
                        "element, should split into different list elements"));
}

TEST_F(EncryptionConfigTest, MissingProvidersAreRequired) {
  EXPECT_EQ(ParseError(Header() + "resources:\n  - resources: [secrets]\n"),
            "invalid encryption configuration: resources[0].providers: "
            "Required value: at least one resources[0].providers is required");
}

TEST_F(EncryptionConfigTest, WrongKindIsRejected) {
  EXPECT_THAT(ParseError("apiVersion: v1\nkind: ConfigMap\n"),
              HasSubstr("expected apiserver.config.k8s.io/v1 "
                        "EncryptionConfiguration"));
}

TEST_F(EncryptionConfigTest, MalformedYamlIsRejected) {
  EXPECT_THAT(ParseError("resources: [unclosed"),
              StartsWith("error while parsing encryption configuration: "));
}

TEST_F(EncryptionConfigTest, LoadsFile) {
  const std::string path = dir_ + "/encryption.yaml";
  std::ofstream(path) << Header()
                      << "resources:\n"
                         "  - resources: [secrets]\n"
                         "    providers:\n"
                         "      - identity: {}\n";

  auto config = LoadEncryptionConfigFile(path, Factory(), clock_, random_);
  auto missing =
      LoadEncryptionConfigFile(dir_ + "/none.yaml", Factory(), clock_, random_);

  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(Write(*config->ForResource("secrets")), kData);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), base::Code::kNotFound);
}

class EncryptionConfigReloaderTest : public EncryptionConfigTest {
 protected:
  void SetUp() override {
    EncryptionConfigTest::SetUp();
    path_ = dir_ + "/encryption.yaml";
  }

  void WriteConfig(const std::string& providers) {
    std::ofstream(path_, std::ios::trunc)
        << Header() << "resources:\n  - resources: [secrets]\n    providers:\n"
        << providers;
  }

  std::unique_ptr<EncryptionConfigReloader> StartReloader() {
    auto reloader = EncryptionConfigReloader::Start(
        path_, Factory(), clock_, random_,
        [this](std::shared_ptr<const EncryptionConfig> config) {
          changes_.push_back(std::move(config));
        });
    EXPECT_TRUE(reloader.ok()) << reloader.status();
    return reloader.ok() ? std::move(*reloader) : nullptr;
  }

  static std::string AesgcmProvider() {
    return "      - aesgcm:\n          keys:\n            - name: k1\n"
           "              secret: " +
           base::Base64Encode(std::string(32, 'g')) + "\n";
  }

  std::string path_;
  std::vector<std::shared_ptr<const EncryptionConfig>> changes_;
};

TEST_F(EncryptionConfigReloaderTest, ChangedFileIsLoadedAtNextPoll) {
  WriteConfig("      - identity: {}\n");
  auto reloader = StartReloader();
  ASSERT_NE(reloader, nullptr);
  WriteConfig(AesgcmProvider());

  clock_.Advance(std::chrono::seconds(59));
  const size_t changes_before_poll = changes_.size();
  clock_.Advance(std::chrono::seconds(1));

  EXPECT_EQ(changes_before_poll, 0u);
  ASSERT_EQ(changes_.size(), 1u);
  EXPECT_EQ(changes_[0], reloader->current());
  EXPECT_THAT(Write(*reloader->current()->ForResource("secrets")),
              StartsWith("k8s:enc:aesgcm:v1:k1:"));
  EXPECT_EQ(reloader->stats().successes, 1);
  EXPECT_EQ(reloader->stats().failures, 0);
}

TEST_F(EncryptionConfigReloaderTest, UnchangedFileIsNotReloaded) {
  WriteConfig(AesgcmProvider());
  auto reloader = StartReloader();
  ASSERT_NE(reloader, nullptr);
  auto first = reloader->current();

  clock_.Advance(std::chrono::minutes(5));
  // Rewriting the same bytes keeps the hash.
  WriteConfig(AesgcmProvider());
  clock_.Advance(std::chrono::minutes(1));

  EXPECT_TRUE(changes_.empty());
  EXPECT_EQ(reloader->current(), first);
  EXPECT_EQ(reloader->stats().successes, 0);
}

TEST_F(EncryptionConfigReloaderTest, InvalidFileKeepsCurrentConfig) {
  WriteConfig(AesgcmProvider());
  auto reloader = StartReloader();
  ASSERT_NE(reloader, nullptr);
  auto first = reloader->current();
  WriteConfig(
      "      - aescbc:\n          keys:\n            - name: k\n"
      "              secret: cGFzc3dvcmQK\n");

  base::Status checked = reloader->CheckNow();

  ASSERT_FALSE(checked.ok());
  EXPECT_THAT(checked.message(), HasSubstr("secret is not of the expected "
                                           "length, got 9"));
  EXPECT_EQ(reloader->current(), first);
  EXPECT_TRUE(changes_.empty());
  EXPECT_EQ(reloader->stats().failures, 1);
  EXPECT_EQ(reloader->stats().last_error, checked.message());

  WriteConfig("      - identity: {}\n");
  clock_.Advance(std::chrono::minutes(1));

  EXPECT_EQ(changes_.size(), 1u);
  EXPECT_EQ(reloader->stats().successes, 1);
  EXPECT_EQ(reloader->stats().last_error, "");
  EXPECT_EQ(Write(*reloader->current()->ForResource("secrets")), kData);
}

TEST_F(EncryptionConfigReloaderTest, UnhealthyKmsProviderIsRejected) {
  WriteConfig("      - identity: {}\n");
  auto reloader = StartReloader();
  ASSERT_NE(reloader, nullptr);
  ASSERT_TRUE(kms_.Disable(instance_id_, key_id_).ok());
  WriteConfig(
      "      - kms:\n          apiVersion: v2\n          name: kp\n"
      "          endpoint: unix:///kms.sock\n      - identity: {}\n");

  base::Status checked = reloader->CheckNow();

  ASSERT_FALSE(checked.ok());
  EXPECT_THAT(checked.message(),
              StartsWith("health check for new transformers failed: kmsv2 "
                         "Provider kp is not healthy"));
  EXPECT_TRUE(changes_.empty());
  EXPECT_EQ(Write(*reloader->current()->ForResource("secrets")), kData);
}

TEST_F(EncryptionConfigReloaderTest, MissingFileFailsToStart) {
  auto reloader = EncryptionConfigReloader::Start(
      dir_ + "/none.yaml", Factory(), clock_, random_, nullptr);

  ASSERT_FALSE(reloader.ok());
  EXPECT_EQ(reloader.status().code(), base::Code::kNotFound);
}

}  // namespace
}  // namespace apiserver
