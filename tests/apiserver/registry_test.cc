#include "apiserver/registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>

#include "base/crypto.h"
#include "tests/apiserver/test_env.h"

namespace apiserver {
namespace {

using std::chrono::minutes;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class RegistryTest : public ApiserverEnv {
 protected:
  void SetUp() override {
    ApiserverEnv::SetUp();
    if (HasFatalFailure()) return;
    kms_transformer_ = NewKmsTransformer("kp");
    registry_ =
        std::make_unique<Registry>(*store_, KmsFirst(), clock_, random_);
  }

  void TearDown() override {
    registry_.reset();
    kms_transformer_.reset();
    ApiserverEnv::TearDown();
  }

  std::shared_ptr<Transformer> KmsFirst() {
    return std::make_shared<TransformerChain>(
        std::vector<Provider>{{kms_transformer_->prefix(), kms_transformer_},
                              {"", NewIdentityTransformer()}});
  }

  std::shared_ptr<Transformer> IdentityFirst() {
    return std::make_shared<TransformerChain>(
        std::vector<Provider>{{"", NewIdentityTransformer()},
                              {kms_transformer_->prefix(), kms_transformer_}});
  }

  static Json Secret(const std::string& name,
                     const std::string& password = "hunter2") {
    return Json{{"apiVersion", "v1"},
                {"kind", "Secret"},
                {"metadata", {{"name", name}}},
                {"data", {{"password", base::Base64Encode(password)}}}};
  }

  Json MustCreate(const Resource& resource, const std::string& ns,
                  Json object) {
    auto created = registry_->Create(resource, ns, std::move(object));
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? *created : Json();
  }

  // Returns the error message of creating `object`, or "OK".
  std::string CreateError(Json object, const std::string& ns = "default") {
    auto created = registry_->Create(SecretsResource(), ns, std::move(object));
    return created.ok() ? "OK" : created.status().message();
  }

  std::string Raw(const std::string& name, const std::string& ns = "default") {
    auto raw = registry_->RawValue(SecretsResource(), ns, name);
    EXPECT_TRUE(raw.ok()) << raw.status();
    return raw.ok() ? *raw : "";
  }

  // The stored Secret `name` of namespace default, or null.
  Json Get(const std::string& name) {
    auto secret = registry_->Get(SecretsResource(), "default", name);
    EXPECT_TRUE(secret.ok()) << secret.status();
    return secret.ok() ? *secret : Json();
  }

  std::shared_ptr<KmsV2Transformer> kms_transformer_;
  std::unique_ptr<Registry> registry_;
};

TEST_F(RegistryTest, CreateThenGetReturnsObject) {
  Json created = MustCreate(SecretsResource(), "default", Secret("s1"));

  auto got = registry_->Get(SecretsResource(), "default", "s1");

  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, created);
  EXPECT_EQ((*got)["data"]["password"], base::Base64Encode("hunter2"));
  EXPECT_EQ((*got)["type"], "Opaque");
  EXPECT_EQ((*got)["kind"], "Secret");
  EXPECT_EQ((*got)["metadata"]["namespace"], "default");
  EXPECT_EQ((*got)["metadata"]["uid"].get<std::string>().size(), 36u);
  EXPECT_EQ((*got)["metadata"]["creationTimestamp"], "2026-01-02T00:00:00Z");
  EXPECT_EQ((*got)["metadata"]["resourceVersion"],
            std::to_string(store_->CurrentRevision()));
}

TEST_F(RegistryTest, DefaultNamespacesExist) {
  auto list = registry_->List(NamespacesResource(), "");

  ASSERT_TRUE(list.ok()) << list.status();
  std::vector<std::string> names;
  for (const Json& item : (*list)["items"]) {
    names.push_back(item["metadata"]["name"]);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"default", "kube-node-lease",
                                             "kube-public", "kube-system"}));
  EXPECT_EQ((*list)["items"][0]["status"]["phase"], "Active");
}

TEST_F(RegistryTest, SecretIsStoredEncrypted) {
  MustCreate(SecretsResource(), "default", Secret("s1"));

  std::string raw = Raw("s1");

  EXPECT_THAT(raw, StartsWith("k8s:enc:kms:v2:kp:"));
  EXPECT_EQ(raw.find(base::Base64Encode("hunter2")), std::string::npos);
  EXPECT_EQ(raw.find("hunter2"), std::string::npos);
  EXPECT_EQ(raw.find("password"), std::string::npos);
}

TEST_F(RegistryTest, IdentityStoresJsonWithBase64Data) {
  registry_->SetTransformer(IdentityFirst());
  MustCreate(SecretsResource(), "default", Secret("s1"));

  Json stored = Json::parse(Raw("s1"));

  EXPECT_EQ(stored["kind"], "Secret");
  EXPECT_EQ(stored["apiVersion"], "v1");
  EXPECT_EQ(stored["data"]["password"], base::Base64Encode("hunter2"));
  EXPECT_FALSE(stored["metadata"].contains("resourceVersion"));
}

TEST_F(RegistryTest, ConfigMapsAreNotEncrypted) {
  MustCreate(ConfigMapsResource(), "default",
             Json{{"metadata", {{"name", "c1"}}}, {"data", {{"k", "v"}}}});

  auto raw = registry_->RawValue(ConfigMapsResource(), "default", "c1");

  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(Json::parse(*raw)["data"]["k"], "v");
}

TEST_F(RegistryTest, GetOfMissingSecretIsNotFound) {
  auto got = registry_->Get(SecretsResource(), "default", "x");

  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), base::Code::kNotFound);
  EXPECT_EQ(got.status().reason(), "NotFound");
  EXPECT_EQ(got.status().message(), "secrets \"x\" not found");
}

TEST_F(RegistryTest, SecondCreateIsAlreadyExists) {
  MustCreate(SecretsResource(), "default", Secret("x"));

  auto again = registry_->Create(SecretsResource(), "default", Secret("x"));

  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().reason(), "AlreadyExists");
  EXPECT_EQ(again.status().message(), "secrets \"x\" already exists");
}

TEST_F(RegistryTest, CreateInMissingNamespaceIsNotFound) {
  auto created = registry_->Create(SecretsResource(), "nope", Secret("x"));

  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().reason(), "NotFound");
  EXPECT_EQ(created.status().message(), "namespaces \"nope\" not found");
}

TEST_F(RegistryTest, OldResourceVersionConflicts) {
  Json created = MustCreate(SecretsResource(), "default", Secret("x"));
  Json first = created;
  first["data"]["password"] = base::Base64Encode("one");
  ASSERT_TRUE(registry_->Update(SecretsResource(), "default", first).ok());

  Json second = created;
  second["data"]["password"] = base::Base64Encode("two");
  auto updated = registry_->Update(SecretsResource(), "default", second);

  ASSERT_FALSE(updated.ok());
  EXPECT_EQ(updated.status().code(), base::Code::kAborted);
  EXPECT_EQ(updated.status().reason(), "Conflict");
  EXPECT_EQ(updated.status().message(),
            "Operation cannot be fulfilled on secrets \"x\": the object has "
            "been modified; please apply your changes to the latest version "
            "and try again");
}

TEST_F(RegistryTest, UpdateWithoutResourceVersionWins) {
  Json created = MustCreate(SecretsResource(), "default", Secret("x"));
  Json changed = Secret("x", "new");

  auto updated = registry_->Update(SecretsResource(), "default", changed);

  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_TRUE(updated->written);
  EXPECT_EQ(updated->object["metadata"]["uid"], created["metadata"]["uid"]);
  EXPECT_EQ(updated->object["metadata"]["creationTimestamp"],
            created["metadata"]["creationTimestamp"]);
  EXPECT_NE(updated->object["metadata"]["resourceVersion"],
            created["metadata"]["resourceVersion"]);
  auto got = registry_->Get(SecretsResource(), "default", "x");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ((*got)["data"]["password"], base::Base64Encode("new"));
}

TEST_F(RegistryTest, UpdateOfMissingSecretIsNotFound) {
  auto updated = registry_->Update(SecretsResource(), "default", Secret("x"));

  ASSERT_FALSE(updated.ok());
  EXPECT_EQ(updated.status().message(), "secrets \"x\" not found");
}

TEST_F(RegistryTest, NoOpUpdateOfCurrentObjectIsNotWritten) {
  Json created = MustCreate(SecretsResource(), "default", Secret("x"));
  const int64_t revision = store_->CurrentRevision();

  auto updated = registry_->Update(SecretsResource(), "default", created);

  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_FALSE(updated->written);
  EXPECT_EQ(updated->object, created);
  EXPECT_EQ(store_->CurrentRevision(), revision);
}

TEST_F(RegistryTest, NoOpUpdateRewritesObjectStaleAfterRotationOnce) {
  Json created = MustCreate(SecretsResource(), "default", Secret("x"));
  ASSERT_TRUE(kms_.Rotate(instance_id_, key_id_).ok());
  clock_.Advance(minutes(1));

  auto first = registry_->Update(SecretsResource(), "default", created);
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = registry_->Update(SecretsResource(), "default", first->object);
  ASSERT_TRUE(second.ok()) << second.status();

  EXPECT_TRUE(first->written);
  EXPECT_FALSE(second->written);
  EXPECT_EQ(first->object["data"], created["data"]);
}

// With a field manager, a no-op update keeps the stored managedFields
// times; the rewrite must still report the new resourceVersion.
TEST_F(RegistryTest, ManagedRewriteGetsNewVersion) {
  WriteOptions options;
  options.field_manager = "kubectl-replace";
  Json created = MustCreate(SecretsResource(), "default", Secret("x"));
  auto managed =
      registry_->Update(SecretsResource(), "default", created, options);
  ASSERT_TRUE(managed.ok()) << managed.status();
  ASSERT_TRUE(kms_.Rotate(instance_id_, key_id_).ok());
  clock_.Advance(minutes(1));

  auto rewritten =
      registry_->Update(SecretsResource(), "default", managed->object, options);

  ASSERT_TRUE(rewritten.ok()) << rewritten.status();
  EXPECT_TRUE(rewritten->written);
  EXPECT_EQ(rewritten->object["metadata"]["resourceVersion"],
            std::to_string(store_->CurrentRevision()));
  EXPECT_EQ(rewritten->object["metadata"]["managedFields"],
            managed->object["metadata"]["managedFields"]);
}

TEST_F(RegistryTest, NoOpUpdateMovesIdentityValueToKms) {
  registry_->SetTransformer(IdentityFirst());
  Json created = MustCreate(SecretsResource(), "default", Secret("x"));
  ASSERT_THAT(Raw("x"), StartsWith("{"));
  registry_->SetTransformer(KmsFirst());

  auto updated = registry_->Update(SecretsResource(), "default", created);

  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_TRUE(updated->written);
  EXPECT_THAT(Raw("x"), StartsWith("k8s:enc:kms:v2:kp:"));
}

TEST_F(RegistryTest, UndecryptableSecretFailsGetAndList) {
  MustCreate(SecretsResource(), "default", Secret("a"));
  MustCreate(SecretsResource(), "default", Secret("b"));
  ASSERT_TRUE(kms_.Disable(instance_id_, key_id_).ok());
  kms_transformer_->ClearCache();

  auto got = registry_->Get(SecretsResource(), "default", "a");
  auto list = registry_->List(SecretsResource(), "");

  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), base::Code::kInternal);
  EXPECT_EQ(got.status().reason(), "InternalError");
  EXPECT_THAT(got.status().message(),
              StartsWith("unable to transform key "
                         "\"/registry/secrets/default/a\": failed to decrypt "
                         "DEK, error: "));
  ASSERT_FALSE(list.ok());
  EXPECT_THAT(list.status().message(),
              StartsWith("unable to transform key \"/registry/secrets/"));
}

TEST_F(RegistryTest, ValueCopiedToOtherKeyFailsToRead) {
  MustCreate(SecretsResource(), "default", Secret("a"));
  etcd::PutRequest put;
  put.key = "/registry/secrets/default/b";
  put.value = Raw("a");
  ASSERT_TRUE(store_->Put(put).ok());

  auto got = registry_->Get(SecretsResource(), "default", "b");

  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().message(),
            "unable to transform key \"/registry/secrets/default/b\": cipher: "
            "message authentication failed");
}

TEST_F(RegistryTest, WriteFailsWhenSeedExpired) {
  ASSERT_TRUE(kms_.Disable(instance_id_, key_id_).ok());
  clock_.Advance(minutes(4));

  auto created = registry_->Create(SecretsResource(), "default", Secret("x"));

  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().reason(), "InternalError");
  EXPECT_THAT(created.status().message(), HasSubstr("expired at"));
}

// Upstream lists in etcd key order, where "/registry/secrets/a-b/" sorts
// before "/registry/secrets/a/" because '-' is below '/'.
TEST_F(RegistryTest, ListFollowsEtcdKeyOrder) {
  MustCreate(NamespacesResource(), "", Json{{"metadata", {{"name", "a-b"}}}});
  MustCreate(NamespacesResource(), "", Json{{"metadata", {{"name", "a"}}}});
  MustCreate(SecretsResource(), "a-b", Secret("s"));
  MustCreate(SecretsResource(), "a", Secret("t"));
  MustCreate(SecretsResource(), "a", Secret("s"));

  auto all = registry_->List(SecretsResource(), "");
  auto in_a = registry_->List(SecretsResource(), "a");

  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_TRUE(in_a.ok()) << in_a.status();
  EXPECT_EQ((*all)["kind"], "SecretList");
  ASSERT_EQ((*all)["items"].size(), 3u);
  EXPECT_EQ((*all)["items"][0]["metadata"]["namespace"], "a-b");
  EXPECT_EQ((*all)["items"][1]["metadata"]["namespace"], "a");
  EXPECT_EQ((*all)["items"][1]["metadata"]["name"], "s");
  EXPECT_EQ((*all)["items"][2]["metadata"]["name"], "t");
  EXPECT_EQ((*in_a)["items"].size(), 2u);
  EXPECT_EQ((*all)["metadata"]["resourceVersion"],
            std::to_string(store_->CurrentRevision()));
}

TEST_F(RegistryTest, DeleteReturnsLastStateThenNotFound) {
  Json created = MustCreate(SecretsResource(), "default", Secret("x"));

  auto deleted = registry_->Delete(SecretsResource(), "default", "x");
  auto again = registry_->Delete(SecretsResource(), "default", "x");

  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, created);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().message(), "secrets \"x\" not found");
}

TEST_F(RegistryTest, DeletingNamespaceDeletesItsSecrets) {
  MustCreate(NamespacesResource(), "", Json{{"metadata", {{"name", "team"}}}});
  MustCreate(SecretsResource(), "team", Secret("x"));

  ASSERT_TRUE(registry_->Delete(NamespacesResource(), "", "team").ok());

  EXPECT_FALSE(registry_->Get(SecretsResource(), "team", "x").ok());
}

TEST_F(RegistryTest, DefaultNamespaceCannotBeDeleted) {
  auto deleted = registry_->Delete(NamespacesResource(), "", "default");

  ASSERT_FALSE(deleted.ok());
  EXPECT_EQ(deleted.status().reason(), "Forbidden");
  EXPECT_EQ(deleted.status().message(),
            "namespaces \"default\" is forbidden: this namespace may not be "
            "deleted");
}

TEST_F(RegistryTest, StringDataMergesIntoData) {
  Json secret = Secret("x");
  secret["stringData"] = {{"user", "admin"}, {"password", "override"}};

  Json created = MustCreate(SecretsResource(), "default", secret);

  EXPECT_FALSE(created.contains("stringData"));
  EXPECT_EQ(created["data"]["user"], base::Base64Encode("admin"));
  EXPECT_EQ(created["data"]["password"], base::Base64Encode("override"));
}

TEST_F(RegistryTest, GenerateNameAddsSuffix) {
  Json secret = Secret("");
  secret["metadata"] = {{"generateName", "token-"}};

  Json created = MustCreate(SecretsResource(), "default", secret);

  std::string name = created["metadata"]["name"];
  EXPECT_THAT(name, StartsWith("token-"));
  EXPECT_EQ(name.size(), 11u);
}

TEST_F(RegistryTest, NamespaceMismatchIsBadRequest) {
  Json secret = Secret("x");
  secret["metadata"]["namespace"] = "kube-system";

  auto created = registry_->Create(SecretsResource(), "default", secret);

  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().reason(), "BadRequest");
  EXPECT_EQ(created.status().message(),
            "the namespace of the provided object does not match the "
            "namespace sent on the request");
}

TEST_F(RegistryTest, InvalidNameIsRejected) {
  EXPECT_EQ(CreateError(Secret("Bad_Name")),
            "Secret \"Bad_Name\" is invalid: metadata.name: Invalid value: "
            "\"Bad_Name\": a lowercase RFC 1123 subdomain must consist of "
            "lower case alphanumeric characters, '-' or '.', and must start "
            "and end with an alphanumeric character (e.g. 'example.com', "
            "regex used for validation is "
            "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)"
            "*')");
  EXPECT_EQ(CreateError(Secret("")),
            "Secret \"\" is invalid: metadata.name: Required value: name or "
            "generateName is required");
}

TEST_F(RegistryTest, InvalidDataKeyIsRejected) {
  Json secret = Secret("x");
  secret["data"]["a b"] = "";

  auto created = registry_->Create(SecretsResource(), "default", secret);

  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().reason(), "Invalid");
  EXPECT_EQ(created.status().message(),
            "Secret \"x\" is invalid: data[a b]: Invalid value: \"a b\": a "
            "valid config key must consist of alphanumeric characters, '-', "
            "'_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', "
            "regex used for validation is '[-._a-zA-Z0-9]+')");
}

TEST_F(RegistryTest, DotDotKeyIsRejected) {
  Json secret = Secret("x");
  secret["data"] = {{"..a", ""}};

  EXPECT_EQ(CreateError(secret),
            "Secret \"x\" is invalid: data[..a]: Invalid value: \"..a\": "
            "must not start with '..'");
}

TEST_F(RegistryTest, TlsSecretNeedsCertAndKey) {
  Json secret = Secret("tls");
  secret["type"] = "kubernetes.io/tls";

  EXPECT_EQ(CreateError(secret),
            "Secret \"tls\" is invalid: [data[tls.crt]: Required value, "
            "data[tls.key]: Required value]");

  secret["data"]["tls.crt"] = base::Base64Encode("cert");
  secret["data"]["tls.key"] = base::Base64Encode("key");
  EXPECT_EQ(CreateError(secret), "OK");
}

TEST_F(RegistryTest, BasicAuthSecretNeedsUsernameOrPassword) {
  Json secret =
      Json{{"metadata", {{"name", "b"}}}, {"type", "kubernetes.io/basic-auth"}};

  EXPECT_EQ(CreateError(secret),
            "Secret \"b\" is invalid: [data[username]: Required value, "
            "data[password]: Required value]");
}

TEST_F(RegistryTest, NonBase64DataIsBadRequest) {
  Json secret = Secret("x");
  secret["data"]["password"] = "not base64!";

  auto created = registry_->Create(SecretsResource(), "default", secret);

  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().reason(), "BadRequest");
  EXPECT_EQ(created.status().message(),
            "Secret in version \"v1\" cannot be handled as a Secret: illegal "
            "base64 data at input byte 3");
}

TEST_F(RegistryTest, TruncatedBase64IsBadRequest) {
  Json secret = Secret("x");
  secret["data"]["password"] = "aGVsbG8";

  EXPECT_EQ(CreateError(secret),
            "Secret in version \"v1\" cannot be handled as a Secret: illegal "
            "base64 data at input byte 4");
}

TEST_F(RegistryTest, DataOverOneMebibyteIsRejected) {
  Json secret = Secret("big");
  secret["data"] = {{"a", base::Base64Encode(std::string(1024 * 1024, 'x'))}};
  EXPECT_EQ(CreateError(secret), "OK");

  secret["metadata"]["name"] = "bigger";
  secret["data"]["b"] = base::Base64Encode("y");
  EXPECT_EQ(CreateError(secret),
            "Secret \"bigger\" is invalid: data: Too long: may not be more "
            "than 1048576 bytes");
}

TEST_F(RegistryTest, ImmutableSecretRejectsDataChange) {
  Json secret = Secret("x");
  secret["immutable"] = true;
  Json created = MustCreate(SecretsResource(), "default", secret);
  created["data"]["password"] = base::Base64Encode("changed");

  auto updated = registry_->Update(SecretsResource(), "default", created);

  ASSERT_FALSE(updated.ok());
  EXPECT_EQ(updated.status().message(),
            "Secret \"x\" is invalid: data: Forbidden: field is immutable "
            "when `immutable` is set");
}

TEST_F(RegistryTest, SecretTypeCannotChange) {
  Json created = MustCreate(SecretsResource(), "default", Secret("x"));
  created["type"] = "example.com/other";

  auto updated = registry_->Update(SecretsResource(), "default", created);

  ASSERT_FALSE(updated.ok());
  EXPECT_EQ(updated.status().message(),
            "Secret \"x\" is invalid: type: Invalid value: "
            "\"example.com/other\": field is immutable");
}

TEST_F(RegistryTest, InvalidNamespaceNameIsRejected) {
  auto created = registry_->Create(NamespacesResource(), "",
                                   Json{{"metadata", {{"name", "a.b"}}}});

  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().message(),
            "Namespace \"a.b\" is invalid: metadata.name: Invalid value: "
            "\"a.b\": a lowercase RFC 1123 label must consist of lower case "
            "alphanumeric characters or '-', and must start and end with an "
            "alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
            "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')");
}

TEST_F(RegistryTest, CreateWithManagerRecordsUpdateEntry) {
  auto created = registry_->Create(SecretsResource(), "default", Secret("x"),
                                   {"kubectl-create"});

  ASSERT_TRUE(created.ok()) << created.status();
  const Json entries = (*created)["metadata"]["managedFields"];
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0]["manager"], "kubectl-create");
  EXPECT_EQ(entries[0]["time"], "2026-01-02T00:00:00Z");
  EXPECT_EQ(Get("x")["metadata"]["managedFields"], entries);
}

TEST_F(RegistryTest, NamespaceFinalizerAddedByServerIsUnowned) {
  auto created =
      registry_->Create(NamespacesResource(), "",
                        Json{{"metadata", {{"name", "team"}}}}, {"creator"});

  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ((*created)["spec"]["finalizers"], Json::parse(R"(["kubernetes"])"));
  EXPECT_EQ((*created)["metadata"]["managedFields"][0]["fieldsV1"],
            Json::parse(R"({"f:metadata":{"f:labels":{".":{},)"
                        R"("f:kubernetes.io/metadata.name":{}}}})"));
}

TEST_F(RegistryTest, UpdateWithoutManagerStoresFieldsAsGiven) {
  Json created = MustCreate(SecretsResource(), "default", Secret("x"));
  Json changed = created;
  changed["metadata"]["managedFields"] =
      Json::parse(R"([{"manager":"m","operation":"Update","apiVersion":"v1",)"
                  R"("fieldsType":"FieldsV1","fieldsV1":{"f:data":{}}}])");

  auto updated = registry_->Update(SecretsResource(), "default", changed);

  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_TRUE(updated->written);
  EXPECT_EQ(Get("x")["metadata"]["managedFields"],
            changed["metadata"]["managedFields"]);
}

TEST_F(RegistryTest, ManagedFieldsOfWrongTypeAreBadRequest) {
  Json secret = Secret("x");
  secret["metadata"]["managedFields"] = "all of them";

  auto created = registry_->Create(SecretsResource(), "default", secret);

  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().message(),
            "Secret in version \"v1\" cannot be handled as a Secret: json: "
            "cannot unmarshal string into Go struct field "
            "Secret.metadata.managedFields of type []v1.ManagedFieldsEntry");
}

TEST_F(RegistryTest, ApplyCreatesThenMerges) {
  Json config = Secret("x");
  config["metadata"]["labels"] = {{"app", "web"}};
  Json second = Secret("x", "rotated");

  auto created = registry_->Apply(SecretsResource(), "default", "x", config,
                                  {"deployer", false});
  auto merged = registry_->Apply(SecretsResource(), "default", "x", second,
                                 {"deployer", false});

  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(created->created);
  EXPECT_TRUE(created->written);
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_FALSE(merged->created);
  EXPECT_TRUE(merged->written);
  const Json stored = Get("x");
  EXPECT_EQ(stored["data"]["password"], base::Base64Encode("rotated"));
  // The second configuration has no labels, so the applier's label goes.
  EXPECT_FALSE(stored["metadata"].contains("labels"));
  EXPECT_EQ(stored["metadata"]["uid"], created->object["metadata"]["uid"]);
  EXPECT_THAT(Raw("x"), StartsWith("k8s:enc:kms:v2:kp:"));
}

TEST_F(RegistryTest, ApplyRewritesValueStaleAfterRotationOnce) {
  auto created = registry_->Apply(SecretsResource(), "default", "x",
                                  Secret("x"), {"deployer", false});
  ASSERT_TRUE(created.ok()) << created.status();
  ASSERT_TRUE(kms_.Rotate(instance_id_, key_id_).ok());
  clock_.Advance(minutes(1));

  auto first = registry_->Apply(SecretsResource(), "default", "x", Secret("x"),
                                {"deployer", false});
  auto second = registry_->Apply(SecretsResource(), "default", "x", Secret("x"),
                                 {"deployer", false});

  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(first->written);
  EXPECT_FALSE(second->written);
  EXPECT_EQ(first->object["metadata"]["managedFields"],
            created->object["metadata"]["managedFields"]);
}

TEST_F(RegistryTest, ApplyStringDataOwnsStringDataKeys) {
  Json config = {{"apiVersion", "v1"},
                 {"kind", "Secret"},
                 {"metadata", {{"name", "x"}}},
                 {"stringData", {{"token", "plain"}}}};

  auto applied = registry_->Apply(SecretsResource(), "default", "x", config,
                                  {"deployer", false});

  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(applied->object["data"]["token"], base::Base64Encode("plain"));
  EXPECT_FALSE(applied->object.contains("stringData"));
  EXPECT_EQ(applied->object["metadata"]["managedFields"][0]["fieldsV1"],
            Json::parse(R"({"f:stringData":{"f:token":{}}})"));
}

// Names of the items of a list, in order.
std::vector<std::string> Names(const Json& list) {
  std::vector<std::string> names;
  for (const Json& item : list["items"]) {
    names.push_back(item["metadata"]["name"].get<std::string>());
  }
  return names;
}

class RegistryPagingTest : public RegistryTest {
 protected:
  void SetUp() override {
    RegistryTest::SetUp();
    if (HasFatalFailure()) return;
    for (const char* name : {"s1", "s2", "s3", "s4", "s5"}) {
      MustCreate(SecretsResource(), "default", Secret(name));
    }
  }

  Json MustList(const ListOptions& options, const std::string& ns = "default") {
    auto list = registry_->List(SecretsResource(), ns, options);
    EXPECT_TRUE(list.ok()) << list.status();
    return list.ok() ? *list : Json();
  }
};

TEST_F(RegistryPagingTest, LimitReturnsPagesWithContinue) {
  ListOptions first_page;
  first_page.limit = 2;
  Json first = MustList(first_page);
  ListOptions second_page = first_page;
  second_page.continue_token = first["metadata"]["continue"];
  Json second = MustList(second_page);
  ListOptions last_page = first_page;
  last_page.continue_token = second["metadata"]["continue"];
  Json last = MustList(last_page);

  EXPECT_EQ(Names(first), (std::vector<std::string>{"s1", "s2"}));
  EXPECT_EQ(first["metadata"]["remainingItemCount"], 3);
  EXPECT_EQ(Names(second), (std::vector<std::string>{"s3", "s4"}));
  EXPECT_EQ(second["metadata"]["remainingItemCount"], 1);
  EXPECT_EQ(Names(last), (std::vector<std::string>{"s5"}));
  EXPECT_FALSE(last["metadata"].contains("continue"));
  EXPECT_FALSE(last["metadata"].contains("remainingItemCount"));
  EXPECT_EQ(second["metadata"]["resourceVersion"],
            first["metadata"]["resourceVersion"]);
}

TEST_F(RegistryPagingTest, ContinueTokenHasUpstreamLayout) {
  ListOptions options;
  options.limit = 2;
  Json first = MustList(options);

  std::string text = first["metadata"]["continue"];
  std::ranges::replace(text, '-', '+');
  std::ranges::replace(text, '_', '/');
  while (text.size() % 4 != 0) text += '=';
  auto decoded = base::Base64Decode(text);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  Json token = Json::parse(*decoded);
  EXPECT_EQ(token["v"], "meta.k8s.io/v1");
  EXPECT_EQ(std::to_string(token["rv"].get<int64_t>()),
            first["metadata"]["resourceVersion"]);
  EXPECT_EQ(token["start"], std::string("s2\0", 3));
}

// Pages keep showing the revision of the first page, as a consistent
// snapshot, even when objects change in between.
TEST_F(RegistryPagingTest, LaterPagesShowFirstRevision) {
  ListOptions options;
  options.limit = 2;
  Json first = MustList(options);
  ASSERT_TRUE(registry_->Delete(SecretsResource(), "default", "s4").ok());
  MustCreate(SecretsResource(), "default", Secret("s6"));

  options.continue_token = first["metadata"]["continue"];
  options.limit = 10;
  Json rest = MustList(options);

  EXPECT_EQ(Names(rest), (std::vector<std::string>{"s3", "s4", "s5"}));
}

TEST_F(RegistryPagingTest, FilterFillsPageAndDropsRemainingCount) {
  ListOptions options;
  options.limit = 2;
  options.filter = [](const Json& item) {
    const std::string name = item["metadata"]["name"];
    return name == "s2" || name == "s4" || name == "s5";
  };

  Json first = MustList(options);
  options.continue_token = first["metadata"]["continue"];
  Json second = MustList(options);

  EXPECT_EQ(Names(first), (std::vector<std::string>{"s2", "s4"}));
  EXPECT_FALSE(first["metadata"].contains("remainingItemCount"));
  EXPECT_EQ(Names(second), (std::vector<std::string>{"s5"}));
}

TEST_F(RegistryPagingTest, CompactedContinueIsExpired) {
  ListOptions options;
  options.limit = 2;
  Json first = MustList(options);
  MustCreate(SecretsResource(), "default", Secret("s6"));
  ASSERT_TRUE(store_->Compact(store_->CurrentRevision()).ok());

  options.continue_token = first["metadata"]["continue"];
  auto expired = registry_->List(SecretsResource(), "default", options);

  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.status().reason(), "Expired");
  EXPECT_THAT(expired.status().message(),
              StartsWith("The provided continue parameter is too old to "
                         "display a consistent list result."));
}

TEST_F(RegistryPagingTest, LatestRevisionTokenContinuesAfterCompaction) {
  ListOptions options;
  options.limit = 2;
  Json first = MustList(options);
  ASSERT_TRUE(store_->Compact(store_->CurrentRevision()).ok());
  auto token = DecodeContinueToken(first["metadata"]["continue"]);
  ASSERT_TRUE(token.ok()) << token.status();

  options.continue_token = EncodeContinueToken(token->start_key, -1);
  Json rest = MustList(options);

  EXPECT_EQ(Names(rest), (std::vector<std::string>{"s3", "s4"}));
}

TEST_F(RegistryPagingTest, InvalidContinueTokensAreBadRequests) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"!!!", "invalid continue token: continue key is not valid: "},
      {EncodeContinueToken("s1", 0),
       "invalid continue token: continue key is not valid: incorrect "
       "encoded start resourceVersion (version meta.k8s.io/v1)"},
      {EncodeContinueToken("", 5),
       "invalid continue token: continue key is not valid: encoded start "
       "key empty (version meta.k8s.io/v1)"},
      {EncodeContinueToken("../kube-system/x", 5),
       "invalid continue token: continue key is not valid: "
       "../kube-system/x"},
  };
  for (const auto& [token, message] : cases) {
    ListOptions options;
    options.continue_token = token;

    auto list = registry_->List(SecretsResource(), "default", options);

    ASSERT_FALSE(list.ok()) << token;
    EXPECT_EQ(list.status().reason(), "BadRequest") << token;
    EXPECT_THAT(list.status().message(), StartsWith(message)) << token;
  }
}

TEST_F(RegistryPagingTest, ExactResourceVersionListsThatRevision) {
  Json before = MustList({});
  ASSERT_TRUE(registry_->Delete(SecretsResource(), "default", "s1").ok());

  ListOptions options;
  options.resource_version = before["metadata"]["resourceVersion"];
  options.resource_version_match = "Exact";
  Json exact = MustList(options);
  Json latest = MustList({});

  EXPECT_EQ(Names(exact).size(), 5u);
  EXPECT_EQ(exact["metadata"]["resourceVersion"],
            before["metadata"]["resourceVersion"]);
  EXPECT_EQ(Names(latest).size(), 4u);
}

TEST_F(RegistryPagingTest, CompactedExactResourceVersionIsExpired) {
  Json before = MustList({});
  ASSERT_TRUE(registry_->Delete(SecretsResource(), "default", "s1").ok());
  ASSERT_TRUE(store_->Compact(store_->CurrentRevision()).ok());

  ListOptions options;
  options.resource_version = before["metadata"]["resourceVersion"];
  options.resource_version_match = "Exact";
  auto list = registry_->List(SecretsResource(), "default", options);

  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.status().reason(), "Expired");
  EXPECT_EQ(list.status().message(),
            "The resourceVersion for the provided list is too old.");
}

TEST_F(RegistryPagingTest, FutureMinimumResourceVersionTimesOut) {
  const int64_t current = store_->CurrentRevision();
  ListOptions options;
  options.resource_version = std::to_string(current + 100);

  auto list = registry_->List(SecretsResource(), "default", options);

  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.status().reason(), "Timeout");
  EXPECT_EQ(list.status().message(),
            "Too large resource version: " + std::to_string(current + 100) +
                ", current: " + std::to_string(current));
}

TEST_F(RegistryPagingTest, ContinueWithResourceVersionIsRejected) {
  ListOptions options;
  options.limit = 2;
  Json first = MustList(options);
  options.continue_token = first["metadata"]["continue"];
  options.resource_version = "3";

  auto list = registry_->List(SecretsResource(), "default", options);

  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.status().message(),
            "specifying resource version is not allowed when using continue");
}

TEST_F(RegistryPagingTest, DeleteCollectionDeletesMatchingObjects) {
  auto deleted = registry_->DeleteCollection(
      SecretsResource(), "default",
      [](const Json& item) { return item["metadata"]["name"] != "s3"; });

  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ((*deleted)["kind"], "SecretList");
  EXPECT_EQ(Names(*deleted),
            (std::vector<std::string>{"s1", "s2", "s4", "s5"}));
  EXPECT_EQ(Names(MustList({})), (std::vector<std::string>{"s3"}));
}

TEST_F(RegistryPagingTest, WatchEndsInitialEventsWithBookmark) {
  std::vector<WatchEvent> events;
  WatchOptions options;
  options.send_initial_events = true;
  options.initial_events_end_bookmark = true;

  auto started = registry_->Watch(
      SecretsResource(), "default", options,
      [&events](const WatchEvent& event) { events.push_back(event); });

  ASSERT_TRUE(started.ok()) << started.status();
  ASSERT_EQ(events.size(), 6u);
  EXPECT_EQ(events[4].type, "ADDED");
  EXPECT_EQ(events[5].type, "BOOKMARK");
  EXPECT_EQ(events[5].object["metadata"]["resourceVersion"],
            std::to_string(started->revision));
  EXPECT_EQ(
      events[5].object["metadata"]["annotations"]["k8s.io/initial-events-end"],
      "true");
  EXPECT_EQ(started->revision, store_->CurrentRevision());
  ASSERT_TRUE(registry_->CancelWatch(started->id).ok());
}

TEST_F(RegistryPagingTest, WatchWithoutInitialEventsStartsNow) {
  std::vector<WatchEvent> events;
  WatchOptions options;
  options.send_initial_events = false;

  auto started = registry_->Watch(
      SecretsResource(), "default", options,
      [&events](const WatchEvent& event) { events.push_back(event); });
  ASSERT_TRUE(started.ok()) << started.status();
  MustCreate(SecretsResource(), "default", Secret("s6"));
  ASSERT_TRUE(registry_->CancelWatch(started->id).ok());

  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, "ADDED");
  EXPECT_EQ(events[0].object["metadata"]["name"], "s6");
}

}  // namespace
}  // namespace apiserver
