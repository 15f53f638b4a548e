#include "apiserver/http_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/crypto.h"
#include "tests/apiserver/handler_env.h"

namespace apiserver {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST_F(ApiHandlerTest, CreateThenGetSecret) {
  ApiResponse created = Send("POST", kSecrets, SecretJson("s1"));
  ApiResponse got = Send("GET", std::string(kSecrets) + "/s1");

  EXPECT_EQ(created.status, 201);
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(Body(got)["data"]["password"], base::Base64Encode("hunter2"));
  EXPECT_EQ(Body(got)["metadata"]["uid"], Body(created)["metadata"]["uid"]);
}

// The body that kubectl v1.32 sends for `kubectl create secret generic s1
// --from-literal=a=b`.
constexpr char kKubectlProtobufSecret[] =
    "azhzAAoMCgJ2MRIGU2VjcmV0Eh4KEgoCczESABoAIgAqADIAOABCABIGCgFhEgFiGgAaACIA";

TEST_F(ApiHandlerTest, ProtobufBodyCreatesSecret) {
  auto body = base::Base64Decode(kKubectlProtobufSecret);
  ASSERT_TRUE(body.ok());

  ApiResponse created =
      Send("POST", kSecrets, *body,
           {{"content-type", "application/vnd.kubernetes.protobuf"}});

  EXPECT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(Body(created)["metadata"]["name"], "s1");
  EXPECT_EQ(Body(created)["data"]["a"], base::Base64Encode("b"));
  EXPECT_EQ(Body(created)["type"], "Opaque");
}

TEST_F(ApiHandlerTest, TruncatedProtobufIsBadRequest) {
  auto body = base::Base64Decode(kKubectlProtobufSecret);
  ASSERT_TRUE(body.ok());

  ApiResponse created =
      Send("POST", kSecrets, body->substr(0, 30),
           {{"content-type", "application/vnd.kubernetes.protobuf"}});

  EXPECT_EQ(created.status, 400);
  EXPECT_EQ(Body(created)["reason"], "BadRequest");
}

TEST_F(ApiHandlerTest, MissingSecretIsNotFoundStatus) {
  ApiResponse response = Send("GET", std::string(kSecrets) + "/x");

  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(Body(response),
            Json::parse(R"({"kind":"Status","apiVersion":"v1","metadata":{},
              "status":"Failure","message":"secrets \"x\" not found",
              "reason":"NotFound","details":{"name":"x","kind":"secrets"},
              "code":404})"));
}

TEST_F(ApiHandlerTest, DuplicateCreateIsConflictCode) {
  Send("POST", kSecrets, SecretJson("s1"));

  ApiResponse response = Send("POST", kSecrets, SecretJson("s1"));

  EXPECT_EQ(response.status, 409);
  EXPECT_EQ(Body(response)["reason"], "AlreadyExists");
  EXPECT_EQ(Body(response)["message"], "secrets \"s1\" already exists");
}

TEST_F(ApiHandlerTest, InvalidSecretIsUnprocessable) {
  ApiResponse response = Send("POST", kSecrets, SecretJson("Bad"));

  EXPECT_EQ(response.status, 422);
  EXPECT_EQ(Body(response)["reason"], "Invalid");
  EXPECT_EQ(Body(response)["details"]["kind"], "Secret");
  EXPECT_THAT(Body(response)["message"].get<std::string>(),
              StartsWith("Secret \"Bad\" is invalid: metadata.name"));
}

TEST_F(ApiHandlerTest, StaleUpdateIsConflict) {
  Json created = Body(Send("POST", kSecrets, SecretJson("s1")));
  Json first = created;
  first["data"]["password"] = base::Base64Encode("one");
  ASSERT_EQ(Send("PUT", std::string(kSecrets) + "/s1", first.dump()).status,
            200);

  ApiResponse response =
      Send("PUT", std::string(kSecrets) + "/s1", created.dump());

  EXPECT_EQ(response.status, 409);
  EXPECT_EQ(Body(response)["reason"], "Conflict");
}

TEST_F(ApiHandlerTest, PutWithOtherNameIsBadRequest) {
  Send("POST", kSecrets, SecretJson("s1"));

  ApiResponse response =
      Send("PUT", std::string(kSecrets) + "/s1", SecretJson("s2"));

  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(Body(response)["message"],
            "the name of the object (s2) does not match the name on the URL "
            "(s1)");
}

TEST_F(ApiHandlerTest, MergePatchChangesOneKey) {
  Send("POST", kSecrets, SecretJson("s1"));

  ApiResponse response =
      Send("PATCH", std::string(kSecrets) + "/s1",
           R"({"metadata":{"labels":{"team":"a"}}})",
           {{"content-type", "application/merge-patch+json"}});

  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(Body(response)["metadata"]["labels"]["team"], "a");
  EXPECT_EQ(Body(response)["data"]["password"], base::Base64Encode("hunter2"));
}

TEST_F(ApiHandlerTest, DeleteReturnsSuccessStatus) {
  Send("POST", kSecrets, SecretJson("s1"));

  ApiResponse deleted = Send("DELETE", std::string(kSecrets) + "/s1");
  ApiResponse again = Send("DELETE", std::string(kSecrets) + "/s1");

  EXPECT_EQ(deleted.status, 200);
  EXPECT_EQ(Body(deleted)["status"], "Success");
  EXPECT_EQ(again.status, 404);
}

TEST_F(ApiHandlerTest, DeleteCollectionDeletesSelectedSecrets) {
  Json labeled = Json::parse(SecretJson("s1"));
  labeled["metadata"]["labels"] = {{"team", "a"}};
  Send("POST", kSecrets, labeled.dump());
  labeled["metadata"]["name"] = "s2";
  Send("POST", kSecrets, labeled.dump());
  Send("POST", kSecrets, SecretJson("s3"));
  Send("POST", "/api/v1/namespaces/kube-system/secrets", labeled.dump());

  ApiResponse deleted =
      Send("DELETE", std::string(kSecrets) + "?labelSelector=team%3Da");
  ApiResponse namespaces = Send("DELETE", "/api/v1/namespaces");
  Json left = Body(Send("GET", "/api/v1/secrets"));

  ASSERT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_EQ(Body(deleted)["kind"], "SecretList");
  ASSERT_EQ(Body(deleted)["items"].size(), 2u);
  EXPECT_EQ(Body(deleted)["items"][0]["metadata"]["name"], "s1");
  EXPECT_EQ(Body(deleted)["items"][1]["metadata"]["name"], "s2");
  EXPECT_EQ(namespaces.status, 405);
  std::vector<std::string> names;
  for (const Json& item : left["items"]) {
    names.push_back(item["metadata"]["namespace"].get<std::string>() + "/" +
                    item["metadata"]["name"].get<std::string>());
  }
  EXPECT_EQ(names, (std::vector<std::string>{"default/s3", "kube-system/s2"}));
}

TEST_F(ApiHandlerTest, ListAcrossNamespacesAndAsTable) {
  Send("POST", kSecrets, SecretJson("s1"));
  Send("POST", "/api/v1/namespaces/kube-system/secrets", SecretJson("s2"));
  clock_.Advance(std::chrono::seconds(200));

  ApiResponse list = Send("GET", "/api/v1/secrets");
  ApiResponse table =
      Send("GET", kSecrets, "",
           {{"accept", "application/json;as=Table;v=v1;g=meta.k8s.io"}});

  EXPECT_EQ(Body(list)["kind"], "SecretList");
  EXPECT_EQ(Body(list)["items"].size(), 2u);
  EXPECT_EQ(Body(table)["kind"], "Table");
  ASSERT_EQ(Body(table)["rows"].size(), 1u);
  EXPECT_EQ(Body(table)["rows"][0]["cells"],
            Json::parse(R"(["s1", "Opaque", 1, "3m20s"])"));
}

TEST_F(ApiHandlerTest, ListFiltersByLabelSelector) {
  Json labeled = Json::parse(SecretJson("s1"));
  labeled["metadata"]["labels"] = {{"team", "a"}};
  Send("POST", kSecrets, labeled.dump());
  Send("POST", kSecrets, SecretJson("s2"));

  Json team_a =
      Body(Send("GET", std::string(kSecrets) + "?labelSelector=team%3Da"));
  Json no_team =
      Body(Send("GET", std::string(kSecrets) + "?labelSelector=!team"));
  Json set_based =
      Body(Send("GET", std::string(kSecrets) + "?labelSelector=team+in+(a)"));

  ASSERT_EQ(team_a["items"].size(), 1u);
  EXPECT_EQ(team_a["items"][0]["metadata"]["name"], "s1");
  ASSERT_EQ(no_team["items"].size(), 1u);
  EXPECT_EQ(no_team["items"][0]["metadata"]["name"], "s2");
  ASSERT_EQ(set_based["items"].size(), 1u);
  EXPECT_EQ(set_based["items"][0]["metadata"]["name"], "s1");
}

TEST_F(ApiHandlerTest, WatchStreamsChanges) {
  Send("POST", kSecrets, SecretJson("before"));
  StreamCollector collector;
  ApiResponse response = Send("GET", std::string(kSecrets) + "?watch=1");
  ASSERT_TRUE(response.stream);
  std::function<void()> stop = response.stream(collector.Sink());

  Json created = Body(Send("POST", kSecrets, SecretJson("s1")));
  Json changed = created;
  changed["data"]["password"] = base::Base64Encode("changed");
  Send("PUT", std::string(kSecrets) + "/s1", changed.dump());
  Send("DELETE", std::string(kSecrets) + "/s1");
  Send("POST", "/api/v1/namespaces/kube-system/secrets", SecretJson("other"));
  stop();
  Send("POST", kSecrets, SecretJson("after-stop"));

  EXPECT_EQ(collector.Summary(),
            (std::vector<std::string>{"ADDED before", "ADDED s1", "MODIFIED s1",
                                      "DELETED s1"}));
  std::vector<Json> events = collector.events();
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[1]["object"]["metadata"]["resourceVersion"],
            created["metadata"]["resourceVersion"]);
  EXPECT_EQ(events[2]["object"]["data"]["password"],
            base::Base64Encode("changed"));
  EXPECT_FALSE(collector.ended());
}

TEST_F(ApiHandlerTest, WatchFromResourceVersionSkipsOlderObjects) {
  Json first = Body(Send("POST", kSecrets, SecretJson("s1")));
  Send("POST", kSecrets, SecretJson("s2"));
  StreamCollector collector;
  ApiResponse response =
      Send("GET", std::string(kSecrets) + "?watch=true&resourceVersion=" +
                      first["metadata"]["resourceVersion"].get<std::string>());
  ASSERT_TRUE(response.stream);

  std::function<void()> stop = response.stream(collector.Sink());
  stop();

  EXPECT_EQ(collector.Summary(), (std::vector<std::string>{"ADDED s2"}));
}

TEST_F(ApiHandlerTest, WatchByFieldSelectorFollowsOneObject) {
  StreamCollector collector;
  ApiResponse response =
      Send("GET",
           std::string(kSecrets) + "?watch=1&fieldSelector=metadata.name%3Ds2");
  ASSERT_TRUE(response.stream);
  std::function<void()> stop = response.stream(collector.Sink());

  Send("POST", kSecrets, SecretJson("s1"));
  Send("POST", kSecrets, SecretJson("s2"));
  stop();

  EXPECT_EQ(collector.Summary(), (std::vector<std::string>{"ADDED s2"}));
}

TEST_F(ApiHandlerTest, WatchByLabelSelectorAddsAndDeletes) {
  auto label_app = [this](const std::string& app) {
    return Body(Send("PATCH", std::string(kSecrets) + "/wa",
                     Json{{"metadata", {{"labels", {{"app", app}}}}}}.dump(),
                     {{"content-type", "application/merge-patch+json"}}));
  };
  StreamCollector collector;
  ApiResponse response =
      Send("GET", std::string(kSecrets) + "?watch=1&labelSelector=app+in+(x)");
  ASSERT_TRUE(response.stream);
  std::function<void()> stop = response.stream(collector.Sink());

  Send("POST", kSecrets, SecretJson("wa"));
  Json matching = label_app("x");
  Json not_matching = label_app("y");
  label_app("z");
  label_app("x");
  Send("DELETE", std::string(kSecrets) + "/wa");
  stop();

  EXPECT_EQ(collector.Summary(),
            (std::vector<std::string>{"ADDED wa", "DELETED wa", "ADDED wa",
                                      "DELETED wa"}));
  std::vector<Json> events = collector.events();
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0]["object"]["metadata"]["labels"]["app"], "x");
  EXPECT_EQ(events[0]["object"]["metadata"]["resourceVersion"],
            matching["metadata"]["resourceVersion"]);
  // The object before the change that made it stop matching, with the
  // change's resourceVersion.
  EXPECT_EQ(events[1]["object"]["metadata"]["labels"]["app"], "x");
  EXPECT_EQ(events[1]["object"]["metadata"]["resourceVersion"],
            not_matching["metadata"]["resourceVersion"]);
  EXPECT_EQ(events[3]["object"]["metadata"]["labels"]["app"], "x");
}

TEST_F(ApiHandlerTest, WatchBySelectorsKeepsModified) {
  auto label_app = [this](const std::string& name, const std::string& app) {
    Send("PATCH", std::string(kSecrets) + "/" + name,
         Json{{"metadata", {{"labels", {{"app", app}}}}}}.dump(),
         {{"content-type", "application/merge-patch+json"}});
  };
  Send("POST", kSecrets, SecretJson("wa"));
  label_app("wa", "x");
  StreamCollector collector;
  ApiResponse response = Send("GET", std::string(kSecrets) +
                                         "?watch=1&labelSelector=app&"
                                         "fieldSelector=metadata.name%3Dwa");
  ASSERT_TRUE(response.stream);
  std::function<void()> stop = response.stream(collector.Sink());

  label_app("wa", "y");
  Send("POST", kSecrets, SecretJson("other"));
  label_app("other", "x");
  stop();

  EXPECT_EQ(collector.Summary(),
            (std::vector<std::string>{"ADDED wa", "MODIFIED wa"}));
}

TEST_F(ApiHandlerTest, WatchOfCompactedVersionIsExpired) {
  Json first = Body(Send("POST", kSecrets, SecretJson("s1")));
  Send("POST", kSecrets, SecretJson("s2"));
  Send("POST", kSecrets, SecretJson("s3"));
  ASSERT_TRUE(store_->Compact(store_->CurrentRevision()).ok());
  StreamCollector collector;
  const std::string version =
      first["metadata"]["resourceVersion"].get<std::string>();
  ApiResponse response = Send(
      "GET", std::string(kSecrets) + "?watch=1&resourceVersion=" + version);
  ASSERT_TRUE(response.stream);

  std::function<void()> stop = response.stream(collector.Sink());
  stop();

  std::vector<Json> events = collector.events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["type"], "ERROR");
  EXPECT_EQ(events[0]["object"]["code"], 410);
  EXPECT_EQ(events[0]["object"]["reason"], "Expired");
  EXPECT_EQ(events[0]["object"]["message"],
            "too old resource version: " + version + " (" +
                std::to_string(store_->CurrentRevision()) + ")");
  EXPECT_TRUE(collector.ended());
}

TEST_F(ApiHandlerTest, UndecryptableSecretIsInternalError) {
  Send("POST", kSecrets, SecretJson("s1"));
  ASSERT_TRUE(kms_.Disable(instance_id_, key_id_).ok());
  kms_transformer_->ClearCache();

  ApiResponse got = Send("GET", std::string(kSecrets) + "/s1");
  ApiResponse list = Send("GET", kSecrets);

  EXPECT_EQ(got.status, 500);
  EXPECT_EQ(Body(got)["reason"], "InternalError");
  EXPECT_THAT(Body(got)["message"].get<std::string>(),
              StartsWith("Internal error occurred: unable to transform key "
                         "\"/registry/secrets/default/s1\": "));
  EXPECT_EQ(list.status, 500);
}

TEST_F(ApiHandlerTest, DiscoveryListsServedResources) {
  Json api = Body(Send("GET", "/api"));
  Json v1 = Body(Send("GET", "/api/v1"));
  Json version = Body(Send("GET", "/version"));

  EXPECT_EQ(api["versions"], Json::array({"v1"}));
  EXPECT_EQ(v1["groupVersion"], "v1");
  ASSERT_EQ(v1["resources"].size(), 3u);
  EXPECT_EQ(v1["resources"][2]["name"], "secrets");
  EXPECT_EQ(version["gitVersion"], "v1.32.0");
  EXPECT_EQ(version["minor"], "32");
  EXPECT_EQ(Send("GET", "/api/v1/pods").status, 404);
}

TEST_F(ApiHandlerTest, HealthChecksHaveTheirOwnPaths) {
  ApiResponse verbose = Send("GET", "/readyz?verbose");
  ApiResponse ping = Send("GET", "/livez/ping");
  ApiResponse etcd = Send("GET", "/healthz/etcd");
  ApiResponse kms_on_livez = Send("GET", "/livez/kms-providers");
  ApiResponse unknown = Send("GET", "/readyz/no-such-check");

  EXPECT_EQ(verbose.status, 200);
  EXPECT_EQ(verbose.body,
            "[+]ping ok\n[+]log ok\n[+]etcd ok\n[+]kms-providers ok\n"
            "readyz check passed\n");
  EXPECT_EQ(ping.status, 200);
  EXPECT_EQ(ping.body, "ok");
  EXPECT_EQ(etcd.body, "ok");
  EXPECT_EQ(kms_on_livez.status, 404);
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.body, "404 page not found\n");
}

// A KMS outage: writes coast on the cached DEK seed for 3 minutes after
// the last healthy status and then fail; reads of cached seeds go on;
// /readyz reports the provider and /livez does not.
TEST_F(ApiHandlerTest, KmsOutageCoastsWritesThenFailsThem) {
  ASSERT_EQ(Send("POST", kSecrets, SecretJson("before")).status, 201);
  ASSERT_TRUE(kms_.Disable(instance_id_, key_id_).ok());

  clock_.Advance(std::chrono::minutes(3));
  ApiResponse coasting = Send("POST", kSecrets, SecretJson("coasting"));
  clock_.Advance(std::chrono::seconds(1));
  ApiResponse expired = Send("POST", kSecrets, SecretJson("expired"));
  ApiResponse read = Send("GET", std::string(kSecrets) + "/before");
  ApiResponse readyz = Send("GET", "/readyz");
  ApiResponse livez = Send("GET", "/livez");

  EXPECT_EQ(coasting.status, 201) << coasting.body;
  EXPECT_EQ(expired.status, 500);
  EXPECT_EQ(Body(expired)["reason"], "InternalError");
  EXPECT_THAT(Body(expired)["message"].get<std::string>(),
              testing::AllOf(StartsWith("Internal error occurred: "),
                             HasSubstr("expired at 2026-01-02T00:03:00Z "
                                       "(current time is "
                                       "2026-01-02T00:03:01Z)")));
  EXPECT_EQ(Send("GET", std::string(kSecrets) + "/expired").status, 404);
  EXPECT_EQ(read.status, 200);
  EXPECT_EQ(readyz.status, 500);
  EXPECT_EQ(livez.status, 200);

  ASSERT_TRUE(kms_.Enable(instance_id_, key_id_).ok());
  clock_.Advance(std::chrono::seconds(10));
  EXPECT_EQ(Send("POST", kSecrets, SecretJson("after")).status, 201);
  EXPECT_EQ(Send("GET", "/readyz").status, 200);
}

TEST_F(ApiHandlerTest, HealthFollowsKmsButLivezDoesNot) {
  EXPECT_EQ(Send("GET", "/readyz").body, "ok");
  EXPECT_EQ(Send("GET", "/healthz/kms-providers").body, "ok");
  ASSERT_TRUE(kms_.Disable(instance_id_, key_id_).ok());
  clock_.Advance(std::chrono::minutes(1));

  ApiResponse readyz = Send("GET", "/readyz");
  ApiResponse kms = Send("GET", "/healthz/kms-providers");
  ApiResponse livez = Send("GET", "/livez");

  EXPECT_EQ(readyz.status, 500);
  EXPECT_THAT(readyz.body,
              HasSubstr("[-]kms-providers failed: reason withheld\n"));
  EXPECT_EQ(kms.status, 500);
  EXPECT_THAT(kms.body, StartsWith("internal server error: kmsv2 Provider kp "
                                   "is not healthy"));
  EXPECT_EQ(livez.status, 200);
  EXPECT_EQ(livez.body, "ok");
}

class MetricsTest : public ApiHandlerTest {
 protected:
  ApiHandlerOptions HandlerOptions() override {
    ApiHandlerOptions options = ApiHandlerTest::HandlerOptions();
    options.encryption_config_reloads = [] {
      EncryptionConfigReloader::Stats stats;
      stats.successes = 2;
      stats.failures = 1;
      return stats;
    };
    return options;
  }

  // The value of the sample line that starts with `series`, or "absent".
  static std::string Sample(const std::string& text,
                            const std::string& series) {
    const size_t at = text.find("\n" + series + " ");
    if (at == std::string::npos) return "absent";
    const size_t start = at + series.size() + 2;
    return text.substr(start, text.find('\n', start) - start);
  }
};

TEST_F(MetricsTest, CountsRequestsDekCacheAndKmsCalls) {
  Send("POST", kSecrets, SecretJson("s1"));
  Send("GET", std::string(kSecrets) + "/s1");
  Send("GET", std::string(kSecrets) + "/missing");
  kms_transformer_->ClearCache();
  Send("GET", std::string(kSecrets) + "/s1");

  ApiResponse metrics = Send("GET", "/metrics");

  ASSERT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.content_type, "text/plain; version=0.0.4; charset=utf-8");
  const std::string& text = metrics.body;
  EXPECT_THAT(text, HasSubstr("# TYPE apiserver_request_total counter\n"));
  EXPECT_EQ(Sample(text,
                   "apiserver_request_total{code=\"201\",component="
                   "\"apiserver\",group=\"\",resource=\"secrets\",scope="
                   "\"namespace\",verb=\"POST\",version=\"v1\"}"),
            "1")
      << text;
  EXPECT_EQ(Sample(text,
                   "apiserver_request_total{code=\"404\",component="
                   "\"apiserver\",group=\"\",resource=\"secrets\",scope="
                   "\"resource\",verb=\"GET\",version=\"v1\"}"),
            "1")
      << text;
  EXPECT_EQ(Sample(text,
                   "apiserver_envelope_encryption_dek_cache_hits_total{"
                   "provider_name=\"kp\"}"),
            "1")
      << text;
  EXPECT_EQ(Sample(text,
                   "apiserver_envelope_encryption_dek_cache_misses_total{"
                   "provider_name=\"kp\"}"),
            "1")
      << text;
  EXPECT_EQ(Sample(text,
                   "apiserver_envelope_encryption_kms_operations_latency_"
                   "seconds_count{grpc_status_code=\"OK\",method_name=\"/"
                   "v2.KeyManagementService/Decrypt\",provider_name=\"kp\"}"),
            "1")
      << text;
  EXPECT_EQ(Sample(text,
                   "apiserver_envelope_encryption_kms_operations_latency_"
                   "seconds_count{grpc_status_code=\"OK\",method_name=\"/"
                   "v2.KeyManagementService/Encrypt\",provider_name=\"kp\"}"),
            "1")
      << text;
  EXPECT_EQ(Sample(text,
                   "apiserver_encryption_config_controller_automatic_reloads_"
                   "total{status=\"success\"}"),
            "2");
  EXPECT_EQ(Sample(text,
                   "apiserver_encryption_config_controller_automatic_reloads_"
                   "total{status=\"failure\"}"),
            "1");
}

}  // namespace
}  // namespace apiserver
