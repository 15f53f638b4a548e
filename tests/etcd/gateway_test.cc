// Tests of the JSON gateway on its own (no real etcd), where the simulated
// clock matters: lease expiry and keep-alive seen over HTTP, and shutdown
// with open watch streams.
#include "etcd-store/gateway.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "base/clock.h"
#include "etcd-store/store.h"
#include "tests/etcd/http_client.h"

namespace etcd {
namespace {

using testing::HttpPost;
using testing::HttpStream;

class GatewayTest : public ::testing::Test {
 protected:
  GatewayTest() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "etcd-gw-XXXXXX").string();
    dir_ = mkdtemp(pattern.data());
    auto store = OpenRocksDbStore(dir_ + "/store", clock_);
    EXPECT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    auto gateway = Gateway::Start(*store_, GatewayOptions{});
    EXPECT_TRUE(gateway.ok()) << gateway.status();
    gateway_ = std::move(*gateway);
  }

  ~GatewayTest() override {
    gateway_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string Post(const std::string& path, const std::string& body) {
    return HttpPost(gateway_->port(), path, body).body;
  }

  base::SimulatedClock clock_{base::Time(std::chrono::seconds(1'700'000'000))};
  std::string dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Gateway> gateway_;
};

TEST_F(GatewayTest, LeaseExpiryReachesWatchStream) {
  Post("/v3/lease/grant", R"({"TTL":"5","ID":"7"})");
  Post("/v3/kv/put", R"({"key":"YQ==","value":"MQ==","lease":"7"})");
  HttpStream watch(gateway_->port(), "/v3/watch",
                   R"({"create_request":{"key":"YQ=="}})");
  ASSERT_EQ(watch.ReadLines(1).size(), 1u);

  clock_.Advance(std::chrono::seconds(5));

  auto lines = watch.ReadLines(1);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(
      lines[0].find(
          R"("events":[{"type":"DELETE","kv":{"key":"YQ==","mod_revision":"3"}}])"),
      std::string::npos)
      << lines[0];
}

TEST_F(GatewayTest, KeepAliveRestartsTtl) {
  Post("/v3/lease/grant", R"({"TTL":"10","ID":"7"})");
  Post("/v3/kv/put", R"({"key":"YQ==","value":"MQ==","lease":"7"})");
  clock_.Advance(std::chrono::seconds(8));

  std::string renewed = Post("/v3/lease/keepalive", R"({"ID":"7"})");
  EXPECT_NE(renewed.find(R"("ID":"7","TTL":"10"}})"), std::string::npos)
      << renewed;
  clock_.Advance(std::chrono::seconds(8));
  EXPECT_NE(Post("/v3/kv/range", R"({"key":"YQ=="})").find(R"("count":"1")"),
            std::string::npos);

  clock_.Advance(std::chrono::seconds(2));
  EXPECT_EQ(Post("/v3/kv/range", R"({"key":"YQ=="})").find("count"),
            std::string::npos);
}

TEST_F(GatewayTest, TimeToLiveFollowsSimulatedClock) {
  Post("/v3/lease/grant", R"({"TTL":"60","ID":"7"})");
  clock_.Advance(std::chrono::seconds(15));
  std::string ttl = Post("/v3/lease/timetolive", R"({"ID":"7"})");
  EXPECT_NE(ttl.find(R"("TTL":"45","grantedTTL":"60")"), std::string::npos)
      << ttl;
}

TEST_F(GatewayTest, StopEndsOpenWatchStreams) {
  HttpStream watch(gateway_->port(), "/v3/watch",
                   R"({"create_request":{"key":"YQ=="}})");
  ASSERT_EQ(watch.ReadLines(1).size(), 1u);

  gateway_.reset();

  EXPECT_TRUE(watch.ReadLines(1).empty());
  // The store no longer calls the closed stream.
  PutRequest put{.key = "a", .value = "1"};
  EXPECT_TRUE(store_->Put(put).ok());
}

TEST_F(GatewayTest, ClosedStreamCancelsItsWatch) {
  {
    HttpStream watch(gateway_->port(), "/v3/watch",
                     R"({"create_request":{"key":"YQ=="}})");
    ASSERT_EQ(watch.ReadLines(1).size(), 1u);
  }
  // Writes after the client left must not reach a dead session.
  for (int i = 0; i < 20; ++i) {
    Post("/v3/kv/put", R"({"key":"YQ==","value":"MQ=="})");
  }
  EXPECT_EQ(store_->CurrentRevision(), 21);
}

// Requests that are not valid HTTP get what etcd 3.4.23 sends for the same
// bytes (checked against Debian's etcd-server), and change nothing.
TEST_F(GatewayTest, MalformedHttpIsAnsweredAsEtcdDoes) {
  Post("/v3/kv/put", R"({"key":"YQ==","value":"MQ=="})");
  const std::string text_400 =
      "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; "
      "charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request";
  struct Case {
    std::string request;
    std::string reply;
  };
  const std::vector<Case> cases = {
      {"NOT HTTP AT ALL\r\n\r\n", ""},
      {"POST /v3/kv/put HTTP/9.9\r\nHost: x\r\n\r\n", ""},
      {"PO@T /v3/kv/put HTTP/1.1\r\nHost: x\r\n\r\n", text_400},
      {"POST /v3/kv/put HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
       text_400},
      {"POST /v3/kv/put HTTP/1.1\r\nBad Header Line\r\n\r\n", text_400},
  };

  for (const Case& c : cases) {
    EXPECT_EQ(testing::HttpRaw(gateway_->port(), c.request), c.reply)
        << c.request;
  }
  std::string chunk_reply = testing::HttpRaw(
      gateway_->port(),
      "POST /v3/kv/put HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
      "chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n");
  EXPECT_TRUE(chunk_reply.starts_with("HTTP/1.1 400 Bad Request\r\n"))
      << chunk_reply;
  EXPECT_TRUE(chunk_reply.ends_with(
      R"({"error":"invalid byte in chunk length",)"
      R"("message":"invalid byte in chunk length","code":3})"))
      << chunk_reply;

  EXPECT_NE(Post("/v3/kv/range", R"({"key":"YQ=="})").find(R"("revision":"2")"),
            std::string::npos);
}

}  // namespace
}  // namespace etcd

namespace etcd {
namespace {

TEST_F(GatewayTest, OpenWatchBodyTakesLaterMessages) {
  HttpStream watch(gateway_->port(), "/v3/watch");
  watch.SendChunk(R"({"create_request":{"key":"YQ=="}})");
  ASSERT_EQ(watch.ReadLines(1).size(), 1u);

  Post("/v3/kv/put", R"({"key":"YQ==","value":"MQ=="})");
  watch.SendChunk(R"({"cancel_requ)");
  watch.SendChunk(R"(est":{"watch_id":"0"}})");

  auto lines = watch.ReadLines(2);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find(R"("events")"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find(R"("canceled":true)"), std::string::npos) << lines[1];
}

// etcd keeps a watch that compaction canceled on its stream until the
// client cancels it, and confirms that cancel.
TEST_F(GatewayTest, CancelOfCompactedWatchIsConfirmed) {
  Post("/v3/kv/put", R"({"key":"YQ==","value":"MQ=="})");  // 2
  Post("/v3/kv/put", R"({"key":"YQ==","value":"Mg=="})");  // 3
  Post("/v3/kv/compaction", R"({"revision":"3"})");

  HttpStream watch(gateway_->port(), "/v3/watch");
  watch.SendChunk(R"({"create_request":{"key":"YQ==","start_revision":"2"}})");
  auto created = watch.ReadLines(2);
  ASSERT_EQ(created.size(), 2u);
  EXPECT_NE(created[1].find(R"("compact_revision":"3")"), std::string::npos)
      << created[1];

  watch.SendChunk(R"({"cancel_request":{"watch_id":"0"}})");
  auto canceled = watch.ReadLines(1);
  ASSERT_EQ(canceled.size(), 1u);
  EXPECT_EQ(canceled[0],
            R"({"result":{"header":{"cluster_id":"14841639068965178418",)"
            R"("member_id":"10276657743932975437","revision":"3",)"
            R"("raft_term":"2"},"canceled":true}})");
}

}  // namespace
}  // namespace etcd
