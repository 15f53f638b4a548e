// Differential test of the JSON gateway: the same requests go to a real
// etcd 3.4 (the etcd binary from Debian's etcd-server, started here on free
// loopback ports with a temporary data directory) and to the Gateway over a
// RocksDB Store; the response bodies must match byte for byte once the
// header's cluster_id, member_id and raft_term are masked.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "etcd-store/gateway.h"
#include "etcd-store/store.h"
#include "tests/etcd/gateway_diff_fixture.h"
#include "tests/etcd/http_client.h"

namespace etcd {
namespace {

using testing::HttpPost;
using testing::HttpReply;
using testing::HttpStream;

// Keys and values are base64: a=YQ== b=Yg== c=Yw== d=ZA== z=eg== "\0"=AA==
// 1=MQ== 2=Mg== 3=Mw== x=eA== y=eQ==.

TEST_F(GatewayDiffTest, KeyValueResponsesMatchEtcd) {
  ExpectSame("/v3/kv/put", R"({"key":"YQ==","value":"MQ=="})");
  ExpectSame("/v3/kv/put", R"({"key":"YQ==","value":"Mg==","prev_kv":true})");
  ExpectSame("/v3/kv/put", R"({"key":"Yg==","value":"Mw=="})");
  ExpectSame("/v3/kv/put", R"({"key":"Yw==","value":"eA=="})");
  ExpectSame("/v3/kv/put", R"({"key":"ZA==","value":""})");

  ExpectSame("/v3/kv/range", R"({"key":"YQ=="})");
  ExpectSame("/v3/kv/range", R"({"key":"eg=="})");
  ExpectSame("/v3/kv/range", R"({"key":"AA==","range_end":"AA=="})");
  ExpectSame("/v3/kv/range", R"({"key":"YQ==","range_end":"ZA==","limit":2})");
  ExpectSame(
      "/v3/kv/range",
      R"({"key":"YQ==","range_end":"AA==","limit":"1","count_only":true})");
  ExpectSame("/v3/kv/range",
             R"({"key":"YQ==","range_end":"eg==","keys_only":true})");
  ExpectSame(
      "/v3/kv/range",
      R"({"key":"YQ==","range_end":"eg==","sort_order":"DESCEND","sort_target":"MOD"})");
  ExpectSame("/v3/kv/range",
             R"({"key":"YQ==","range_end":"eg==","sort_target":"VALUE"})");
  ExpectSame(
      "/v3/kv/range",
      R"({"key":"YQ==","rangeEnd":"eg==","sortOrder":2,"sortTarget":1,"limit":"2"})");
  ExpectSame(
      "/v3/kv/range",
      R"({"key":"YQ==","range_end":"eg==","min_mod_revision":"4","max_create_revision":"5"})");
  ExpectSame("/v3/kv/range", R"({"key":"YQ==","revision":"2"})");
  ExpectSame("/v3/kv/range", R"({"key":"YQ==","revision":"100"})");
  ExpectSame("/v3/kv/range", R"({})");

  ExpectSame("/v3/kv/deleterange", R"({"key":"Yg==","prev_kv":true})");
  ExpectSame("/v3/kv/deleterange", R"({"key":"Yg=="})");
  ExpectSame("/v3/kv/deleterange",
             R"({"key":"Yw==","range_end":"AA==","prev_kv":true})");
  ExpectSame("/v3/kv/range", R"({"key":"AA==","range_end":"AA=="})");
}

TEST_F(GatewayDiffTest, PutErrorsMatchEtcd) {
  ExpectSame("/v3/kv/put", R"({"key":"YQ==","ignore_value":true})");
  ExpectSame("/v3/kv/put",
             R"({"key":"YQ==","value":"MQ==","ignore_value":true})");
  ExpectSame("/v3/kv/put", R"({"key":"YQ==","lease":"12345"})");
  ExpectSame("/v3/kv/put", R"({"value":"MQ=="})");
  ExpectSame("/v3/kv/put", R"({"key":"!!"})");
  ExpectSame("/v3/kv/put", R"({"key":"YQ"})");
  ExpectSame("/v3/kv/put", R"({"key":"YQ==","prev_kv":"yes"})");
  ExpectSame("/v3/kv/put", "garbage");
  ExpectSame("/v3/kv/put", "[1]");
  ExpectSame("/v3/kv/put", R"({"key":"YQ==","value":"MQ==","unknown":1})");
  ExpectSame("/v3/kv/put",
             R"({"key":"YQ==","value":"Mg==","ignore_lease":true})");
}

TEST_F(GatewayDiffTest, TxnResponsesMatchEtcd) {
  ExpectSame("/v3/kv/put", R"({"key":"YQ==","value":"MQ=="})");
  ExpectSame("/v3/kv/txn", R"({
    "compare":[{"key":"YQ==","target":"VALUE","result":"EQUAL","value":"MQ=="}],
    "success":[
      {"request_put":{"key":"Yg==","value":"Mg==","prev_kv":true}},
      {"request_range":{"key":"YQ==","range_end":"eg=="}},
      {"request_txn":{
        "compare":[{"key":"Yg==","target":"CREATE","result":"EQUAL","create_revision":"0"}],
        "success":[{"request_range":{"key":"Yg=="}}],
        "failure":[{"request_delete_range":{"key":"eg=="}}]}},
      {"request_delete_range":{"key":"eA==","prev_kv":true}}],
    "failure":[{"request_range":{"key":"YQ=="}}]})");
  ExpectSame("/v3/kv/txn", R"({
    "compare":[{"key":"YQ==","target":"MOD","result":"GREATER","mod_revision":"100"}],
    "success":[{"request_put":{"key":"YQ==","value":"eQ=="}}],
    "failure":[{"request_range":{"key":"YQ==","keys_only":true}}]})");
  ExpectSame("/v3/kv/txn", R"({
    "compare":[
      {"key":"YQ==","range_end":"eg==","target":"VERSION","result":"LESS","version":"5"},
      {"key":"eg==","target":"VALUE","result":"NOT_EQUAL","value":"MQ=="}],
    "success":[{"request_put":{"key":"eQ==","value":"eQ=="}}],
    "failure":[{"request_put":{"key":"eA==","value":"eA=="}}]})");
  ExpectSame("/v3/kv/txn", R"({
    "compare":[{"key":"YQ==","target":"LEASE","result":"EQUAL","lease":"0"}],
    "success":[{"request_delete_range":{"key":"YQ==","range_end":"Yw=="}}]})");
  ExpectSame("/v3/kv/txn", R"({})");
  ExpectSame("/v3/kv/txn", R"({"success":[
      {"request_put":{"key":"YQ=="}},{"request_put":{"key":"YQ=="}}]})");
  ExpectSame("/v3/kv/txn", R"({"success":[
      {"request_delete_range":{"key":"YQ==","range_end":"Yw=="}},
      {"request_put":{"key":"Yg=="}}]})");
  // etcd 3.4 builds a delete with range_end "\0" as an empty interval, so
  // a put beside it is not a duplicate.
  ExpectSame("/v3/kv/txn", R"({"success":[
      {"request_delete_range":{"key":"eA==","range_end":"AA=="}},
      {"request_put":{"key":"eQ=="}}]})");
  ExpectSame("/v3/kv/txn", R"({"success":[
      {"request_put":{"key":"YQ=="}},
      {"request_txn":{"success":[{"request_put":{"key":"YQ=="}}]}}]})");
  ExpectSame("/v3/kv/txn", R"({"success":[
      {"request_txn":{"success":[{"request_put":{"key":"YQ==","value":"MQ=="}}],
                      "failure":[{"request_put":{"key":"YQ==","value":"Mg=="}}]}}]})");
  std::string many = R"({"success":[)";
  for (int i = 0; i < 129; ++i) {
    if (i > 0) many += ',';
    many += R"({"request_range":{"key":"YQ=="}})";
  }
  ExpectSame("/v3/kv/txn", many + "]}");
  ExpectSame("/v3/kv/txn", R"({"compare":[{"target":"VALUE"}],"success":[]})");
  ExpectSame(
      "/v3/kv/txn",
      R"({"success":[{"request_range":{"key":"YQ==","revision":"99"}}]})");
  ExpectSame("/v3/kv/txn", R"({"compare":[{"key":"YQ==","result":"BOGUS"}]})");
}

TEST_F(GatewayDiffTest, CompactionResponsesMatchEtcd) {
  for (const char* value : {"MQ==", "Mg==", "Mw==", "eA=="}) {
    ExpectSame("/v3/kv/put",
               std::string(R"({"key":"YQ==","value":")") + value + "\"}");
  }
  ExpectSame("/v3/kv/compaction", R"({"revision":"3"})");
  ExpectSame("/v3/kv/compaction", R"({"revision":"3"})");
  ExpectSame("/v3/kv/compaction", R"({"revision":"99"})");
  ExpectSame("/v3/kv/range", R"({"key":"YQ==","revision":"2"})");
  ExpectSame("/v3/kv/range", R"({"key":"YQ==","revision":"3"})");
  ExpectSameStream("/v3/watch",
                   R"({"create_request":{"key":"YQ==","start_revision":"2"}})",
                   2);
}

TEST_F(GatewayDiffTest, LeaseResponsesMatchEtcd) {
  ExpectSame("/v3/lease/grant", R"({"TTL":"60","ID":"1000"})");
  ExpectSame("/v3/lease/grant", R"({"TTL":"60","ID":"1000"})");
  ExpectSame("/v3/lease/grant", R"({"TTL":"9000000001","ID":"1001"})");
  ExpectSame("/v3/lease/grant", R"({"TTL":"1","ID":"1002"})");
  ExpectSame("/v3/kv/put", R"({"key":"YQ==","value":"MQ==","lease":"1000"})");
  ExpectSame("/v3/kv/range", R"({"key":"YQ=="})");
  // One key only: etcd lists a lease's keys in Go map order, which varies.
  ExpectSame("/v3/lease/timetolive", R"({"ID":"1000","keys":true})",
             /*mask_ttl=*/true);
  ExpectSame("/v3/kv/put", R"({"key":"Yg==","value":"MQ==","lease":"1000"})");
  ExpectSame("/v3/lease/timetolive", R"({"ID":"999"})");
  ExpectSame("/v3/kv/lease/timetolive", R"({"ID":"1000"})",
             /*mask_ttl=*/true);
  ExpectSame("/v3/lease/keepalive", R"({"ID":"1000"})");
  ExpectSame("/v3/lease/keepalive", R"({"ID":"999"})");
  ExpectSame("/v3/kv/txn", R"({
    "compare":[{"key":"YQ==","target":"LEASE","result":"EQUAL","lease":"1000"}],
    "success":[{"request_put":{"key":"YQ==","value":"Mg==","ignore_lease":true}}]})");
  ExpectSame("/v3/lease/revoke", R"({"ID":"1000"})");
  ExpectSame("/v3/lease/revoke", R"({"ID":"1000"})");
  ExpectSame("/v3/kv/lease/revoke", R"({"ID":"1000"})");
  ExpectSame("/v3/kv/range", R"({"key":"AA==","range_end":"AA=="})");
  // Lease 1002 (2 s) is left alone: real etcd may expire it at any time.
}

TEST_F(GatewayDiffTest, WatchStreamsMatchEtcd) {
  ExpectSame("/v3/kv/put", R"({"key":"YQ==","value":"MQ=="})");
  ExpectSame("/v3/kv/put", R"({"key":"Yg==","value":"MQ=="})");
  ExpectSame("/v3/kv/put", R"({"key":"YQ==","value":"Mg=="})");
  ExpectSame("/v3/kv/deleterange", R"({"key":"Yg=="})");

  ExpectSameStream(
      "/v3/watch",
      R"({"create_request":{"key":"YQ==","range_end":"AA==","start_revision":"2","prev_kv":true}})",
      2);
  ExpectSameStream(
      "/v3/watch",
      R"({"create_request":{"key":"YQ==","range_end":"Yw==","start_revision":"1","filters":["NOPUT"]}})",
      2);
  ExpectSameStream("/v3/watch",
                   R"({"create_request":{"key":"YQ=="}}
                      {"create_request":{"key":"Yg=="}}
                      {"cancel_request":{"watch_id":"0"}}
                      {"progress_request":{}})",
                   4);
}

TEST_F(GatewayDiffTest, LongWatchHistoryIsSplitAsEtcd) {
  // etcd sends at most 1,000 revisions per history response, so 1,002
  // puts come back in two.
  for (int i = 0; i < 1002; ++i) {
    std::string put = R"({"key":"YQ==","value":"MQ=="})";
    ASSERT_EQ(HttpPost(etcd_.client_port(0), "/v3/kv/put", put).status, 200);
    ASSERT_EQ(HttpPost(gateway_->port(), "/v3/kv/put", put).status, 200);
  }
  ExpectSameStream("/v3/watch",
                   R"({"create_request":{"key":"YQ==","start_revision":"2"}})",
                   3);
}

TEST_F(GatewayDiffTest, LiveWatchEventsMatchEtcd) {
  const std::string watch =
      R"({"create_request":{"key":"YQ==","range_end":"Yw==","prev_kv":true}})";
  HttpStream real(etcd_.client_port(0), "/v3/watch", watch);
  HttpStream ours(gateway_->port(), "/v3/watch", watch);
  ASSERT_EQ(real.ReadLines(1).size(), 1u);
  ASSERT_EQ(ours.ReadLines(1).size(), 1u);

  ExpectSame("/v3/kv/put", R"({"key":"YQ==","value":"MQ=="})");
  ExpectSame("/v3/kv/put", R"({"key":"YQ==","value":"Mg=="})");
  ExpectSame("/v3/kv/txn", R"({"success":[
      {"request_put":{"key":"Yg==","value":"MQ=="}},
      {"request_delete_range":{"key":"YQ=="}}]})");

  std::vector<std::string> real_lines = real.ReadLines(3);
  std::vector<std::string> our_lines = ours.ReadLines(3);
  ASSERT_EQ(real_lines.size(), 3u);
  ASSERT_EQ(our_lines.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(Mask(our_lines[i]), Mask(real_lines[i])) << "line " << i;
  }
}

TEST_F(GatewayDiffTest, ProgressNotifyMatchesEtcd) {
  ExpectSame("/v3/kv/put", R"({"key":"YQ==","value":"MQ=="})");
  const std::string watch =
      R"({"create_request":{"key":"YQ==","progress_notify":true}})";
  HttpStream real(etcd_.client_port(0), "/v3/watch", watch);
  HttpStream ours(gateway_->port(), "/v3/watch", watch);

  // etcd runs with a short progress interval on its wall clock. Ours runs
  // on the simulated clock, which moves by the RocksDB store's default.
  std::vector<std::string> real_lines = real.ReadLines(2);
  std::vector<std::string> our_lines = ours.ReadLines(1);
  clock_.Advance(std::chrono::minutes(10));
  for (const std::string& line : ours.ReadLines(1)) our_lines.push_back(line);

  ASSERT_EQ(real_lines.size(), 2u);
  ASSERT_EQ(our_lines.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(Mask(our_lines[i]), Mask(real_lines[i])) << "line " << i;
  }
}

TEST_F(GatewayDiffTest, OpenWatchBodyTakesLaterMessages) {
  HttpStream real(etcd_.client_port(0), "/v3/watch");
  HttpStream ours(gateway_->port(), "/v3/watch");
  for (HttpStream* stream : {&real, &ours}) {
    stream->SendChunk(R"({"create_request":{"key":"YQ=="}})");
  }
  std::vector<std::string> real_lines = real.ReadLines(1);
  std::vector<std::string> our_lines = ours.ReadLines(1);

  // The second message arrives split over two chunks.
  for (HttpStream* stream : {&real, &ours}) {
    stream->SendChunk(R"({"cancel_requ)");
    stream->SendChunk(R"(est":{"watch_id":"0"}})");
  }
  for (const std::string& line : real.ReadLines(1)) real_lines.push_back(line);
  for (const std::string& line : ours.ReadLines(1)) our_lines.push_back(line);

  ASSERT_EQ(real_lines.size(), 2u);
  ASSERT_EQ(our_lines.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(Mask(our_lines[i]), Mask(real_lines[i])) << "line " << i;
  }
}

TEST_F(GatewayDiffTest, StreamErrorsMatchEtcd) {
  // A bad first message fails the request; a bad later one is dropped.
  ExpectSame("/v3/watch", R"({"create_request":{"key":1}})");
  ExpectSame("/v3/lease/keepalive", R"({"ID":"x"})");
  ExpectSame("/v3/lease/keepalive", R"({"ID":"5"} garbage)");
  ExpectSame("/v3/lease/keepalive", "");
  ExpectSameStream(
      "/v3/watch",
      R"({"create_request":{"key":"YQ=="}} {"create_request":{"key":1}})", 1);
}

TEST_F(GatewayDiffTest, HttpErrorsMatchEtcd) {
  ExpectSame("/v3/kv/nothing", "{}");
  ExpectSame("/v3/kv/range", "", false, "GET");
  ExpectSame("/v3/watch", "garbage");
}

}  // namespace
}  // namespace etcd
