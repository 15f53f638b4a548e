// Fault injection over HTTP: /control/faults on a real server on
// 127.0.0.1, latency on the server's simulated clock, resets, hangs and a
// closed listener.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "base/clock.h"
#include "base/random.h"
#include "kms-mock/api.h"
#include "kms-mock/kms.h"
#include "kms-mock/server.h"
#include "tests/kms/http_client.h"

namespace kms {
namespace {

using testing::Client;
using testing::RequestOptions;
using Json = nlohmann::json;
namespace http = boost::beast::http;
namespace net = boost::asio;
using std::chrono::nanoseconds;
using std::chrono::seconds;

const base::Time kStart = base::Time(
    std::chrono::sys_days{std::chrono::year{2026} / std::chrono::January / 1});

std::string ReasonCode(const http::response<http::string_body>& response) {
  Json body = Json::parse(response.body(), nullptr, false);
  if (body.is_discarded()) return "<not JSON: " + response.body() + ">";
  return body["resources"][0]["reasons"][0].value("code", "");
}

class FaultServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(
        service_.CreateInstance("i", InstanceType::kKeyProtect, "inst-1").ok());
    key_ = service_.CreateKey("inst-1", {.name = "crk"})->id;
    other_key_ = service_.CreateKey("inst-1", {.name = "other"})->id;
    base::StatusOr<std::unique_ptr<Server>> server = Server::Start(api_, {});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(server).value();
    control_ = std::make_unique<Client>(server_->port());
  }

  // Adds a fault through POST /control/faults and returns its id.
  uint64_t AddFault(const Json& fault) {
    auto response =
        control_->Send(http::verb::post, "/control/faults", fault.dump());
    EXPECT_EQ(response.result_int(), 201) << response.body();
    Json body = Json::parse(response.body(), nullptr, false);
    return body.is_object() ? body.value("id", uint64_t{0}) : 0;
  }

  Json GetFault(uint64_t id) {
    auto response = control_->Send(http::verb::get,
                                   "/control/faults/" + std::to_string(id));
    EXPECT_EQ(response.result_int(), 200) << response.body();
    return Json::parse(response.body());
  }

  std::string KeyPath(const std::string& key_id) {
    return "/api/v2/keys/" + key_id;
  }

  base::SimulatedClock clock_{kStart};
  base::SeededRandom random_{5};
  KeyService service_{clock_, random_};
  KeyProtectApi api_{service_,
                     clock_,
                     {{"admin", {Role::kManager, {}}}},
                     {.simulated_clock = &clock_}};
  std::unique_ptr<Server> server_;
  std::unique_ptr<Client> control_;  // stays connected during outages
  std::string key_;
  std::string other_key_;
};

// --- Errors ---

TEST_F(FaultServerTest, ErrorOnNthUnwrapHasStatusAndReason) {
  Client client(server_->port());
  std::string wrapped =
      Json::parse(client.Send(http::verb::post, KeyPath(key_) + "/actions/wrap")
                      .body())["ciphertext"];
  std::string unwrap = Json{{"ciphertext", wrapped}}.dump();
  uint64_t id = AddFault({{"kind", "error"},
                          {"operation", "unwrap"},
                          {"status", 503},
                          {"reason", "SERVICE_UNAVAILABLE_ERR"},
                          {"nth", 2}});

  auto first =
      client.Send(http::verb::post, KeyPath(key_) + "/actions/unwrap", unwrap);
  auto second =
      client.Send(http::verb::post, KeyPath(key_) + "/actions/unwrap", unwrap);
  auto third =
      client.Send(http::verb::post, KeyPath(key_) + "/actions/unwrap", unwrap);

  EXPECT_EQ(first.result_int(), 200);
  EXPECT_EQ(second.result_int(), 503);
  EXPECT_EQ(ReasonCode(second), "SERVICE_UNAVAILABLE_ERR");
  Json error = Json::parse(second.body());
  EXPECT_EQ(error["metadata"]["collectionType"],
            "application/vnd.ibm.kms.error+json");
  EXPECT_EQ(error["resources"][0]["reasons"][0]["status"], 503);
  EXPECT_EQ(third.result_int(), 200);
  Json fault = GetFault(id);
  EXPECT_EQ(fault["matched"], 3);
  EXPECT_EQ(fault["hits"], 1);
}

TEST_F(FaultServerTest, KeyScopedErrorLeavesOtherKeys) {
  Client client(server_->port());
  AddFault({{"kind", "error"}, {"key", key_}, {"status", 500}});

  EXPECT_EQ(client.Send(http::verb::get, KeyPath(key_)).result_int(), 500);
  EXPECT_EQ(client.Send(http::verb::get, KeyPath(other_key_)).result_int(),
            200);
  EXPECT_EQ(client.Send(http::verb::get, "/api/v2/keys").result_int(), 200);
}

TEST_F(FaultServerTest, InstanceScopedErrorLeavesOtherInstances) {
  ASSERT_TRUE(
      service_.CreateInstance("h", InstanceType::kHyperProtect, "inst-2").ok());
  Client client(server_->port());
  AddFault({{"kind", "error"}, {"instance", "inst-2"}, {"status", 502}});

  auto faulted =
      client.Send(http::verb::get, "/api/v2/keys", "", {.instance = "inst-2"});
  auto other = client.Send(http::verb::get, "/api/v2/keys");

  EXPECT_EQ(faulted.result_int(), 502);
  EXPECT_EQ(ReasonCode(faulted), std::string(kReasonInjectedFault));
  EXPECT_EQ(other.result_int(), 200);
}

TEST_F(FaultServerTest, FaultAppliesBeforeTokenCheck) {
  Client client(server_->port());
  AddFault({{"kind", "error"}, {"status", 503}});

  auto response = client.Send(http::verb::get, "/api/v2/keys", "",
                              {.token = "not-a-token"});

  EXPECT_EQ(response.result_int(), 503);
}

TEST_F(FaultServerTest, RemovedFaultStopsFailing) {
  Client client(server_->port());
  uint64_t id = AddFault({{"kind", "error"}, {"operation", "get_key"}});
  ASSERT_EQ(client.Send(http::verb::get, KeyPath(key_)).result_int(), 503);

  auto removed = control_->Send(http::verb::delete_,
                                "/control/faults/" + std::to_string(id));
  auto again = control_->Send(http::verb::delete_,
                              "/control/faults/" + std::to_string(id));

  EXPECT_EQ(removed.result_int(), 204);
  EXPECT_EQ(again.result_int(), 404);
  EXPECT_EQ(client.Send(http::verb::get, KeyPath(key_)).result_int(), 200);
}

TEST_F(FaultServerTest, ListAndClearFaults) {
  AddFault({{"kind", "error"}, {"operation", "wrap"}});
  AddFault({{"kind", "latency"}, {"latency", "250ms"}, {"key", key_}});

  Json listed =
      Json::parse(control_->Send(http::verb::get, "/control/faults").body());
  auto cleared = control_->Send(http::verb::delete_, "/control/faults");

  ASSERT_EQ(listed["faults"].size(), 2u);
  EXPECT_EQ(listed["faults"][0]["operation"], "wrap");
  EXPECT_EQ(listed["faults"][0]["status"], 503);
  EXPECT_EQ(listed["faults"][1]["latency"], "250ms");
  EXPECT_EQ(listed["faults"][1]["key"], key_);
  EXPECT_EQ(cleared.result_int(), 204);
  EXPECT_TRUE(service_.faults().List().empty());
}

TEST_F(FaultServerTest, BadFaultBodiesNameTheField) {
  struct Case {
    std::string body;
    std::string field;
  };
  std::vector<Case> cases = {
      {R"({"operation":"wrap"})", "kind"},
      {R"({"kind":"crash"})", "kind"},
      {R"({"kind":"error","operation":"encrypt"})", "operation"},
      {R"({"kind":"error","status":200})", "status"},
      {R"({"kind":"error","status":"503"})", "status"},
      {R"({"kind":"error","rate":2})", "rate"},
      {R"({"kind":"error","nth":-1})", "nth"},
      {R"({"kind":"error","max_hits":-2})", "max_hits"},
      {R"({"kind":"error","seed":-2})", "seed"},
      {R"({"kind":"latency"})", "latency"},
      {R"({"kind":"latency","latency":"fast"})", "latency"},
      {R"({"kind":"outage","mode":"crash"})", "mode"},
      {R"({"kind":"error","duration":"0s"})", "duration"},
      {R"({"kind":"error","opration":"wrap"})", "opration"},
      {R"({"kind":"error",)", "body"},
      {R"(["kind"])", "body"},
  };

  for (const Case& c : cases) {
    auto response = control_->Send(http::verb::post, "/control/faults", c.body);

    EXPECT_EQ(response.result_int(), 400) << c.body;
    Json body = Json::parse(response.body(), nullptr, false);
    ASSERT_FALSE(body.is_discarded()) << c.body;
    EXPECT_EQ(body["resources"][0]["reasons"][0]["target"]["name"], c.field)
        << c.body;
  }
  EXPECT_TRUE(service_.faults().List().empty());
}

TEST_F(FaultServerTest, FaultWithDurationExpiresOnServerClock) {
  Client client(server_->port());
  AddFault({{"kind", "error"}, {"duration", "30s"}});
  ASSERT_EQ(client.Send(http::verb::get, "/api/v2/keys").result_int(), 503);

  auto advanced = control_->Send(http::verb::post, "/control/clock",
                                 R"({"advance":"30s"})");

  EXPECT_EQ(advanced.result_int(), 200) << advanced.body();
  EXPECT_EQ(Json::parse(advanced.body())["now"], "2026-01-01T00:00:30Z");
  EXPECT_EQ(client.Send(http::verb::get, "/api/v2/keys").result_int(), 200);
  EXPECT_TRUE(service_.faults().List().empty());
}

// --- Latency ---

TEST_F(FaultServerTest, LatencyHoldsResponseUntilServerClockAdvances) {
  uint64_t id = AddFault(
      {{"kind", "latency"}, {"operation", "get_key"}, {"latency", "2s"}});
  Client client(server_->port());

  client.Write(http::verb::get, KeyPath(key_));
  service_.faults().WaitForHits(id, 1);
  // With one I/O thread, this round trip completes only after the handler
  // of the delayed request has returned and scheduled its response.
  ASSERT_EQ(control_->Send(http::verb::get, "/control/clock").result_int(),
            200);

  EXPECT_EQ(clock_.NextTimerAt(), kStart + seconds(2));
  EXPECT_EQ(client.Available(), 0u);
  clock_.Advance(seconds(2) - nanoseconds(1));
  EXPECT_EQ(client.Available(), 0u);
  EXPECT_EQ(clock_.NextTimerAt(), kStart + seconds(2));
  clock_.Advance(nanoseconds(1));
  auto response = client.Read();

  EXPECT_EQ(response.result_int(), 200) << response.body();
  EXPECT_EQ(Json::parse(response.body())["resources"][0]["id"], key_);
  EXPECT_FALSE(clock_.NextTimerAt().has_value());
}

TEST_F(FaultServerTest, LatencyAndErrorDelayTheError) {
  AddFault({{"kind", "latency"}, {"latency", "1s"}});
  uint64_t error = AddFault({{"kind", "error"}, {"status", 504}});
  Client client(server_->port());

  client.Write(http::verb::get, "/api/v2/keys");
  service_.faults().WaitForHits(error, 1);
  ASSERT_EQ(control_->Send(http::verb::get, "/control/faults").result_int(),
            200);
  EXPECT_EQ(clock_.NextTimerAt(), kStart + seconds(1));
  clock_.Advance(seconds(1));
  auto response = client.Read();

  EXPECT_EQ(response.result_int(), 504);
}

TEST_F(FaultServerTest, ServerStopCancelsDelayedResponse) {
  uint64_t id = AddFault({{"kind", "latency"}, {"latency", "1h"}});
  Client client(server_->port());
  client.Write(http::verb::get, "/api/v2/keys");
  service_.faults().WaitForHits(id, 1);
  ASSERT_EQ(control_->Send(http::verb::get, "/control/clock").result_int(),
            200);
  ASSERT_TRUE(clock_.NextTimerAt().has_value());

  server_->Stop();

  EXPECT_FALSE(clock_.NextTimerAt().has_value());
  EXPECT_TRUE(client.ServerClosed());
}

// --- Outages ---

TEST_F(FaultServerTest, HangNeverAnswersAndClosesWhenFaultRemoved) {
  uint64_t id = AddFault(
      {{"kind", "outage"}, {"mode", "hang"}, {"operation", "get_key"}});
  Client client(server_->port());

  client.Write(http::verb::get, KeyPath(key_));
  service_.faults().WaitForHits(id, 1);
  auto removed = control_->Send(http::verb::delete_,
                                "/control/faults/" + std::to_string(id));

  EXPECT_EQ(removed.result_int(), 204);
  // A response written before the close would be read here instead.
  EXPECT_TRUE(client.ServerClosed());
  Client after(server_->port());
  EXPECT_EQ(after.Send(http::verb::get, KeyPath(key_)).result_int(), 200);
}

TEST_F(FaultServerTest, HangKeepsConnectionOpenAcrossClockAdvance) {
  uint64_t id = AddFault({{"kind", "outage"}, {"mode", "hang"}});
  Client client(server_->port());

  client.Write(http::verb::get, "/api/v2/keys");
  service_.faults().WaitForHits(id, 1);
  ASSERT_EQ(
      control_->Send(http::verb::post, "/control/clock", R"({"advance":"1h"})")
          .result_int(),
      200);

  EXPECT_EQ(client.Available(), 0u);
  EXPECT_FALSE(clock_.NextTimerAt().has_value());
}

TEST_F(FaultServerTest, ScopedRefuseResetsOnlyMatchingRequests) {
  uint64_t id =
      AddFault({{"kind", "outage"}, {"mode", "refuse"}, {"operation", "wrap"}});
  Client wrapper(server_->port());
  Client reader(server_->port());

  wrapper.Write(http::verb::post, KeyPath(key_) + "/actions/wrap");

  EXPECT_TRUE(wrapper.ServerClosed());
  EXPECT_EQ(reader.Send(http::verb::get, KeyPath(key_)).result_int(), 200);
  EXPECT_FALSE(Client::Connect(server_->port()));
  EXPECT_EQ(GetFault(id)["hits"], 1);
}

TEST_F(FaultServerTest, RefuseOutageClosesListenerUntilRemoved) {
  Client open_before(server_->port());
  uint64_t id = AddFault({{"kind", "outage"}, {"mode", "refuse"}});

  EXPECT_EQ(Client::Connect(server_->port()), net::error::connection_refused);
  open_before.Write(http::verb::get, "/api/v2/keys");
  EXPECT_TRUE(open_before.ServerClosed());
  // The control connection opened before the outage still works.
  EXPECT_EQ(GetFault(id)["mode"], "refuse");

  auto removed = control_->Send(http::verb::delete_, "/control/faults");

  EXPECT_EQ(removed.result_int(), 204);
  EXPECT_FALSE(Client::Connect(server_->port()));
  Client after(server_->port());
  EXPECT_EQ(after.Send(http::verb::get, "/api/v2/keys").result_int(), 200);
}

TEST_F(FaultServerTest, RefuseOutageFromLibraryClosesListener) {
  FaultSpec spec;
  spec.kind = FaultKind::kOutage;
  spec.outage = OutageMode::kRefuse;
  spec.expires_at = kStart + seconds(10);
  ASSERT_TRUE(service_.faults().Add(spec).ok());

  EXPECT_EQ(Client::Connect(server_->port()), net::error::connection_refused);
  clock_.Advance(seconds(10));

  EXPECT_FALSE(Client::Connect(server_->port()));
}

TEST_F(FaultServerTest, OutageBeforeStartKeepsListenerClosed) {
  server_->Stop();
  FaultSpec spec;
  spec.kind = FaultKind::kOutage;
  ASSERT_TRUE(service_.faults().Add(spec).ok());

  base::StatusOr<std::unique_ptr<Server>> server = Server::Start(api_, {});

  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ(Client::Connect((*server)->port()), net::error::connection_refused);
  service_.faults().Clear();
  EXPECT_FALSE(Client::Connect((*server)->port()));
}

// --- Other control endpoints ---

TEST_F(FaultServerTest, ClockMovesOnlyForward) {
  auto to = control_->Send(http::verb::post, "/control/clock",
                           R"({"to":"2026-01-02T00:00:00Z"})");
  auto back = control_->Send(http::verb::post, "/control/clock",
                             R"({"to":"2026-01-01T00:00:00Z"})");
  auto both = control_->Send(http::verb::post, "/control/clock",
                             R"({"advance":"1s","to":"2026-01-03T00:00:00Z"})");

  EXPECT_EQ(to.result_int(), 200);
  EXPECT_EQ(Json::parse(to.body())["now"], "2026-01-02T00:00:00Z");
  EXPECT_EQ(back.result_int(), 400);
  EXPECT_EQ(both.result_int(), 400);
  EXPECT_EQ(clock_.Now(), kStart + std::chrono::hours(24));
}

TEST_F(FaultServerTest, CallsCountOkAndFailed) {
  Client client(server_->port());
  AddFault({{"kind", "error"}, {"operation", "get_key"}, {"nth", 1}});
  client.Send(http::verb::get, KeyPath(key_));
  client.Send(http::verb::get, KeyPath(key_));

  Json calls =
      Json::parse(control_->Send(http::verb::get, "/control/calls").body());

  // The faulted request never reached the service, so only one is counted.
  EXPECT_EQ(calls["calls"]["get_key"]["ok"], 1);
  EXPECT_EQ(calls["calls"]["get_key"]["failed"], 0);
}

TEST_F(FaultServerTest, UnknownControlPathIsNotFound) {
  EXPECT_EQ(control_->Send(http::verb::get, "/control/nothing").result_int(),
            404);
  EXPECT_EQ(control_->Send(http::verb::put, "/control/faults").result_int(),
            405);
  EXPECT_EQ(control_->Send(http::verb::get, "/control/faults/x").result_int(),
            400);
}

}  // namespace
}  // namespace kms
