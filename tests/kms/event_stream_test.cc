// Key events over HTTP: GET /control/events read by a real socket client.
#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/random.h"
#include "kms-mock/api.h"
#include "kms-mock/kms.h"
#include "kms-mock/server.h"
#include "tests/kms/http_client.h"

namespace kms {
namespace {

using testing::Client;
using Json = nlohmann::json;
namespace beast = boost::beast;
namespace http = beast::http;
using std::chrono::seconds;

const base::Time kStart = base::Time(
    std::chrono::sys_days{std::chrono::year{2026} / std::chrono::January / 1});

// Reads a chunked event stream line by line.
class EventReader {
 public:
  // Sends GET `target` and reads the response header.
  EventReader(uint16_t port, const std::string& target) : client_(port) {
    client_.Write(http::verb::get, target);
    parser_.on_chunk_body(on_chunk_);
    http::read_header(client_.stream(), client_.buffer(), parser_);
  }

  const http::response<http::empty_body>& header() { return parser_.get(); }

  // Blocks until the next full line and returns it parsed.
  Json Next() {
    while (pending_.find('\n') == std::string::npos) {
      http::read_some(client_.stream(), client_.buffer(), parser_);
    }
    size_t end = pending_.find('\n');
    Json line = Json::parse(pending_.substr(0, end));
    pending_.erase(0, end + 1);
    return line;
  }

  // True when the server ended the stream; read errors count as an end.
  bool Ended() {
    beast::error_code error;
    while (!error && !parser_.is_done() &&
           pending_.find('\n') == std::string::npos) {
      http::read_some(client_.stream(), client_.buffer(), parser_, error);
    }
    return error || parser_.is_done();
  }

 private:
  Client client_;
  std::string pending_;
  // The parser keeps a reference to the callback.
  std::function<size_t(uint64_t, beast::string_view, beast::error_code&)>
      on_chunk_ =
          [this](uint64_t, beast::string_view body, beast::error_code&) {
            pending_.append(body.data(), body.size());
            return body.size();
          };
  http::response_parser<http::empty_body> parser_;
};

class EventStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(
        service_.CreateInstance("i", InstanceType::kKeyProtect, "inst-1").ok());
    ASSERT_TRUE(
        service_.CreateInstance("h", InstanceType::kHyperProtect, "inst-2")
            .ok());
    key_ = service_.CreateKey("inst-1", {.name = "crk"})->id;
    base::StatusOr<std::unique_ptr<Server>> server = Server::Start(api_, {});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(server).value();
  }

  base::SimulatedClock clock_{kStart};
  base::SeededRandom random_{11};
  KeyService service_{clock_, random_};
  KeyProtectApi api_{service_,
                     clock_,
                     {{"admin", {Role::kManager, {}}}},
                     {.simulated_clock = &clock_}};
  std::unique_ptr<Server> server_;
  std::string key_;
};

TEST_F(EventStreamTest, StreamsEventsAsJsonLinesInOrder) {
  EventReader reader(server_->port(), "/control/events");
  ASSERT_EQ(reader.header().result_int(), 200);
  EXPECT_TRUE(reader.header().chunked());
  EXPECT_EQ(reader.header()[http::field::content_type], "application/x-ndjson");

  clock_.Advance(seconds(5));
  ASSERT_TRUE(service_.Disable("inst-1", key_).ok());
  clock_.Advance(seconds(30));
  ASSERT_TRUE(service_.Enable("inst-1", key_).ok());
  ASSERT_TRUE(service_.Rotate("inst-1", key_).ok());

  Json disabled = reader.Next();
  EXPECT_EQ(disabled["type"], "disabled");
  EXPECT_EQ(disabled["instance"], "inst-1");
  EXPECT_EQ(disabled["key"], key_);
  EXPECT_EQ(disabled["time"], "2026-01-01T00:00:05Z");
  EXPECT_EQ(reader.Next()["type"], "enabled");
  EXPECT_EQ(reader.Next()["type"], "rotated");
}

TEST_F(EventStreamTest, ExpiryFromClockAdvanceIsStreamed) {
  std::string expiring =
      service_
          .CreateKey("inst-1",
                     {.name = "short", .expiration = kStart + seconds(60)})
          ->id;
  EventReader reader(server_->port(), "/control/events?type=expired");

  Client control(server_->port());
  auto advanced =
      control.Send(http::verb::post, "/control/clock", R"({"advance":"2h"})");

  ASSERT_EQ(advanced.result_int(), 200) << advanced.body();
  Json expired = reader.Next();
  EXPECT_EQ(expired["type"], "expired");
  EXPECT_EQ(expired["key"], expiring);
}

TEST_F(EventStreamTest, FiltersByKeyInstanceAndType) {
  std::string other = service_.CreateKey("inst-1", {.name = "other"})->id;
  std::string hpcs_key = service_.CreateKey("inst-2", {.name = "h"})->id;
  EventReader by_key(server_->port(), "/control/events?key=" + other);
  EventReader by_instance(server_->port(), "/control/events?instance=inst-2");
  EventReader by_type(server_->port(), "/control/events?type=rotated,deleted");

  ASSERT_TRUE(service_.Rotate("inst-1", key_).ok());
  ASSERT_TRUE(service_.Disable("inst-1", key_).ok());
  ASSERT_TRUE(service_.Disable("inst-1", other).ok());
  ASSERT_TRUE(service_.Disable("inst-2", hpcs_key).ok());
  ASSERT_TRUE(service_.Delete("inst-1", other).ok());

  Json key_first = by_key.Next();
  EXPECT_EQ(key_first["type"], "disabled");
  EXPECT_EQ(key_first["key"], other);
  EXPECT_EQ(by_key.Next()["type"], "deleted");
  Json instance_first = by_instance.Next();
  EXPECT_EQ(instance_first["key"], hpcs_key);
  EXPECT_EQ(instance_first["instance"], "inst-2");
  Json type_first = by_type.Next();
  EXPECT_EQ(type_first["type"], "rotated");
  EXPECT_EQ(type_first["key"], key_);
  Json type_second = by_type.Next();
  EXPECT_EQ(type_second["type"], "deleted");
  EXPECT_EQ(type_second["key"], other);
}

TEST_F(EventStreamTest, UnknownEventTypeIsRejected) {
  Client client(server_->port());

  auto response = client.Send(http::verb::get, "/control/events?type=melted");

  EXPECT_EQ(response.result_int(), 400);
  Json reason = Json::parse(response.body())["resources"][0]["reasons"][0];
  EXPECT_EQ(reason["target"]["name"], "type");
  EXPECT_EQ(reason["target"]["type"], "query");
}

TEST_F(EventStreamTest, ClosedClientLeavesLaterStreamsWorking) {
  { EventReader reader(server_->port(), "/control/events"); }
  // A later stream still works, and changes after the first client left
  // neither block nor fail.
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(service_.Rotate("inst-1", key_).ok());
  }
  EventReader reader(server_->port(), "/control/events");
  ASSERT_TRUE(service_.Disable("inst-1", key_).ok());

  EXPECT_EQ(reader.Next()["type"], "disabled");
}

TEST_F(EventStreamTest, ServerStopEndsStream) {
  EventReader reader(server_->port(), "/control/events");

  server_->Stop();

  EXPECT_TRUE(reader.Ended());
  // Events after the stop reach no stream and do not fail.
  EXPECT_TRUE(service_.Disable("inst-1", key_).ok());
}

TEST_F(EventStreamTest, ManyEventsArriveComplete) {
  EventReader reader(server_->port(), "/control/events?type=rotated");

  constexpr int kRotations = 200;
  for (int i = 0; i < kRotations; ++i) {
    ASSERT_TRUE(service_.Rotate("inst-1", key_).ok());
  }

  for (int i = 0; i < kRotations; ++i) {
    ASSERT_EQ(reader.Next()["type"], "rotated") << "event " << i;
  }
}

}  // namespace
}  // namespace kms
