// Server-side apply and metadata.managedFields through ApiHandler: the
// requests that kubectl sends, the Status errors kube-apiserver returns
// for them, and what reaches the store and watches.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "apiserver/http_server.h"
#include "apiserver/validation.h"
#include "base/crypto.h"
#include "tests/apiserver/handler_env.h"

namespace apiserver {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kApplyType[] = "application/apply-patch+yaml";
constexpr char kKubectlUserAgent[] =
    "kubectl/v1.32.4 (linux/amd64) kubernetes/4cb5f07";

class ApplyTest : public ApiHandlerTest {
 protected:
  ApiResponse Apply(const std::string& name, const std::string& body,
                    const std::string& query = "fieldManager=deployer") {
    return Send("PATCH", std::string(kSecrets) + "/" + name + "?" + query, body,
                {{"content-type", kApplyType}});
  }

  // A Secret manifest in YAML, as a user writes it.
  static std::string SecretYaml(const std::string& name,
                                const std::string& data_lines) {
    return "apiVersion: v1\nkind: Secret\nmetadata:\n  name: " + name +
           "\ndata:\n" + data_lines;
  }

  Json Stored(const std::string& name) {
    base::StatusOr<Json> stored =
        registry_->Get(SecretsResource(), "default", name);
    return stored.ok() ? *stored : Json();
  }

  // The fieldsV1 of the entry of `manager` with `operation`, or null.
  static Json FieldsOf(const Json& object, const std::string& manager,
                       const std::string& operation) {
    for (const Json& entry :
         object["metadata"].value("managedFields", Json::array())) {
      if (entry.value("manager", "") == manager &&
          entry.value("operation", "") == operation) {
        return entry["fieldsV1"];
      }
    }
    return nullptr;
  }
};

TEST_F(ApplyTest, CreatesMissingObject) {
  clock_.Advance(std::chrono::seconds(30));

  ApiResponse response = Apply("s1",
                               "apiVersion: v1\nkind: Secret\nmetadata:\n"
                               "  name: s1\n  labels:\n    app: web\n"
                               "data:\n  password: aHVudGVyMg==\n");

  ASSERT_EQ(response.status, 201) << response.body;
  Json body = Body(response);
  EXPECT_EQ(body["data"]["password"], "aHVudGVyMg==");
  EXPECT_EQ(body["metadata"]["labels"]["app"], "web");
  EXPECT_EQ(body["type"], "Opaque");
  EXPECT_FALSE(body["metadata"].value("uid", "").empty());
  EXPECT_EQ(body["metadata"]["managedFields"],
            Json::parse(R"([{"manager":"deployer","operation":"Apply",)"
                        R"("apiVersion":"v1","time":"2026-01-02T00:00:30Z",)"
                        R"("fieldsType":"FieldsV1","fieldsV1":{"f:data":)"
                        R"({"f:password":{}},"f:metadata":{"f:labels":)"
                        R"({"f:app":{}}}}}])"));
  EXPECT_EQ(Stored("s1")["metadata"]["resourceVersion"],
            body["metadata"]["resourceVersion"]);
}

TEST_F(ApplyTest, AppliedSecretIsEncryptedAtRest) {
  ApiResponse response =
      Apply("s1", SecretYaml("s1", "  password: aHVudGVyMg==\n"));
  base::StatusOr<std::string> raw =
      registry_->RawValue(SecretsResource(), "default", "s1");

  ASSERT_EQ(response.status, 201) << response.body;
  ASSERT_TRUE(raw.ok()) << raw.status();
  EXPECT_THAT(*raw, StartsWith(kms_transformer_->prefix()));
  EXPECT_THAT(*raw, ::testing::Not(HasSubstr("aHVudGVyMg==")));
  EXPECT_THAT(*raw, ::testing::Not(HasSubstr("deployer")));
}

TEST_F(ApplyTest, MissingFieldManagerIsInvalid) {
  ApiResponse response = Apply("s1", SecretYaml("s1", "  a: MQ==\n"), "");

  EXPECT_EQ(response.status, 422);
  EXPECT_EQ(Body(response)["reason"], "Invalid");
  EXPECT_EQ(Body(response)["message"],
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required "
            "value: is required for apply patch");
  EXPECT_TRUE(Stored("s1").is_null());
}

TEST_F(ApplyTest, ForceOnMergePatchIsForbidden) {
  Send("POST", kSecrets, SecretJson("s1"));

  ApiResponse response =
      Send("PATCH", std::string(kSecrets) + "/s1?force=false", "{}",
           {{"content-type", "application/merge-patch+json"}});

  EXPECT_EQ(response.status, 422);
  EXPECT_EQ(Body(response)["message"],
            "PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may "
            "not be specified for non-apply patch");
}

TEST_F(ApplyTest, FieldManagerErrorsAreListedTogether) {
  const std::string long_name(129, 'm');

  ApiResponse too_long =
      Send("POST",
           std::string(kSecrets) + "?fieldManager=" + long_name +
               "&fieldValidation=Loose",
           SecretJson("s1"));
  ApiResponse unprintable =
      Send("PUT", std::string(kSecrets) + "/s1?fieldManager=a%01b",
           SecretJson("s1"));

  EXPECT_EQ(too_long.status, 422);
  EXPECT_EQ(Body(too_long)["message"],
            "CreateOptions.meta.k8s.io \"\" is invalid: [fieldManager: Too "
            "long: may not be more than 128 bytes, fieldValidation: "
            "Unsupported value: \"Loose\": supported values: \"\", "
            "\"Ignore\", \"Strict\", \"Warn\"]");
  EXPECT_EQ(unprintable.status, 422);
  EXPECT_EQ(Body(unprintable)["message"],
            "UpdateOptions.meta.k8s.io \"\" is invalid: fieldManager: Invalid "
            "value: \"a\\x01b\": invalid character U+0001 (at position 1)");
}

TEST_F(ApplyTest, WritesRecordManagerFromQueryOrUserAgent) {
  Send("POST", std::string(kSecrets) + "?fieldManager=kubectl-create",
       SecretJson("by-query"));
  Send("POST", kSecrets, SecretJson("by-agent"),
       {{"user-agent", kKubectlUserAgent}});
  Send("POST", kSecrets, SecretJson("anonymous"));

  EXPECT_EQ(FieldsOf(Stored("by-query"), "kubectl-create", "Update"),
            Json::parse(R"({"f:data":{".":{},"f:password":{}},"f:type":{}})"));
  EXPECT_EQ(Stored("by-agent")["metadata"]["managedFields"][0]["manager"],
            "kubectl");
  // Without either there is no name, which the entry then leaves out.
  const Json anonymous = Stored("anonymous")["metadata"]["managedFields"][0];
  EXPECT_FALSE(anonymous.contains("manager")) << anonymous.dump();
  EXPECT_EQ(anonymous["operation"], "Update");
}

TEST_F(ApplyTest, PatchAndReplaceRecordTheirManagers) {
  Send("POST", std::string(kSecrets) + "?fieldManager=kubectl-create",
       SecretJson("s1"));
  clock_.Advance(std::chrono::minutes(1));

  Send("PATCH", std::string(kSecrets) + "/s1?fieldManager=kubectl-label",
       R"({"metadata":{"labels":{"tier":"db"}}})",
       {{"content-type", "application/merge-patch+json"}});
  Json object = Stored("s1");
  object["data"]["password"] = base::Base64Encode("changed");
  Send("PUT", std::string(kSecrets) + "/s1?fieldManager=kubectl-replace",
       object.dump());

  const Json stored = Stored("s1");
  // The creator keeps the data map itself and the type.
  EXPECT_EQ(FieldsOf(stored, "kubectl-create", "Update"),
            Json::parse(R"({"f:data":{},"f:type":{}})"));
  EXPECT_EQ(FieldsOf(stored, "kubectl-label", "Update"),
            Json::parse(R"({"f:metadata":{"f:labels":{".":{},"f:tier":{}}}})"));
  EXPECT_EQ(FieldsOf(stored, "kubectl-replace", "Update"),
            Json::parse(R"({"f:data":{"f:password":{}}})"));
  EXPECT_EQ(stored["metadata"]["managedFields"][2]["time"],
            "2026-01-02T00:01:00Z");
}

TEST_F(ApplyTest, ReplaceWithoutManagedFieldsKeepsThem) {
  Json created =
      Body(Send("POST", std::string(kSecrets) + "?fieldManager=kubectl-create",
                SecretJson("s1")));
  Json replaced = created;
  replaced["metadata"].erase("managedFields");
  replaced["data"]["other"] = "eA==";

  ApiResponse response =
      Send("PUT", std::string(kSecrets) + "/s1?fieldManager=editor",
           replaced.dump());

  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(FieldsOf(Body(response), "kubectl-create", "Update"),
            Json::parse(R"({"f:data":{".":{},"f:password":{}},"f:type":{}})"));
  EXPECT_EQ(FieldsOf(Body(response), "editor", "Update"),
            Json::parse(R"({"f:data":{"f:other":{}}})"));
}

TEST_F(ApplyTest, EmptyManagedFieldsEntryClearsThem) {
  Send("POST", std::string(kSecrets) + "?fieldManager=kubectl-create",
       SecretJson("s1"));

  ApiResponse response =
      Send("PATCH", std::string(kSecrets) + "/s1",
           R"({"metadata":{"managedFields":[{}]}})",
           {{"content-type", "application/merge-patch+json"}});

  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_FALSE(Body(response)["metadata"].contains("managedFields"));
  EXPECT_FALSE(Stored("s1")["metadata"].contains("managedFields"));
}

TEST_F(ApplyTest, TimestampOnlyChangeIsNotWritten) {
  Json created =
      Body(Send("POST", std::string(kSecrets) + "?fieldManager=kubectl-create",
                SecretJson("s1")));
  Json same = created;
  same["metadata"]["managedFields"][0]["time"] = "2030-01-01T00:00:00Z";

  ApiResponse response =
      Send("PUT", std::string(kSecrets) + "/s1", same.dump());

  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(Body(response)["metadata"]["resourceVersion"],
            created["metadata"]["resourceVersion"]);
  EXPECT_EQ(Stored("s1")["metadata"]["managedFields"][0]["time"],
            created["metadata"]["managedFields"][0]["time"]);
}

TEST_F(ApplyTest, ConflictIs409WithCauses) {
  Send("POST",
       std::string(kSecrets) + "?fieldManager=kubectl-client-side-apply",
       SecretJson("s1"));
  const Json before = Stored("s1");

  ApiResponse response =
      Apply("s1", SecretYaml("s1", "  password: Y2hhbmdlZA==\n"),
            "fieldManager=deployer&force=false");

  EXPECT_EQ(response.status, 409);
  EXPECT_EQ(Body(response),
            Json::parse(R"({"kind":"Status","apiVersion":"v1","metadata":{},)"
                        R"("status":"Failure","message":"Apply failed with 1 )"
                        R"(conflict: conflict with \"kubectl-client-side-)"
                        R"(apply\" using v1: .data.password","reason":)"
                        R"("Conflict","details":{"causes":[{"type":)"
                        R"("FieldManagerConflict","message":"conflict with )"
                        R"(\"kubectl-client-side-apply\" using v1","field":)"
                        R"(".data.password"}]},"code":409})"));
  EXPECT_EQ(Stored("s1"), before);
}

TEST_F(ApplyTest, ForceTakesOwnership) {
  Send("POST",
       std::string(kSecrets) + "?fieldManager=kubectl-client-side-apply",
       SecretJson("s1"));

  ApiResponse response =
      Apply("s1", SecretYaml("s1", "  password: Y2hhbmdlZA==\n"),
            "fieldManager=deployer&force=true");

  ASSERT_EQ(response.status, 200) << response.body;
  const Json stored = Stored("s1");
  EXPECT_EQ(stored["data"]["password"], "Y2hhbmdlZA==");
  EXPECT_EQ(FieldsOf(stored, "deployer", "Apply"),
            Json::parse(R"({"f:data":{"f:password":{}}})"));
  EXPECT_EQ(FieldsOf(stored, "kubectl-client-side-apply", "Update"),
            Json::parse(R"({"f:data":{},"f:type":{}})"));
}

TEST_F(ApplyTest, DroppedFieldIsRemovedOthersStay) {
  Apply("s1", SecretYaml("s1", "  a: MQ==\n  b: Mg==\n"));
  Send("PATCH", std::string(kSecrets) + "/s1?fieldManager=kubectl-patch",
       R"({"data":{"c":"Mw=="}})",
       {{"content-type", "application/strategic-merge-patch+json"}});

  ApiResponse response = Apply("s1", SecretYaml("s1", "  a: MQ==\n"));

  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(Stored("s1")["data"], Json::parse(R"({"a":"MQ==","c":"Mw=="})"));
}

TEST_F(ApplyTest, UnchangedApplyWritesNothing) {
  const std::string manifest = SecretYaml("s1", "  a: MQ==\n");
  Json first = Body(Apply("s1", manifest));
  clock_.Advance(std::chrono::minutes(5));

  ApiResponse again = Apply("s1", manifest);

  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(Body(again)["metadata"]["resourceVersion"],
            first["metadata"]["resourceVersion"]);
  EXPECT_EQ(Stored("s1")["metadata"]["managedFields"][0]["time"],
            "2026-01-02T00:00:00Z");
}

TEST_F(ApplyTest, WatchSeesAppliedChanges) {
  StreamCollector collector;
  ApiResponse watch = Send("GET", std::string(kSecrets) + "?watch=1");
  ASSERT_TRUE(watch.stream);
  std::function<void()> stop = watch.stream(collector.Sink());

  Apply("s1", SecretYaml("s1", "  a: MQ==\n"));
  Apply("s1", SecretYaml("s1", "  a: Mg==\n"));
  Apply("s1", SecretYaml("s1", "  a: Mg==\n"));
  stop();

  EXPECT_EQ(collector.Summary(),
            (std::vector<std::string>{"ADDED s1", "MODIFIED s1"}));
  std::vector<Json> events = collector.events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1]["object"]["data"]["a"], "Mg==");
  EXPECT_EQ(events[1]["object"]["metadata"]["managedFields"][0]["manager"],
            "deployer");
}

TEST_F(ApplyTest, UnknownFieldIs500WithoutReason) {
  ApiResponse response =
      Apply("s1", SecretYaml("s1", "  a: MQ==\n") + "spec:\n  replicas: 1\n");

  EXPECT_EQ(response.status, 500);
  const Json body = Body(response);
  EXPECT_FALSE(body.contains("reason")) << response.body;
  EXPECT_EQ(body["message"],
            "failed to create typed patch object (/s1; /v1, Kind=Secret): "
            ".spec: field not declared in schema");
  EXPECT_TRUE(Stored("s1").is_null());
}

TEST_F(ApplyTest, InvalidSecretIsNotStored) {
  const std::string tls =
      "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s1\n"
      "type: kubernetes.io/tls\ndata:\n  tls.crt: MQ==\n";

  ApiResponse response = Apply("s1", tls);

  EXPECT_EQ(response.status, 422);
  EXPECT_EQ(Body(response)["message"],
            "Secret \"s1\" is invalid: data[tls.key]: Required value");
  EXPECT_TRUE(Stored("s1").is_null());
}

TEST_F(ApplyTest, DataOverOneMebibyteIsRejected) {
  Apply("s1", SecretYaml("s1", "  a: MQ==\n"));
  const Json before = Stored("s1");
  const std::string large =
      base::Base64Encode(std::string(kMaxDataSize + 1, 'x'));

  ApiResponse response = Apply("s1", SecretYaml("s1", "  a: " + large + "\n"));

  EXPECT_EQ(response.status, 422);
  EXPECT_EQ(Body(response)["message"],
            "Secret \"s1\" is invalid: data: Too long: may not be more than "
            "1048576 bytes");
  EXPECT_EQ(Stored("s1"), before);
}

TEST_F(ApplyTest, TypeChangeIsRejected) {
  Apply("s1", SecretYaml("s1", "  a: MQ==\n"));

  ApiResponse response = Apply("s1", SecretYaml("s1", "  username: MQ==\n") +
                                         "type: kubernetes.io/basic-auth\n");

  EXPECT_EQ(response.status, 422);
  EXPECT_THAT(Body(response)["message"].get<std::string>(),
              HasSubstr("type: Invalid value: \"kubernetes.io/basic-auth\": "
                        "field is immutable"));
}

TEST_F(ApplyTest, DuplicateKeysFollowFieldValidation) {
  const std::string repeated = SecretYaml("s1", "  a: MQ==\n  a: Mg==\n");

  ApiResponse strict =
      Apply("s1", repeated, "fieldManager=deployer&fieldValidation=Strict");
  ApiResponse warned = Apply("s1", repeated);

  EXPECT_EQ(strict.status, 400);
  EXPECT_EQ(Body(strict)["message"],
            "error strict decoding YAML: error converting YAML to JSON: yaml: "
            "unmarshal errors:\n  line 7: key \"a\" already set in map");
  ASSERT_EQ(warned.status, 201) << warned.body;
  ASSERT_EQ(warned.headers.size(), 1u);
  EXPECT_EQ(warned.headers[0].first, "Warning");
  EXPECT_THAT(warned.headers[0].second,
              HasSubstr("line 7: key \\\"a\\\" already set in map"));
  EXPECT_EQ(Stored("s1")["data"]["a"], "Mg==");
}

TEST_F(ApplyTest, ObjectMustMatchRequest) {
  const std::string config_map =
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: s1\n";

  ApiResponse wrong_kind = Apply("s1", config_map);
  ApiResponse wrong_name = Apply("s1", SecretYaml("other", "  a: MQ==\n"));
  ApiResponse no_name =
      Apply("s1", "apiVersion: v1\nkind: Secret\ndata:\n  a: MQ==\n");
  ApiResponse fields =
      Apply("s1",
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s1\n"
            "  managedFields: []\n");
  ApiResponse not_yaml = Apply("s1", "a: [");

  EXPECT_EQ(wrong_kind.status, 400);
  EXPECT_EQ(Body(wrong_kind)["message"],
            "invalid object type: /v1, Kind=ConfigMap");
  EXPECT_EQ(wrong_name.status, 400);
  EXPECT_EQ(Body(wrong_name)["message"],
            "the name of the object (other) does not match the name on the "
            "URL (s1)");
  EXPECT_EQ(no_name.status, 400);
  EXPECT_EQ(Body(no_name)["message"],
            "the name of the object (s1 based on URL) was undeterminable: "
            "name must be provided");
  EXPECT_EQ(fields.status, 400);
  EXPECT_EQ(Body(fields)["message"], "metadata.managedFields must be nil");
  EXPECT_EQ(not_yaml.status, 400);
  EXPECT_THAT(Body(not_yaml)["message"].get<std::string>(),
              StartsWith("error decoding YAML: error converting YAML to JSON"));
  EXPECT_TRUE(Stored("s1").is_null());
}

TEST_F(ApplyTest, StaleResourceVersionConflicts) {
  Json created = Body(Apply("s1", SecretYaml("s1", "  a: MQ==\n")));
  Apply("s1", SecretYaml("s1", "  a: Mg==\n"));
  const std::string stale =
      "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s1\n"
      "  resourceVersion: \"" +
      created["metadata"]["resourceVersion"].get<std::string>() +
      "\"\ndata:\n  a: Mw==\n";

  ApiResponse response = Apply("s1", stale);

  EXPECT_EQ(response.status, 409);
  EXPECT_EQ(Body(response)["message"],
            "Operation cannot be fulfilled on secrets \"s1\": the object has "
            "been modified; please apply your changes to the latest version "
            "and try again");
  EXPECT_EQ(Stored("s1")["data"]["a"], "Mg==");
}

TEST_F(ApplyTest, UidOnMissingObjectConflicts) {
  ApiResponse response =
      Apply("s1",
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s1\n"
            "  uid: 0d6a2f2c-0000-4000-8000-000000000000\n");

  EXPECT_EQ(response.status, 409);
  EXPECT_EQ(Body(response)["message"],
            "Operation cannot be fulfilled on secrets \"s1\": uid mismatch: "
            "the provided object specified uid "
            "0d6a2f2c-0000-4000-8000-000000000000, and no existing object "
            "was found");
}

TEST_F(ApplyTest, MissingNamespaceIsNotFound) {
  ApiResponse response = Send(
      "PATCH", "/api/v1/namespaces/absent/secrets/s1?fieldManager=deployer",
      SecretYaml("s1", "  a: MQ==\n"), {{"content-type", kApplyType}});

  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(Body(response)["message"], "namespaces \"absent\" not found");
}

TEST_F(ApplyTest, NamespaceApplyOwnsNoServerFields) {
  ApiResponse response =
      Send("PATCH", "/api/v1/namespaces/team?fieldManager=deployer",
           "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team\n"
           "  labels:\n    owner: payments\n",
           {{"content-type", kApplyType}});

  ASSERT_EQ(response.status, 201) << response.body;
  const Json body = Body(response);
  EXPECT_EQ(body["metadata"]["labels"]["kubernetes.io/metadata.name"], "team");
  EXPECT_EQ(body["spec"]["finalizers"], Json::parse(R"(["kubernetes"])"));
  EXPECT_EQ(FieldsOf(body, "deployer", "Apply"),
            Json::parse(R"({"f:metadata":{"f:labels":{"f:owner":{}}}})"));
}

TEST_F(ApplyTest, UnknownPatchTypeListsApply) {
  Send("POST", kSecrets, SecretJson("s1"));

  ApiResponse response = Send("PATCH", std::string(kSecrets) + "/s1", "{}",
                              {{"content-type", "text/plain"}});

  EXPECT_EQ(response.status, 415);
  EXPECT_EQ(Body(response)["message"],
            "the body of the request was in an unknown format - accepted "
            "media types include: application/json-patch+json, "
            "application/merge-patch+json, "
            "application/strategic-merge-patch+json, "
            "application/apply-patch+yaml");
}

}  // namespace
}  // namespace apiserver
