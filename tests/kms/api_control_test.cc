// KeyProtectApi beyond Key Protect's own paths: Hyper Protect Crypto
// Services instances, the IAM token stand-in and the control endpoints,
// called through Handle without a network.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/crypto.h"
#include "base/random.h"
#include "kms-mock/api.h"
#include "kms-mock/kms.h"

namespace kms {
namespace {

using Json = nlohmann::json;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

const base::Time kStart = base::Time(
    std::chrono::sys_days{std::chrono::year{2026} / std::chrono::January / 1});

constexpr std::string_view kApiKeyGrant =
    "grant_type=urn%3Aibm%3Aparams%3Aoauth%3Agrant-type%3Aapikey";

std::string KeyBody(const std::string& name) {
  Json body = {{"metadata",
                {{"collectionType", "application/vnd.ibm.kms.key+json"},
                 {"collectionTotal", 1}}},
               {"resources",
                {{{"type", "application/vnd.ibm.kms.key+json"},
                  {"name", name},
                  {"extractable", false}}}}};
  return body.dump();
}

// Decodes one base64url part of a JWT.
Json JwtPart(const std::string& jwt, int index) {
  size_t begin = 0;
  for (int i = 0; i < index; ++i) begin = jwt.find('.', begin) + 1;
  std::string part = jwt.substr(begin, jwt.find('.', begin) - begin);
  for (char& c : part) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  while (part.size() % 4 != 0) part.push_back('=');
  base::StatusOr<std::string> decoded = base::Base64Decode(part);
  if (!decoded.ok()) return Json();
  return Json::parse(*decoded, nullptr, false);
}

class ApiControlTest : public ::testing::Test {
 protected:
  ApiControlTest() {
    EXPECT_TRUE(
        service_.CreateInstance("kp", InstanceType::kKeyProtect, "inst-kp")
            .ok());
    EXPECT_TRUE(
        service_.CreateInstance("hpcs", InstanceType::kHyperProtect, "inst-hs")
            .ok());
  }

  static TokenTable Tokens() {
    return {{"manager", {Role::kManager, {}, "manager-apikey"}},
            {"reader", {Role::kReader, {}, "reader-apikey"}},
            {"hs-writer", {Role::kWriter, {"inst-hs"}, "hs-apikey"}}};
  }

  HttpResponse Send(const std::string& method, const std::string& target,
                    const std::string& body = "",
                    const std::string& token = "manager",
                    const std::string& instance = "inst-kp",
                    const std::string& content_type = "application/json") {
    HttpRequest request{method, target, {}, body};
    if (!token.empty()) request.headers["authorization"] = "Bearer " + token;
    if (!instance.empty()) request.headers["bluemix-instance"] = instance;
    if (!content_type.empty()) request.headers["content-type"] = content_type;
    return api_.Handle(request);
  }

  HttpResponse RequestToken(
      const std::string& form,
      const std::string& content_type = "application/x-www-form-urlencoded") {
    return Send("POST", "/identity/token", form, "", "", content_type);
  }

  std::string IssueToken(const std::string& api_key) {
    HttpResponse response =
        RequestToken(std::string(kApiKeyGrant) + "&apikey=" + api_key);
    EXPECT_EQ(response.status, 200) << response.body;
    return Json::parse(response.body).value("access_token", "");
  }

  static Json Parse(const HttpResponse& response) {
    return Json::parse(response.body);
  }
  static Json FirstReason(const HttpResponse& response) {
    return Parse(response)["resources"][0]["reasons"][0];
  }

  base::SimulatedClock clock_{kStart};
  base::SeededRandom random_{21};
  KeyService service_{clock_, random_};
  KeyProtectApi api_{
      service_, clock_, Tokens(),
      ApiOptions{.simulated_clock = &clock_, .random = &random_}};
};

// --- Hyper Protect Crypto Services ---

TEST_F(ApiControlTest, HpcsInstanceServesTheSameApi) {
  HttpResponse created =
      Send("POST", "/api/v2/keys", KeyBody("hs-root"), "manager", "inst-hs");
  ASSERT_EQ(created.status, 201) << created.body;
  Json key = Parse(created)["resources"][0];
  std::string id = key["id"];
  std::string actions = "/api/v2/keys/" + id + "/actions/";

  HttpResponse wrapped =
      Send("POST", actions + "wrap", "{}", "manager", "inst-hs");
  ASSERT_EQ(wrapped.status, 200) << wrapped.body;
  Json unwrap_body = {{"ciphertext", Parse(wrapped)["ciphertext"]}};
  HttpResponse unwrapped = Send("POST", actions + "unwrap", unwrap_body.dump(),
                                "manager", "inst-hs");

  ASSERT_EQ(unwrapped.status, 200) << unwrapped.body;
  EXPECT_EQ(Parse(unwrapped)["plaintext"], Parse(wrapped)["plaintext"]);
  std::string crn = key["crn"];
  EXPECT_NE(crn.find(":hs-crypto:"), std::string::npos) << crn;
  EXPECT_NE(crn.find(":inst-hs:key:" + id), std::string::npos) << crn;
}

TEST_F(ApiControlTest, KeyProtectCrnNamesKmsService) {
  HttpResponse created = Send("POST", "/api/v2/keys", KeyBody("kp-root"));

  ASSERT_EQ(created.status, 201);
  std::string crn = Parse(created)["resources"][0]["crn"];
  EXPECT_NE(crn.find(":kms:"), std::string::npos) << crn;
}

TEST_F(ApiControlTest, KeyOfOtherInstanceIsNotFound) {
  HttpResponse created =
      Send("POST", "/api/v2/keys", KeyBody("hs-root"), "manager", "inst-hs");
  std::string id = Parse(created)["resources"][0]["id"];

  HttpResponse from_kp = Send("GET", "/api/v2/keys/" + id);

  EXPECT_EQ(from_kp.status, 404);
  EXPECT_EQ(FirstReason(from_kp)["code"], "KEY_NOT_FOUND_ERR");
}

TEST_F(ApiControlTest, InstanceListingShowsTypes) {
  HttpResponse listed = Send("GET", "/control/instances");

  ASSERT_EQ(listed.status, 200) << listed.body;
  Json instances = Parse(listed)["instances"];
  ASSERT_EQ(instances.size(), 2u);
  EXPECT_EQ(instances[0]["id"], "inst-kp");
  EXPECT_EQ(instances[0]["type"], "key-protect");
  EXPECT_EQ(instances[1]["id"], "inst-hs");
  EXPECT_EQ(instances[1]["type"], "hpcs");
  EXPECT_EQ(instances[1]["region"], "us-south");
}

TEST_F(ApiControlTest, CreateInstanceThroughControl) {
  HttpResponse created = Send("POST", "/control/instances",
                              R"({"id":"inst-new","name":"n","type":"hpcs"})");
  HttpResponse again =
      Send("POST", "/control/instances", R"({"id":"inst-new","name":"n"})");
  HttpResponse bad_type =
      Send("POST", "/control/instances", R"({"name":"n","type":"vault"})");
  HttpResponse no_name = Send("POST", "/control/instances", R"({"id":"x"})");
  HttpResponse unknown_field =
      Send("POST", "/control/instances", R"({"name":"n","region":"eu-de"})");

  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(Parse(created)["type"], "hpcs");
  EXPECT_EQ(service_.GetInstance("inst-new")->type,
            InstanceType::kHyperProtect);
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(bad_type.status, 400);
  EXPECT_EQ(FirstReason(bad_type)["target"]["name"], "type");
  EXPECT_EQ(no_name.status, 400);
  EXPECT_EQ(FirstReason(no_name)["target"]["name"], "name");
  EXPECT_EQ(unknown_field.status, 400);
  EXPECT_EQ(FirstReason(unknown_field)["target"]["name"], "region");
  EXPECT_EQ(service_.ListInstances().size(), 3u);
}

// --- IAM token stand-in ---

TEST_F(ApiControlTest, ApiKeyExchangesForJwtWithGrantRole) {
  HttpResponse response =
      RequestToken(std::string(kApiKeyGrant) + "&apikey=manager-apikey");

  ASSERT_EQ(response.status, 200) << response.body;
  Json body = Parse(response);
  EXPECT_EQ(body["token_type"], "Bearer");
  EXPECT_EQ(body["expires_in"], 3600);
  std::string token = body["access_token"];
  Json claims = JwtPart(token, 1);
  EXPECT_EQ(JwtPart(token, 0)["typ"], "JWT");
  EXPECT_EQ(claims["iat"], 1767225600);  // 2026-01-01T00:00:00Z
  EXPECT_EQ(claims["exp"], 1767225600 + 3600);
  EXPECT_EQ(body["expiration"], claims["exp"]);
  EXPECT_EQ(token.find("manager-apikey"), std::string::npos);

  HttpResponse created =
      Send("POST", "/api/v2/keys", KeyBody("via-iam"), token);
  EXPECT_EQ(created.status, 201) << created.body;
}

TEST_F(ApiControlTest, IssuedTokenKeepsRoleAndInstances) {
  std::string reader = IssueToken("reader-apikey");
  std::string hs_writer = IssueToken("hs-apikey");

  HttpResponse reader_create =
      Send("POST", "/api/v2/keys", KeyBody("key-k"), reader);
  HttpResponse reader_list = Send("GET", "/api/v2/keys", "", reader);
  HttpResponse writer_kp = Send("GET", "/api/v2/keys", "", hs_writer);
  HttpResponse writer_hs =
      Send("POST", "/api/v2/keys", KeyBody("key-k"), hs_writer, "inst-hs");

  EXPECT_EQ(reader_create.status, 401);
  EXPECT_EQ(reader_list.status, 200);
  EXPECT_EQ(writer_kp.status, 401);
  EXPECT_EQ(writer_hs.status, 201);
}

TEST_F(ApiControlTest, IssuedTokenExpiresAfterAnHourOfClock) {
  std::string token = IssueToken("manager-apikey");

  clock_.Advance(hours(1) - seconds(1));
  HttpResponse before = Send("GET", "/api/v2/keys", "", token);
  clock_.Advance(seconds(1));
  HttpResponse after = Send("GET", "/api/v2/keys", "", token);

  EXPECT_EQ(before.status, 200);
  EXPECT_EQ(after.status, 401);
  EXPECT_EQ(FirstReason(after)["code"], "UNAUTHORIZED_ERR");
}

TEST_F(ApiControlTest, EachExchangeIssuesADistinctToken) {
  std::string first = IssueToken("manager-apikey");
  std::string second = IssueToken("manager-apikey");

  EXPECT_NE(first, second);
  EXPECT_EQ(Send("GET", "/api/v2/keys", "", first).status, 200);
  EXPECT_EQ(Send("GET", "/api/v2/keys", "", second).status, 200);
}

TEST_F(ApiControlTest, BadTokenRequestsAreRejected) {
  HttpResponse unknown_key =
      RequestToken(std::string(kApiKeyGrant) + "&apikey=nope");
  HttpResponse no_key = RequestToken(std::string(kApiKeyGrant));
  HttpResponse wrong_grant =
      RequestToken("grant_type=password&apikey=manager-apikey");
  HttpResponse json_body =
      RequestToken(R"({"apikey":"manager-apikey"})", "application/json");
  HttpResponse bad_escape =
      RequestToken(std::string(kApiKeyGrant) + "&apikey=%zz");
  HttpResponse get = Send("GET", "/identity/token", "", "", "", "");

  EXPECT_EQ(unknown_key.status, 400);
  EXPECT_EQ(Parse(unknown_key)["errorCode"], "BXNIM0415E");
  EXPECT_EQ(no_key.status, 400);
  EXPECT_EQ(wrong_grant.status, 400);
  EXPECT_EQ(json_body.status, 400);
  EXPECT_EQ(bad_escape.status, 400);
  EXPECT_EQ(get.status, 405);
}

TEST_F(ApiControlTest, TableTokenIsNotAnApiKey) {
  HttpResponse response =
      RequestToken(std::string(kApiKeyGrant) + "&apikey=manager");

  EXPECT_EQ(response.status, 400);
}

TEST(TokenFile, ParsesApiKeys) {
  base::StatusOr<TokenTable> table = ParseTokens(R"(
tokens:
  - token: m
    role: Manager
    apikey: key-for-m
  - token: r
    role: Reader
)");

  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->at("m").api_key, "key-for-m");
  EXPECT_EQ(table->at("r").api_key, "");
}

TEST(TokenFile, RejectsRepeatedOrEmptyApiKeys) {
  for (std::string text :
       {"tokens:\n  - {token: a, role: Reader, apikey: k}\n"
        "  - {token: b, role: Reader, apikey: k}\n",
        "tokens:\n  - {token: a, role: Reader, apikey: ''}\n",
        "tokens:\n  - {token: a, role: Reader, apikey: [k]}\n"}) {
    EXPECT_EQ(ParseTokens(text).status().code(), base::Code::kInvalidArgument)
        << text;
  }
}

// --- Control endpoints without a network ---

TEST_F(ApiControlTest, ControlEndpointsNeedNoToken) {
  EXPECT_EQ(Send("GET", "/control/faults", "", "", "").status, 200);
  EXPECT_EQ(Send("GET", "/control/clock", "", "", "").status, 200);
}

TEST_F(ApiControlTest, ControlCanBeTurnedOff) {
  KeyProtectApi closed(service_, clock_, Tokens(), {.control = false});
  HttpRequest request{"GET", "/control/faults", {}, ""};
  request.headers["authorization"] = "Bearer manager";

  HttpResponse response = closed.Handle(request);

  EXPECT_EQ(response.status, 404);
}

TEST_F(ApiControlTest, ClockMovesOnlyWhenSimulated) {
  base::SystemClock wall;
  KeyProtectApi on_wall(service_, wall, Tokens());
  HttpRequest request{"POST", "/control/clock", {}, R"({"advance":"1s"})"};

  HttpResponse refused = on_wall.Handle(request);
  HttpResponse moved = Send("POST", "/control/clock", R"({"advance":"90m"})");

  EXPECT_EQ(refused.status, 409);
  EXPECT_EQ(FirstReason(refused)["code"], "CLOCK_NOT_SIMULATED_ERR");
  EXPECT_EQ(moved.status, 200);
  EXPECT_EQ(Parse(moved)["now"], "2026-01-01T01:30:00Z");
  EXPECT_EQ(Parse(moved)["simulated"], true);
  EXPECT_EQ(clock_.Now(), kStart + minutes(90));
}

TEST_F(ApiControlTest, ClockCannotMovePastTheLatestTime) {
  const std::string century = R"({"advance":"36500d"})";
  ASSERT_EQ(Send("POST", "/control/clock", century).status, 200);
  ASSERT_EQ(Send("POST", "/control/clock", century).status, 200);
  const base::Time before = clock_.Now();

  HttpResponse refused = Send("POST", "/control/clock", century);
  HttpResponse far =
      Send("POST", "/control/clock", R"({"to":"9999-12-31T00:00:00Z"})");

  EXPECT_EQ(refused.status, 400);
  EXPECT_EQ(FirstReason(refused)["code"], "INVALID_FIELD_ERR");
  EXPECT_EQ(FirstReason(refused)["message"],
            "field advance would move the clock past 2262-04-11T23:47:16Z");
  EXPECT_EQ(far.status, 400);
  EXPECT_EQ(FirstReason(far)["code"], "INVALID_FIELD_ERR");
  EXPECT_EQ(clock_.Now(), before);
}

TEST_F(ApiControlTest, FaultAddedOverControlAppliesToLibraryCalls) {
  HttpResponse added =
      Send("POST", "/control/faults",
           R"({"kind":"error","operation":"list_keys","status":429})");

  ASSERT_EQ(added.status, 201) << added.body;
  EXPECT_EQ(Parse(added)["reason"], std::string(kReasonInjectedFault));
  EXPECT_EQ(service_.ListKeys("inst-kp").status().code(),
            base::Code::kResourceExhausted);
}

}  // namespace
}  // namespace kms
