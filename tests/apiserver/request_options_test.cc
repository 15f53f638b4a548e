// Request options against the ApiHandler: dryRun on every write,
// DeleteOptions, label and field selectors, the causes of Invalid
// responses and JSON patch errors, each with upstream's status and text.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "apiserver/http_server.h"
#include "base/crypto.h"
#include "tests/apiserver/handler_env.h"

namespace apiserver {
namespace {

using ::testing::StartsWith;

const std::string kSecret = std::string(kSecrets) + "/s1";

class RequestOptionsTest : public ApiHandlerTest {
 protected:
  // Creates Secret s1 and returns it as stored.
  Json CreateS1() {
    ApiResponse created = Send("POST", kSecrets, SecretJson("s1"));
    EXPECT_EQ(created.status, 201) << created.body;
    return Body(created);
  }

  std::string StoredPassword() {
    auto secret = registry_->Get(SecretsResource(), "default", "s1");
    if (!secret.ok()) return "missing";
    auto decoded =
        base::Base64Decode((*secret)["data"].value("password", std::string()));
    return decoded.ok() ? *decoded : "invalid base64";
  }

  // Creates a Secret with the given labels.
  void CreateLabeled(const std::string& name, const Json& labels) {
    Json secret = Json::parse(SecretJson(name));
    if (!labels.empty()) secret["metadata"]["labels"] = labels;
    ASSERT_EQ(Send("POST", kSecrets, secret.dump()).status, 201);
  }

  // The names that a list with `query` returns, or the Status message.
  std::vector<std::string> ListNames(const std::string& query) {
    ApiResponse response = Send("GET", std::string(kSecrets) + "?" + query);
    std::vector<std::string> names;
    if (response.status != 200) {
      names.push_back(std::to_string(response.status) + " " +
                      Body(response).value("message", ""));
      return names;
    }
    const Json list = Body(response);
    for (const Json& item : list["items"]) {
      names.push_back(item["metadata"]["name"].get<std::string>());
    }
    return names;
  }
};

TEST_F(RequestOptionsTest, DryRunCreateStoresNothing) {
  const int64_t revision = store_->CurrentRevision();

  ApiResponse created =
      Send("POST", std::string(kSecrets) + "?dryRun=All", SecretJson("s1"));

  ASSERT_EQ(created.status, 201) << created.body;
  Json body = Body(created);
  EXPECT_EQ(body["metadata"]["name"], "s1");
  EXPECT_FALSE(body["metadata"].value("uid", "").empty());
  EXPECT_FALSE(body["metadata"].value("creationTimestamp", "").empty());
  EXPECT_FALSE(body["metadata"].contains("resourceVersion"));
  EXPECT_EQ(store_->CurrentRevision(), revision);
  EXPECT_EQ(Send("GET", kSecret).status, 404);
}

TEST_F(RequestOptionsTest, DryRunCreateStillValidates) {
  CreateS1();
  const int64_t revision = store_->CurrentRevision();
  Json bad = Json::parse(SecretJson("Bad_Name"));

  ApiResponse invalid =
      Send("POST", std::string(kSecrets) + "?dryRun=All", bad.dump());
  ApiResponse exists =
      Send("POST", std::string(kSecrets) + "?dryRun=All", SecretJson("s1"));
  ApiResponse no_namespace = Send(
      "POST", "/api/v1/namespaces/missing/secrets?dryRun=All", SecretJson("x"));

  EXPECT_EQ(invalid.status, 422);
  EXPECT_EQ(exists.status, 409);
  EXPECT_EQ(Body(exists)["reason"], "AlreadyExists");
  EXPECT_EQ(no_namespace.status, 404);
  EXPECT_EQ(store_->CurrentRevision(), revision);
}

TEST_F(RequestOptionsTest, DryRunUpdateAndPatchesStoreNothing) {
  Json stored = CreateS1();
  const int64_t revision = store_->CurrentRevision();
  const std::string new_password = base::Base64Encode("changed");
  Json replaced = stored;
  replaced["data"]["password"] = new_password;
  const std::string merge = Json{{"data", {{"password", new_password}}}}.dump();
  const std::string json_patch = Json::array({{{"op", "replace"},
                                               {"path", "/data/password"},
                                               {"value", new_password}}})
                                     .dump();
  const std::string apply = Json{{"apiVersion", "v1"},
                                 {"kind", "Secret"},
                                 {"metadata", {{"name", "s1"}}},
                                 {"data", {{"password", new_password}}}}
                                .dump();
  struct Write {
    std::string method;
    std::string content_type;
    std::string query;
    std::string body;
  };
  const std::vector<Write> writes = {
      {"PUT", "application/json", "", replaced.dump()},
      {"PATCH", "application/merge-patch+json", "", merge},
      {"PATCH", "application/strategic-merge-patch+json", "", merge},
      {"PATCH", "application/json-patch+json", "", json_patch},
      {"PATCH", "application/apply-patch+yaml", "&fieldManager=test&force=true",
       apply},
  };

  for (const Write& write : writes) {
    ApiResponse response =
        Send(write.method, kSecret + "?dryRun=All" + write.query, write.body,
             {{"content-type", write.content_type}});

    EXPECT_EQ(response.status, 200) << write.content_type << response.body;
    EXPECT_EQ(Body(response)["data"]["password"], new_password)
        << write.content_type;
    EXPECT_EQ(Body(response)["metadata"]["resourceVersion"],
              stored["metadata"]["resourceVersion"])
        << write.content_type;
    EXPECT_EQ(store_->CurrentRevision(), revision) << write.content_type;
    EXPECT_EQ(StoredPassword(), "hunter2") << write.content_type;
  }
}

TEST_F(RequestOptionsTest, DryRunApplyCreateStoresNothing) {
  const int64_t revision = store_->CurrentRevision();

  ApiResponse applied =
      Send("PATCH", kSecret + "?dryRun=All&fieldManager=m", SecretJson("s1"),
           {{"content-type", "application/apply-patch+yaml"}});

  EXPECT_EQ(applied.status, 201) << applied.body;
  EXPECT_FALSE(Body(applied)["metadata"].contains("resourceVersion"));
  EXPECT_EQ(store_->CurrentRevision(), revision);
  EXPECT_EQ(Send("GET", kSecret).status, 404);
}

TEST_F(RequestOptionsTest, DryRunDeleteKeepsObject) {
  CreateS1();
  const int64_t revision = store_->CurrentRevision();
  // kubectl delete --dry-run=server sends the options in the body.
  const std::string kubectl_body =
      R"({"kind":"DeleteOptions","apiVersion":"v1",)"
      R"("propagationPolicy":"Background","dryRun":["All"]})";

  ApiResponse by_query = Send("DELETE", kSecret + "?dryRun=All");
  ApiResponse by_body = Send("DELETE", kSecret, kubectl_body,
                             {{"content-type", "application/json"}});
  ApiResponse collection =
      Send("DELETE", std::string(kSecrets) + "?dryRun=All");
  ApiResponse namespace_delete =
      Send("DELETE", "/api/v1/namespaces/kube-node-lease?dryRun=All");

  EXPECT_EQ(by_query.status, 200) << by_query.body;
  EXPECT_EQ(Body(by_query)["status"], "Success");
  EXPECT_EQ(by_body.status, 200) << by_body.body;
  EXPECT_EQ(Body(by_body)["details"]["name"], "s1");
  ASSERT_EQ(collection.status, 200) << collection.body;
  EXPECT_EQ(Body(collection)["items"].size(), 1u);
  EXPECT_EQ(namespace_delete.status, 200) << namespace_delete.body;
  EXPECT_EQ(store_->CurrentRevision(), revision);
  EXPECT_EQ(StoredPassword(), "hunter2");
  EXPECT_EQ(Send("GET", "/api/v1/namespaces/kube-node-lease").status, 200);
}

TEST_F(RequestOptionsTest, UnknownDryRunValueIsInvalid) {
  CreateS1();
  const int64_t revision = store_->CurrentRevision();

  ApiResponse create =
      Send("POST", std::string(kSecrets) + "?dryRun=Some", SecretJson("s2"));
  ApiResponse del = Send("DELETE", kSecret, R"({"dryRun":["All","x"]})",
                         {{"content-type", "application/json"}});

  EXPECT_EQ(create.status, 422);
  EXPECT_EQ(Body(create)["message"],
            "CreateOptions.meta.k8s.io \"\" is invalid: dryRun: Unsupported "
            "value: []string{\"Some\"}: supported values: \"All\"");
  EXPECT_EQ(Body(create)["details"]["kind"], "CreateOptions");
  EXPECT_EQ(Body(create)["details"]["group"], "meta.k8s.io");
  EXPECT_EQ(del.status, 422);
  EXPECT_EQ(Body(del)["message"],
            "DeleteOptions.meta.k8s.io \"\" is invalid: dryRun: Unsupported "
            "value: []string{\"All\", \"x\"}: supported values: \"All\"");
  EXPECT_EQ(store_->CurrentRevision(), revision);
}

TEST_F(RequestOptionsTest, RepeatedDryRunValuesAreAllChecked) {
  CreateS1();
  const int64_t revision = store_->CurrentRevision();
  const std::string unsupported =
      "is invalid: dryRun: Unsupported value: []string{\"Bad\", \"All\"}: "
      "supported values: \"All\"";

  ApiResponse del = Send("DELETE", kSecret + "?dryRun=Bad&dryRun=All");
  ApiResponse delete_reversed =
      Send("DELETE", kSecret + "?dryRun=All&dryRun=x");
  ApiResponse create =
      Send("POST", std::string(kSecrets) + "?dryRun=Bad&dryRun=All",
           SecretJson("s2"));
  ApiResponse update =
      Send("PUT", kSecret + "?dryRun=Bad&dryRun=All", SecretJson("s1"));
  ApiResponse both_all =
      Send("POST", std::string(kSecrets) + "?dryRun=All&dryRun=All",
           SecretJson("s3"));

  EXPECT_EQ(del.status, 422) << del.body;
  EXPECT_EQ(Body(del)["message"],
            "DeleteOptions.meta.k8s.io \"\" " + unsupported);
  EXPECT_EQ(delete_reversed.status, 422) << delete_reversed.body;
  EXPECT_EQ(Body(delete_reversed)["message"],
            "DeleteOptions.meta.k8s.io \"\" is invalid: dryRun: Unsupported "
            "value: []string{\"All\", \"x\"}: supported values: \"All\"");
  EXPECT_EQ(create.status, 422) << create.body;
  EXPECT_EQ(Body(create)["message"],
            "CreateOptions.meta.k8s.io \"\" " + unsupported);
  EXPECT_EQ(update.status, 422) << update.body;
  EXPECT_EQ(Body(update)["message"],
            "UpdateOptions.meta.k8s.io \"\" " + unsupported);
  EXPECT_EQ(both_all.status, 201) << both_all.body;
  EXPECT_EQ(store_->CurrentRevision(), revision);
  EXPECT_EQ(Send("GET", kSecret).status, 200);
}

TEST_F(RequestOptionsTest, DeletePreconditionsMustMatch) {
  Json stored = CreateS1();
  const std::string uid = stored["metadata"]["uid"];
  const std::string version = stored["metadata"]["resourceVersion"];
  const int64_t revision = store_->CurrentRevision();

  ApiResponse wrong_uid =
      Send("DELETE", kSecret, R"({"preconditions":{"uid":"other"}})");
  ApiResponse wrong_version =
      Send("DELETE", kSecret, R"({"preconditions":{"resourceVersion":"1"}})");
  const int64_t after_conflicts = store_->CurrentRevision();
  ApiResponse matching =
      Send("DELETE", kSecret,
           Json{{"preconditions", {{"uid", uid}, {"resourceVersion", version}}}}
               .dump());

  EXPECT_EQ(wrong_uid.status, 409);
  EXPECT_EQ(Body(wrong_uid)["reason"], "Conflict");
  EXPECT_EQ(Body(wrong_uid)["message"],
            "Operation cannot be fulfilled on Secret \"s1\": the UID in the "
            "precondition (other) does not match the UID in record (" +
                uid +
                "). The object might have been deleted and then recreated");
  EXPECT_EQ(Body(wrong_uid)["details"]["kind"], "Secret");
  EXPECT_EQ(wrong_version.status, 409);
  EXPECT_EQ(Body(wrong_version)["message"],
            "Operation cannot be fulfilled on Secret \"s1\": the "
            "ResourceVersion in the precondition (1) does not match the "
            "ResourceVersion in record (" +
                version + "). The object might have been modified");
  EXPECT_EQ(after_conflicts, revision);
  EXPECT_EQ(matching.status, 200) << matching.body;
  EXPECT_EQ(Send("GET", kSecret).status, 404);
}

TEST_F(RequestOptionsTest, UpdateUidPreconditionNamesBothUids) {
  Json stored = CreateS1();
  Json replaced = stored;
  replaced["metadata"]["uid"] = "other";

  ApiResponse updated = Send("PUT", kSecret, replaced.dump(),
                             {{"content-type", "application/json"}});

  EXPECT_EQ(updated.status, 409);
  EXPECT_EQ(Body(updated)["message"],
            "Operation cannot be fulfilled on secrets \"s1\": StorageError: "
            "invalid object, Code: 4, Key: /registry/secrets/default/s1, "
            "ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: UID "
            "in precondition: other, UID in object meta: " +
                stored["metadata"]["uid"].get<std::string>());
}

TEST_F(RequestOptionsTest, DeleteQueryOptionsAreChecked) {
  CreateS1();
  const int64_t revision = store_->CurrentRevision();

  ApiResponse grace = Send("DELETE", kSecret + "?gracePeriodSeconds=abc");
  ApiResponse policy = Send("DELETE", kSecret + "?propagationPolicy=Later");
  ApiResponse bad_body =
      Send("DELETE", kSecret, R"({"gracePeriodSeconds":"x"})");
  ApiResponse collection =
      Send("DELETE", std::string(kSecrets) + "?gracePeriodSeconds=1.5");
  const int64_t after_errors = store_->CurrentRevision();
  ApiResponse deleted = Send("DELETE", kSecret + "?gracePeriodSeconds=0");

  EXPECT_EQ(grace.status, 400);
  EXPECT_EQ(Body(grace)["reason"], "BadRequest");
  EXPECT_EQ(Body(grace)["message"],
            "strconv.ParseInt: parsing \"abc\": invalid syntax");
  EXPECT_EQ(policy.status, 422);
  EXPECT_EQ(Body(policy)["message"],
            "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: "
            "Unsupported value: \"Later\": supported values: \"Foreground\", "
            "\"Background\", \"Orphan\", \"nil\"");
  EXPECT_EQ(bad_body.status, 500);
  EXPECT_EQ(Body(bad_body)["message"],
            "json: cannot unmarshal string into Go struct field "
            "DeleteOptions.gracePeriodSeconds of type int64");
  EXPECT_EQ(collection.status, 400);
  EXPECT_EQ(after_errors, revision);
  EXPECT_EQ(deleted.status, 200) << deleted.body;
}

TEST_F(RequestOptionsTest, InvalidResponseHasCauses) {
  Json secret = Json::parse(SecretJson("Bad_Name"));
  secret["data"]["a b"] = "YQ==";

  ApiResponse response = Send("POST", kSecrets, secret.dump());

  ASSERT_EQ(response.status, 422);
  Json details = Body(response)["details"];
  EXPECT_EQ(details["name"], "Bad_Name");
  EXPECT_EQ(details["kind"], "Secret");
  ASSERT_EQ(details["causes"].size(), 2u) << response.body;
  EXPECT_EQ(details["causes"][0]["reason"], "FieldValueInvalid");
  EXPECT_EQ(details["causes"][0]["field"], "metadata.name");
  EXPECT_THAT(details["causes"][0]["message"].get<std::string>(),
              StartsWith("Invalid value: \"Bad_Name\": a lowercase RFC 1123 "
                         "subdomain"));
  EXPECT_EQ(details["causes"][1]["field"], "data[a b]");
}

TEST_F(RequestOptionsTest, RequiredAndTooLongCauses) {
  Json tls = Json::parse(SecretJson("tls"));
  tls["type"] = "kubernetes.io/tls";
  Json config_map = {{"apiVersion", "v1"},
                     {"kind", "ConfigMap"},
                     {"metadata", {{"name", "big"}}},
                     {"data", {{"a", std::string(1024 * 1024 + 1, 'x')}}}};

  ApiResponse missing = Send("POST", kSecrets, tls.dump());
  ApiResponse too_long =
      Send("POST", "/api/v1/namespaces/default/configmaps", config_map.dump());

  ASSERT_EQ(missing.status, 422);
  EXPECT_EQ(Body(missing)["details"]["causes"][0],
            Json({{"reason", "FieldValueRequired"},
                  {"message", "Required value"},
                  {"field", "data[tls.crt]"}}));
  ASSERT_EQ(too_long.status, 422);
  // Upstream reports the whole ConfigMap as the path "", printed "[]".
  EXPECT_EQ(Body(too_long)["message"],
            "ConfigMap \"big\" is invalid: []: Too long: may not be more than "
            "1048576 bytes");
  EXPECT_EQ(Body(too_long)["details"]["causes"][0],
            Json({{"reason", "FieldValueTooLong"},
                  {"message", "Too long: may not be more than 1048576 bytes"},
                  {"field", "[]"}}));
}

TEST_F(RequestOptionsTest, LabelSelectorOperators) {
  CreateLabeled("a", {{"team", "a"}, {"tier", "1"}});
  CreateLabeled("b", {{"team", "b"}, {"tier", "3"}});
  CreateLabeled("c", Json::object());

  using Names = std::vector<std::string>;
  EXPECT_EQ(ListNames("labelSelector=team+in+(a,b)"), (Names{"a", "b"}));
  EXPECT_EQ(ListNames("labelSelector=team+notin+(a)"), (Names{"b", "c"}));
  EXPECT_EQ(ListNames("labelSelector=team"), (Names{"a", "b"}));
  EXPECT_EQ(ListNames("labelSelector=!team"), (Names{"c"}));
  EXPECT_EQ(ListNames("labelSelector=team!%3Da"), (Names{"b", "c"}));
  EXPECT_EQ(ListNames("labelSelector=team%3D%3Da"), (Names{"a"}));
  EXPECT_EQ(ListNames("labelSelector=tier>2"), (Names{"b"}));
  EXPECT_EQ(ListNames("labelSelector=team,tier<2"), (Names{"a"}));
}

TEST_F(RequestOptionsTest, LabelSelectorSyntaxErrors) {
  using Names = std::vector<std::string>;
  EXPECT_EQ(ListNames("labelSelector=!!"),
            (Names{"400 unable to parse requirement: found '!', expected: "
                   "identifier"}));
  EXPECT_EQ(ListNames("labelSelector=a%3Db%3Dc"),
            (Names{"400 found '=', expected: ',' or 'end of string'"}));
  EXPECT_EQ(ListNames("labelSelector=a+in+b"),
            (Names{"400 unable to parse requirement: found 'b' expected: "
                   "'('"}));
  EXPECT_EQ(ListNames("labelSelector=a,"),
            (Names{"400 found '', expected: identifier after ','"}));
  EXPECT_EQ(ListNames("labelSelector=a%3Db!"),
            (Names{"400 found '!', expected: ',' or 'end of string'"}));
  EXPECT_EQ(ListNames("labelSelector=tier>x"),
            (Names{"400 unable to parse requirement: values[0]: Invalid "
                   "value: \"x\": for 'Gt', 'Lt' operators, the value must be "
                   "an integer"}));
}

TEST_F(RequestOptionsTest, FieldSelectors) {
  CreateLabeled("a", Json::object());
  Json tls = {{"apiVersion", "v1"},
              {"kind", "Secret"},
              {"metadata", {{"name", "t"}}},
              {"type", "kubernetes.io/tls"},
              {"data", {{"tls.crt", "YQ=="}, {"tls.key", "YQ=="}}}};
  ASSERT_EQ(Send("POST", kSecrets, tls.dump()).status, 201);

  using Names = std::vector<std::string>;
  EXPECT_EQ(ListNames("fieldSelector=type%3Dkubernetes.io/tls"), (Names{"t"}));
  EXPECT_EQ(ListNames("fieldSelector=type!%3DOpaque"), (Names{"t"}));
  EXPECT_EQ(ListNames("fieldSelector=metadata.namespace%3Ddefault,"
                      "metadata.name!%3Dt"),
            (Names{"a"}));
  EXPECT_EQ(ListNames("fieldSelector=metadata.namespace%3Dother"), Names{});
  EXPECT_EQ(ListNames("fieldSelector=data%3Dx"),
            (Names{"400 field label not supported: data"}));
  EXPECT_EQ(ListNames("fieldSelector=name"),
            (Names{"400 invalid selector: 'name'; can't understand 'name'"}));
  EXPECT_EQ(ListNames("fieldSelector=metadata.name%3Da%3Db"),
            (Names{"400 invalid field selector: unescaped character in "
                   "value: 61"}));

  ApiResponse config_maps =
      Send("GET", "/api/v1/configmaps?fieldSelector=type%3Dx");
  ApiResponse namespaces =
      Send("GET", "/api/v1/namespaces?fieldSelector=status.phase%3DActive");
  EXPECT_EQ(config_maps.status, 400);
  EXPECT_EQ(Body(config_maps)["message"],
            "\"type\" is not a known field selector: only \"metadata.name\", "
            "\"metadata.namespace\"");
  EXPECT_EQ(namespaces.status, 200);
  EXPECT_EQ(Body(namespaces)["items"].size(), 4u);
}

TEST_F(RequestOptionsTest, JsonPatchErrorsAsUpstream) {
  CreateS1();
  const int64_t revision = store_->CurrentRevision();
  const std::map<std::string, std::string> json_patch = {
      {"content-type", "application/json-patch+json"}};

  ApiResponse failed_test = Send(
      "PATCH", kSecret,
      R"([{"op":"test","path":"/data/password","value":"x"}])", json_patch);
  ApiResponse missing_path = Send(
      "PATCH", kSecret, R"([{"op":"remove","path":"/nothing"}])", json_patch);
  ApiResponse not_a_list =
      Send("PATCH", kSecret, R"({"op":"remove"})", json_patch);

  EXPECT_EQ(failed_test.status, 422);
  EXPECT_EQ(Body(failed_test),
            Json::parse(R"({"kind":"Status","apiVersion":"v1","metadata":{},)"
                        R"("status":"Failure","message":"the server rejected )"
                        R"(our request due to an error in our request",)"
                        R"("reason":"Invalid","details":{},"code":422})"));
  EXPECT_EQ(missing_path.status, 422);
  EXPECT_EQ(not_a_list.status, 400);
  EXPECT_EQ(Body(not_a_list)["message"],
            "error decoding patch: json: cannot unmarshal object into Go "
            "value of type []handlers.jsonPatchOp");
  EXPECT_EQ(store_->CurrentRevision(), revision);
}

// A 1 KiB value at /z, then `copies` operations that each copy /z into
// itself, so the n-th copy adds 2^(n-1) KiB: 12 copies add 4095 KiB in all,
// over upstream's 3 MiB limit, and 11 add 2047 KiB.
std::string DoublingJsonPatch(int copies) {
  Json patch = Json::array({{{"op", "add"},
                             {"path", "/z"},
                             {"value", {{"a", std::string(1024 - 8, 'x')}}}}});
  for (int i = 1; i <= copies; ++i) {
    patch.push_back(
        {{"op", "copy"}, {"from", "/z"}, {"path", "/z/k" + std::to_string(i)}});
  }
  return patch.dump();
}

TEST_F(RequestOptionsTest, JsonPatchCopiesAreLimited) {
  CreateS1();
  const std::map<std::string, std::string> json_patch = {
      {"content-type", "application/json-patch+json"}, {"user-agent", "test"}};
  const int64_t revision = store_->CurrentRevision();

  ApiResponse over_limit =
      Send("PATCH", kSecret, DoublingJsonPatch(12), json_patch);
  const int64_t after_rejected = store_->CurrentRevision();
  ApiResponse under_limit = Send("PATCH", kSecret + "?fieldValidation=Ignore",
                                 DoublingJsonPatch(11), json_patch);

  EXPECT_EQ(over_limit.status, 422) << over_limit.body.substr(0, 200);
  EXPECT_EQ(Body(over_limit),
            Json::parse(R"({"kind":"Status","apiVersion":"v1","metadata":{},)"
                        R"("status":"Failure","message":"the server rejected )"
                        R"(our request due to an error in our request",)"
                        R"("reason":"Invalid","details":{},"code":422})"));
  EXPECT_EQ(after_rejected, revision);
  // The unknown field z is dropped, so the Secret stays as it was.
  EXPECT_EQ(under_limit.status, 200) << under_limit.body.substr(0, 200);
  EXPECT_FALSE(Body(under_limit).contains("z"));
}

}  // namespace
}  // namespace apiserver
