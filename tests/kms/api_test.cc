#include "kms-mock/api.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/crypto.h"
#include "base/random.h"
#include "kms-mock/kms.h"

namespace kms {
namespace {

using Json = nlohmann::json;
using std::chrono::hours;
using std::chrono::seconds;

const base::Time kStart = base::Time(
    std::chrono::sys_days{std::chrono::year{2026} / std::chrono::January / 1});

std::string B64(const std::string& bytes) { return base::Base64Encode(bytes); }

std::string KeyBody(Json resource) {
  resource["type"] = "application/vnd.ibm.kms.key+json";
  Json body = {{"metadata",
                {{"collectionType", "application/vnd.ibm.kms.key+json"},
                 {"collectionTotal", 1}}},
               {"resources", Json::array({resource})}};
  return body.dump();
}

class ApiTest : public ::testing::Test {
 protected:
  ApiTest() : api_(service_, clock_, Tokens()) {
    EXPECT_TRUE(
        service_.CreateInstance("main", InstanceType::kKeyProtect, "inst-1")
            .ok());
    EXPECT_TRUE(
        service_.CreateInstance("other", InstanceType::kKeyProtect, "inst-2")
            .ok());
  }

  static TokenTable Tokens() {
    return {{"reader", {Role::kReader, {}}},
            {"writer", {Role::kWriter, {}}},
            {"manager", {Role::kManager, {}}},
            {"inst2-manager", {Role::kManager, {"inst-2"}}}};
  }

  HttpResponse Send(const std::string& method, const std::string& target,
                    const std::string& body = "",
                    const std::string& token = "manager",
                    const std::string& instance = "inst-1") {
    HttpRequest request{method, target, {}, body};
    if (!token.empty()) request.headers["authorization"] = "Bearer " + token;
    if (!instance.empty()) request.headers["bluemix-instance"] = instance;
    request.headers["content-type"] = "application/json";
    return api_.Handle(request);
  }

  // Sends an action with the content type the Node SDK uses.
  HttpResponse Action(const std::string& key_id, const std::string& action,
                      const Json& body = Json::object(),
                      const std::string& token = "manager") {
    HttpRequest request{"POST",
                        "/api/v2/keys/" + key_id + "/actions/" + action,
                        {},
                        body.empty() ? "" : body.dump()};
    request.headers["authorization"] = "Bearer " + token;
    request.headers["bluemix-instance"] = "inst-1";
    request.headers["content-type"] =
        "application/vnd.ibm.kms.key_action_" + action + "+json";
    return api_.Handle(request);
  }

  std::string CreateRootKey(Json resource = {{"name", "root"}}) {
    HttpResponse response =
        Send("POST", "/api/v2/keys", KeyBody(std::move(resource)));
    EXPECT_EQ(response.status, 201) << response.body;
    return Json::parse(response.body)["resources"][0]["id"];
  }

  static Json Parse(const HttpResponse& response) {
    return Json::parse(response.body);
  }
  static std::string Reason(const HttpResponse& response) {
    return Parse(response)["resources"][0]["reasons"][0]["code"];
  }
  static std::string TargetName(const HttpResponse& response) {
    return Parse(response)["resources"][0]["reasons"][0]["target"]["name"];
  }

  base::SimulatedClock clock_{kStart};
  base::SeededRandom random_{5};
  KeyService service_{clock_, random_};
  KeyProtectApi api_;
};

// --- Authentication and roles ---

TEST_F(ApiTest, MissingOrUnknownTokenIsUnauthorized) {
  HttpResponse missing = Send("GET", "/api/v2/keys", "", "");
  HttpResponse unknown = Send("GET", "/api/v2/keys", "", "nobody");

  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(Reason(missing), "UNAUTHORIZED_ERR");
  EXPECT_EQ(unknown.status, 401);
}

TEST_F(ApiTest, InstanceOutsideGrantIsUnauthorized) {
  HttpResponse not_granted =
      Send("GET", "/api/v2/keys", "", "inst2-manager", "inst-1");
  HttpResponse unknown = Send("GET", "/api/v2/keys", "", "manager", "nope");
  HttpResponse granted =
      Send("GET", "/api/v2/keys", "", "inst2-manager", "inst-2");

  EXPECT_EQ(not_granted.status, 401);
  EXPECT_EQ(unknown.status, 401);
  EXPECT_EQ(granted.status, 200);
}

TEST_F(ApiTest, MissingInstanceHeaderNamesIt) {
  HttpResponse response = Send("GET", "/api/v2/keys", "", "manager", "");

  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(TargetName(response), "bluemix-instance");
}

TEST_F(ApiTest, ReaderCannotWrapOrCreate) {
  std::string id = CreateRootKey();

  HttpResponse wrap = Action(id, "wrap", Json::object(), "reader");
  HttpResponse create =
      Send("POST", "/api/v2/keys", KeyBody({{"name", "k"}}), "reader");
  HttpResponse list = Send("GET", "/api/v2/keys", "", "reader");

  EXPECT_EQ(wrap.status, 401);
  EXPECT_EQ(create.status, 401);
  EXPECT_EQ(list.status, 200);
  EXPECT_EQ(
      service_.CallCounts()["wrap"].ok + service_.CallCounts()["wrap"].failed,
      0);
}

TEST_F(ApiTest, WriterWrapsButCannotDeleteOrDisable) {
  std::string id = CreateRootKey();

  HttpResponse wrap = Action(id, "wrap", Json::object(), "writer");
  HttpResponse del = Send("DELETE", "/api/v2/keys/" + id, "", "writer");
  HttpResponse disable = Action(id, "disable", Json::object(), "writer");

  EXPECT_EQ(wrap.status, 200);
  EXPECT_EQ(del.status, 401);
  EXPECT_EQ(disable.status, 401);
  EXPECT_EQ(service_.GetKey("inst-1", id)->state, KeyState::kActive);
}

// --- Keys ---

TEST_F(ApiTest, CreateKeyReturnsKeyProtectShape) {
  HttpResponse response =
      Send("POST", "/api/v2/keys",
           KeyBody({{"name", "crk"},
                    {"description", "cluster root key"},
                    {"extractable", false},
                    {"expirationDate", "2027-01-01T00:00:00Z"}}));

  ASSERT_EQ(response.status, 201) << response.body;
  Json body = Parse(response);
  EXPECT_EQ(body["metadata"]["collectionType"],
            "application/vnd.ibm.kms.key+json");
  EXPECT_EQ(body["metadata"]["collectionTotal"], 1);
  Json key = body["resources"][0];
  EXPECT_EQ(key["name"], "crk");
  EXPECT_EQ(key["state"], 1);
  EXPECT_EQ(key["extractable"], false);
  EXPECT_EQ(key["expirationDate"], "2027-01-01T00:00:00Z");
  EXPECT_EQ(key["creationDate"], "2026-01-01T00:00:00Z");
  EXPECT_TRUE(key["keyVersion"]["id"].is_string());
  EXPECT_TRUE(key["crn"].get<std::string>().starts_with(
      "crn:v1:bluemix:public:kms:us-south:"));
  EXPECT_FALSE(key.contains("payload"));
}

TEST_F(ApiTest, StandardKeyPayloadOnlyForWriters) {
  std::string material(32, 's');
  std::string id = CreateRootKey(
      {{"name", "std"}, {"extractable", true}, {"payload", B64(material)}});

  HttpResponse as_writer = Send("GET", "/api/v2/keys/" + id, "", "writer");
  HttpResponse as_reader = Send("GET", "/api/v2/keys/" + id, "", "reader");

  EXPECT_EQ(Parse(as_writer)["resources"][0]["payload"], B64(material));
  EXPECT_FALSE(Parse(as_reader)["resources"][0].contains("payload"));
}

TEST_F(ApiTest, BadCreateBodiesNameTheFieldAndCreateNothing) {
  struct Case {
    std::string body;
    std::string reason;
    std::string target;
  };
  Json two = Json::parse(KeyBody({{"name", "a"}}));
  two["metadata"]["collectionTotal"] = 2;
  std::vector<Case> cases = {
      {"{not json", "BAD_BODY_ERR", "body"},
      {"[1,2]", "BAD_BODY_ERR", "body"},
      {two.dump(), "COLLECTION_TOTAL_MISMATCH_ERR", "metadata.collectionTotal"},
      {KeyBody({{"description", "no name"}}), "INVALID_FIELD_ERR", "name"},
      {KeyBody({{"name", "k"}, {"payload", "%%%"}}), "INVALID_FIELD_ERR",
       "payload"},
      {KeyBody({{"name", "k"}, {"payload", B64("short")}}), "INVALID_FIELD_ERR",
       "payload"},
      {KeyBody({{"name", "k"}, {"extractable", "yes"}}), "INVALID_FIELD_ERR",
       "extractable"},
      {KeyBody({{"name", "k"}, {"expirationDate", "tomorrow"}}),
       "INVALID_FIELD_ERR", "expirationDate"},
      {KeyBody({{"name", "k"}, {"expirationDate", "9999-12-31T23:59:59Z"}}),
       "INVALID_FIELD_ERR", "expirationDate"},
  };

  for (const Case& c : cases) {
    HttpResponse response = Send("POST", "/api/v2/keys", c.body);
    EXPECT_EQ(response.status, 400) << c.body;
    EXPECT_EQ(Reason(response), c.reason) << c.body;
    EXPECT_EQ(TargetName(response), c.target) << c.body;
  }
  EXPECT_TRUE(service_.ListKeys("inst-1")->empty());
}

TEST_F(ApiTest, UnknownKeyIsNotFound) {
  HttpResponse response = Send("GET", "/api/v2/keys/no-such-key");

  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(Reason(response), "KEY_NOT_FOUND_ERR");
}

TEST_F(ApiTest, ErrorBodyFollowsKeyProtect) {
  HttpResponse response = Send("GET", "/api/v2/keys/no-such-key");

  Json body = Parse(response);
  EXPECT_EQ(body["metadata"]["collectionType"],
            "application/vnd.ibm.kms.error+json");
  EXPECT_EQ(body["metadata"]["collectionTotal"], 1);
  Json reason = body["resources"][0]["reasons"][0];
  EXPECT_EQ(reason["status"], 404);
  EXPECT_TRUE(reason["message"].is_string());
  EXPECT_EQ(reason["moreInfo"], "https://cloud.ibm.com/apidocs/key-protect");
  EXPECT_TRUE(body["resources"][0]["errorMsg"].get<std::string>().starts_with(
      "Not Found: Key could not be retrieved"));
}

TEST_F(ApiTest, ListFiltersAndPages) {
  std::string a = CreateRootKey({{"name", "a"}});
  std::string b = CreateRootKey({{"name", "b"}, {"extractable", true}});
  std::string c = CreateRootKey({{"name", "c"}});
  ASSERT_TRUE(service_.Delete("inst-1", c).ok());

  Json all = Parse(Send("GET", "/api/v2/keys?totalCount=true"));
  Json page = Parse(Send("GET", "/api/v2/keys?limit=1&offset=1"));
  Json destroyed = Parse(Send("GET", "/api/v2/keys?state=5"));
  Json repeated = Parse(Send("GET", "/api/v2/keys?state=1&state=5"));
  Json roots = Parse(Send("GET", "/api/v2/keys?extractable=false"));
  HttpResponse head = Send("HEAD", "/api/v2/keys");

  EXPECT_EQ(all["metadata"]["collectionTotal"], 2);
  EXPECT_EQ(all["metadata"]["totalCount"], 2);
  ASSERT_EQ(page["resources"].size(), 1u);
  EXPECT_EQ(page["resources"][0]["id"], b);
  ASSERT_EQ(destroyed["resources"].size(), 1u);
  EXPECT_EQ(destroyed["resources"][0]["id"], c);
  EXPECT_EQ(repeated["resources"].size(), 3u);
  ASSERT_EQ(roots["resources"].size(), 1u);
  EXPECT_EQ(roots["resources"][0]["id"], a);
  EXPECT_EQ(head.headers["key-total"], "2");
}

TEST_F(ApiTest, ListPagesThroughEveryStateFilter) {
  // Creation order: active, suspended, expired, deleted, twice over.
  std::vector<std::string> ids;
  for (int round = 0; round < 2; ++round) {
    std::string n = std::to_string(round);
    ids.push_back(CreateRootKey({{"name", "active" + n}}));
    ids.push_back(CreateRootKey({{"name", "suspended" + n}}));
    ASSERT_TRUE(service_.Disable("inst-1", ids.back()).ok());
    ids.push_back(service_
                      .CreateKey("inst-1", {.name = "expired" + n,
                                            .expiration = clock_.Now(),
                                            .deactivated = true})
                      ->id);
    ids.push_back(CreateRootKey({{"name", "deleted" + n}}));
    ASSERT_TRUE(service_.Delete("inst-1", ids.back()).ok());
  }
  auto ids_of = [](const Json& body) {
    std::vector<std::string> out;
    for (const Json& key : body["resources"]) out.push_back(key["id"]);
    return out;
  };

  std::vector<std::string> paged;
  for (int offset = 0; offset < 10; offset += 3) {
    Json page =
        Parse(Send("GET", "/api/v2/keys?state=1,2,3,5&limit=3&offset=" +
                              std::to_string(offset) + "&totalCount=true"));
    EXPECT_EQ(page["metadata"]["totalCount"], 8) << offset;
    EXPECT_EQ(page["metadata"]["collectionTotal"], page["resources"].size());
    for (const std::string& id : ids_of(page)) paged.push_back(id);
  }
  Json past_end = Parse(Send("GET", "/api/v2/keys?state=1,2,3,5&offset=8"));

  EXPECT_EQ(paged, ids);
  EXPECT_TRUE(past_end["resources"].empty());
  EXPECT_EQ(ids_of(Parse(Send("GET", "/api/v2/keys?state=1"))),
            (std::vector<std::string>{ids[0], ids[4]}));
  EXPECT_EQ(ids_of(Parse(Send("GET", "/api/v2/keys?state=2"))),
            (std::vector<std::string>{ids[1], ids[5]}));
  EXPECT_EQ(ids_of(Parse(Send("GET", "/api/v2/keys?state=3"))),
            (std::vector<std::string>{ids[2], ids[6]}));
  EXPECT_EQ(ids_of(Parse(Send("GET", "/api/v2/keys?state=5&limit=1&offset=1"))),
            (std::vector<std::string>{ids[7]}));
  // Without a state filter, Key Protect lists states 0 to 3.
  EXPECT_EQ(ids_of(Parse(Send("GET", "/api/v2/keys"))),
            (std::vector<std::string>{ids[0], ids[1], ids[2], ids[4], ids[5],
                                      ids[6]}));
  EXPECT_EQ(Send("HEAD", "/api/v2/keys?state=2,3").headers["key-total"], "4");
}

TEST_F(ApiTest, BadListQueriesNameTheParameter) {
  for (std::string query : {"limit=0", "limit=5001", "limit=x", "offset=-1",
                            "state=4", "state=1,,2", "extractable=maybe"}) {
    HttpResponse response = Send("GET", "/api/v2/keys?" + query);
    EXPECT_EQ(response.status, 400) << query;
    EXPECT_EQ(TargetName(response), query.substr(0, query.find('='))) << query;
  }
}

// --- Actions ---

TEST_F(ApiTest, WrapAndUnwrapWithAad) {
  std::string id = CreateRootKey();
  Json aad = Json::array({"cluster", "etcd"});

  HttpResponse wrap = Action(id, "wrap", {{"aad", aad}});
  ASSERT_EQ(wrap.status, 200) << wrap.body;
  Json wrapped = Parse(wrap);
  HttpResponse unwrap = Action(
      id, "unwrap", {{"ciphertext", wrapped["ciphertext"]}, {"aad", aad}});
  HttpResponse wrong_aad =
      Action(id, "unwrap", {{"ciphertext", wrapped["ciphertext"]}});

  ASSERT_EQ(unwrap.status, 200) << unwrap.body;
  EXPECT_EQ(Parse(unwrap)["plaintext"], wrapped["plaintext"]);
  EXPECT_EQ(Parse(unwrap)["keyVersion"]["id"], wrapped["keyVersion"]["id"]);
  EXPECT_FALSE(Parse(unwrap).contains("ciphertext"));
  EXPECT_EQ(wrong_aad.status, 422);
  EXPECT_EQ(Reason(wrong_aad), "UNPROCESSABLE_CIPHERTEXT_ERR");
}

TEST_F(ApiTest, WrapOfSuppliedPlaintextOmitsIt) {
  std::string id = CreateRootKey();
  std::string dek(32, 'd');

  HttpResponse wrap = Action(id, "wrap", {{"plaintext", B64(dek)}});
  Json unwrapped =
      Parse(Action(id, "unwrap", {{"ciphertext", Parse(wrap)["ciphertext"]}}));

  EXPECT_FALSE(Parse(wrap).contains("plaintext"));
  EXPECT_EQ(unwrapped["plaintext"], B64(dek));
}

TEST_F(ApiTest, QueryFormOfActionWorks) {
  std::string id = CreateRootKey();

  HttpResponse response =
      Send("POST", "/api/v2/keys/" + id + "?action=wrap", "");

  EXPECT_EQ(response.status, 200) << response.body;
  EXPECT_TRUE(Parse(response).contains("ciphertext"));
}

TEST_F(ApiTest, FlippedCiphertextBitIsUnprocessable) {
  std::string id = CreateRootKey();
  std::string ciphertext = *base::Base64Decode(
      Parse(Action(id, "wrap"))["ciphertext"].get<std::string>());
  ciphertext[ciphertext.size() / 2] ^= 0x01;

  HttpResponse response =
      Action(id, "unwrap", {{"ciphertext", B64(ciphertext)}});

  EXPECT_EQ(response.status, 422);
  EXPECT_EQ(Reason(response), "UNPROCESSABLE_CIPHERTEXT_ERR");
}

TEST_F(ApiTest, BadActionInputNamesTheFieldAndChangesNothing) {
  std::string id = CreateRootKey();
  struct Case {
    std::string action;
    std::string body;
    std::string target;
  };
  std::vector<Case> cases = {
      {"wrap", "{oops", "body"},
      {"wrap", R"({"plaintext":"@@"})", "plaintext"},
      {"wrap", Json{{"plaintext", B64("12345")}}.dump(), "plaintext"},
      {"wrap", R"({"aad":"not-a-list"})", "aad"},
      {"unwrap", "", "body"},
      {"unwrap", R"({"aad":[]})", "ciphertext"},
      {"unwrap", R"({"ciphertext":"!!"})", "ciphertext"},
      {"rotate", Json{{"payload", B64("tiny")}}.dump(), "payload"},
      {"explode", "", "action"},
  };

  for (const Case& c : cases) {
    HttpResponse response =
        Send("POST", "/api/v2/keys/" + id + "/actions/" + c.action, c.body);
    EXPECT_EQ(response.status, 400) << c.action << " " << c.body;
    EXPECT_EQ(TargetName(response), c.target) << c.action << " " << c.body;
  }
  std::map<std::string, CallCount> counts = service_.CallCounts();
  EXPECT_EQ(counts["wrap"].ok + counts["wrap"].failed, 0);
  EXPECT_EQ(counts["unwrap"].ok + counts["unwrap"].failed, 0);
  EXPECT_EQ(service_.GetKey("inst-1", id)->versions.size(), 1u);
}

TEST_F(ApiTest, OldVersionUnwrapReturnsRewrappedCiphertext) {
  std::string id = CreateRootKey();
  Json wrapped = Parse(Action(id, "wrap"));
  ASSERT_EQ(Action(id, "rotate").status, 204);

  Json unwrapped =
      Parse(Action(id, "unwrap", {{"ciphertext", wrapped["ciphertext"]}}));
  Json rewrapped =
      Parse(Action(id, "rewrap", {{"ciphertext", wrapped["ciphertext"]}}));
  Json versions = Parse(Send("GET", "/api/v2/keys/" + id + "/versions"));

  EXPECT_EQ(unwrapped["plaintext"], wrapped["plaintext"]);
  EXPECT_EQ(unwrapped["keyVersion"]["id"], wrapped["keyVersion"]["id"]);
  ASSERT_TRUE(unwrapped.contains("ciphertext"));
  ASSERT_EQ(versions["resources"].size(), 2u);
  EXPECT_EQ(unwrapped["rewrappedKeyVersion"]["id"],
            versions["resources"][0]["id"]);
  EXPECT_EQ(rewrapped["keyVersion"]["id"], wrapped["keyVersion"]["id"]);
  EXPECT_EQ(rewrapped["rewrappedKeyVersion"]["id"],
            versions["resources"][0]["id"]);
  EXPECT_EQ(versions["metadata"]["collectionType"],
            "application/vnd.ibm.kms.key_version+json");
}

TEST_F(ApiTest, DisableEnableFollowThirtySecondGuard) {
  std::string id = CreateRootKey();

  EXPECT_EQ(Action(id, "disable").status, 204);
  HttpResponse wrap = Action(id, "wrap");
  HttpResponse early = Action(id, "enable");
  clock_.Advance(seconds(30));
  HttpResponse enable = Action(id, "enable");

  EXPECT_EQ(wrap.status, 409);
  EXPECT_EQ(Reason(wrap), "KEY_ACTION_INVALID_STATE_ERR");
  EXPECT_EQ(early.status, 409);
  EXPECT_EQ(Reason(early), "REQ_TOO_EARLY_ERR");
  EXPECT_EQ(enable.status, 204);
  EXPECT_EQ(Action(id, "wrap").status, 200);
}

TEST_F(ApiTest, DualAuthDeleteNeedsSetForDeletion) {
  std::string id =
      CreateRootKey({{"name", "k"}, {"dualAuthDelete", {{"enabled", true}}}});

  HttpResponse refused = Send("DELETE", "/api/v2/keys/" + id);
  EXPECT_EQ(Action(id, "setKeyForDeletion").status, 204);
  Json key = Parse(Send("GET", "/api/v2/keys/" + id))["resources"][0];
  HttpResponse deleted = Send("DELETE", "/api/v2/keys/" + id);

  EXPECT_EQ(refused.status, 409);
  EXPECT_EQ(Reason(refused), "AUTHORIZATIONS_NOT_MET");
  EXPECT_EQ(key["dualAuthDelete"]["keySetForDeletion"], true);
  EXPECT_EQ(deleted.status, 204);
}

// --- Registrations, delete, restore, purge ---

TEST_F(ApiTest, RegisteredKeyDeletesOnlyWithForce) {
  std::string id = CreateRootKey();
  std::string crn =
      "crn:v1:bluemix:public:containers-kubernetes:us-south:a/"
      "acct:cluster-1::";
  std::string encoded =
      "crn%3Av1%3Abluemix%3Apublic%3Acontainers-kubernetes"
      "%3Aus-south%3Aa%2Facct%3Acluster-1%3A%3A";
  HttpResponse registered =
      Send("POST", "/api/v2/keys/" + id + "/registrations/" + encoded);
  ASSERT_EQ(registered.status, 201) << registered.body;

  Json by_key = Parse(Send("GET", "/api/v2/keys/" + id + "/registrations"));
  Json by_instance = Parse(Send("GET", "/api/v2/keys/registrations"));
  HttpResponse refused = Send("DELETE", "/api/v2/keys/" + id);
  HttpRequest forced{"DELETE", "/api/v2/keys/" + id + "?force=true", {}, ""};
  forced.headers = {{"authorization", "Bearer manager"},
                    {"bluemix-instance", "inst-1"},
                    {"prefer", "return=representation"}};
  HttpResponse deleted = api_.Handle(forced);

  ASSERT_EQ(by_key["resources"].size(), 1u);
  EXPECT_EQ(by_key["resources"][0]["resourceCrn"], crn);
  EXPECT_EQ(by_key["resources"][0]["preventKeyDeletion"], true);
  EXPECT_EQ(by_instance["resources"].size(), 1u);
  EXPECT_EQ(refused.status, 409);
  EXPECT_EQ(Reason(refused), "PROTECTED_RESOURCE_ERR");
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_EQ(Parse(deleted)["resources"][0]["state"], 5);
}

TEST_F(ApiTest, DeletedKeyIsGoneButRestorable) {
  std::string id = CreateRootKey();
  ASSERT_EQ(Send("DELETE", "/api/v2/keys/" + id).status, 204);

  HttpResponse get = Send("GET", "/api/v2/keys/" + id);
  HttpResponse wrap = Action(id, "wrap");
  Json metadata =
      Parse(Send("GET", "/api/v2/keys/" + id + "/metadata"))["resources"][0];
  HttpResponse early = Send("POST", "/api/v2/keys/" + id + "/restore");
  clock_.Advance(seconds(30));
  HttpResponse restored = Send("POST", "/api/v2/keys/" + id + "/restore");

  EXPECT_EQ(get.status, 410);
  EXPECT_EQ(Reason(get), "KEY_DELETED_ERR");
  EXPECT_EQ(wrap.status, 410);
  EXPECT_EQ(metadata["state"], 5);
  EXPECT_EQ(metadata["deleted"], true);
  EXPECT_EQ(metadata["restoreAllowed"], true);
  EXPECT_EQ(metadata["purgeAllowed"], false);
  EXPECT_EQ(early.status, 409);
  EXPECT_EQ(Reason(early), "REQ_TOO_EARLY_ERR");
  ASSERT_EQ(restored.status, 201) << restored.body;
  EXPECT_EQ(Parse(restored)["resources"][0]["state"], 1);
}

TEST_F(ApiTest, RestoreAfterThirtyDaysIsExpired) {
  std::string id = CreateRootKey();
  ASSERT_EQ(Send("DELETE", "/api/v2/keys/" + id).status, 204);
  clock_.Advance(hours(24 * 30));

  HttpResponse late = Send("POST", "/api/v2/keys/" + id + "/restore");

  EXPECT_EQ(late.status, 400);
  EXPECT_EQ(Reason(late), "KEY_RESTORE_EXPIRED");
}

TEST_F(ApiTest, PurgeWaitsFourHours) {
  std::string id = CreateRootKey();
  ASSERT_EQ(Send("DELETE", "/api/v2/keys/" + id).status, 204);

  HttpResponse early = Send("DELETE", "/api/v2/keys/" + id + "/purge");
  clock_.Advance(hours(4));
  HttpResponse purged = Send("DELETE", "/api/v2/keys/" + id + "/purge");
  HttpResponse after = Send("GET", "/api/v2/keys/" + id + "/metadata");

  EXPECT_EQ(early.status, 409);
  EXPECT_EQ(Reason(early), "REQ_TOO_EARLY_ERR");
  ASSERT_EQ(purged.status, 200) << purged.body;
  EXPECT_EQ(Parse(purged)["resources"][0]["id"], id);
  EXPECT_EQ(after.status, 404);
}

TEST_F(ApiTest, UnknownPathsAndMethods) {
  EXPECT_EQ(Send("GET", "/api/v1/keys").status, 404);
  EXPECT_EQ(Send("GET", "/api/v2/keys/x/unknown").status, 404);
  EXPECT_EQ(Send("PUT", "/api/v2/keys").status, 405);
  EXPECT_EQ(Send("GET", "/api/v2/keys/x/restore").status, 405);
}

TEST_F(ApiTest, BodyTooLargeNamesTheBody) {
  HttpResponse response = KeyProtectApi::BodyTooLarge(1 << 20);

  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(Reason(response), "BAD_BODY_ERR");
  EXPECT_EQ(TargetName(response), "body");
}

// --- Token files ---

TEST(TokenFile, ParsesRolesAndInstances) {
  base::StatusOr<TokenTable> table = ParseTokens(R"(
tokens:
  - token: r
    role: Reader
  - token: m
    role: Manager
    instances: [inst-1, inst-2]
)");

  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->at("r").role, Role::kReader);
  EXPECT_TRUE(table->at("r").instances.empty());
  EXPECT_EQ(table->at("m").instances,
            (std::vector<std::string>{"inst-1", "inst-2"}));
}

TEST(TokenFile, RejectsMalformedEntries) {
  for (std::string text :
       {"tokens: 3", "tokens:\n  - token: a\n", "tokens:\n  - role: Reader\n",
        "tokens:\n  - token: a\n    role: Admin\n",
        "tokens:\n  - {token: a, role: Reader}\n  - {token: a, role: Writer}\n",
        "tokens: [\n", "just text", "- a list\n", "",
        "tokens:\n  - {token: a, role: Reader, instances: [{id: x}]}\n",
        "tokens:\n  - {token: a, role: Reader, instances: [[x]]}\n",
        "tokens:\n  - {token: a, role: Reader, instances: ['']}\n"}) {
    EXPECT_EQ(ParseTokens(text).status().code(), base::Code::kInvalidArgument)
        << text;
  }
}

TEST(TokenFile, MissingFileIsNotFound) {
  EXPECT_EQ(LoadTokenFile("/nonexistent/tokens.yaml").status().code(),
            base::Code::kNotFound);
}

}  // namespace
}  // namespace kms
