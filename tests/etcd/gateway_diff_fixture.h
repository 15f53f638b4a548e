// A fixture for differential tests of the JSON gateway. The same requests go
// to a real etcd 3.4 (Debian's etcd-server, started on free loopback ports
// with a temporary data directory) and to the Gateway over a RocksDB Store.
// The responses must match byte for byte once the header's cluster_id,
// member_id and raft_term are masked.
#ifndef TESTS_ETCD_GATEWAY_DIFF_FIXTURE_H_
#define TESTS_ETCD_GATEWAY_DIFF_FIXTURE_H_

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "base/clock.h"
#include "etcd-store/gateway.h"
#include "etcd-store/store.h"
#include "tests/etcd/etcd_cluster.h"
#include "tests/etcd/http_client.h"

namespace etcd {

using testing::HttpPost;
using testing::HttpReply;
using testing::HttpStream;

// Replaces the values that differ between any two clusters.
inline std::string Mask(const std::string& body, bool mask_ttl = false) {
  static const std::regex kIds(
      R"re("(cluster_id|member_id|raft_term)":"\d+")re");
  static const std::regex kTtl(R"re("TTL":"\d+")re");
  std::string masked = std::regex_replace(body, kIds, "\"$1\":\"*\"");
  if (mask_ttl) masked = std::regex_replace(masked, kTtl, "\"TTL\":\"*\"");
  return masked;
}

class GatewayDiffTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::EtcdInstalled()) {
      GTEST_SKIP() << "etcd is not installed at " << testing::EtcdBinary();
    }
    std::string pattern =
        (std::filesystem::temp_directory_path() / "etcd-diff-XXXXXX").string();
    dir_ = mkdtemp(pattern.data());
    // A short progress interval lets a test wait for etcd's progress
    // responses. Only watches with progress_notify get them.
    ASSERT_TRUE(etcd_.Start(dir_, {.progress_notify_ms = 200}))
        << "etcd did not start";

    auto store = OpenRocksDbStore(dir_ + "/store", clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    auto gateway = Gateway::Start(*store_, GatewayOptions{});
    ASSERT_TRUE(gateway.ok()) << gateway.status();
    gateway_ = std::move(*gateway);
  }

  void TearDown() override {
    gateway_.reset();
    store_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // Sends one request to both servers and expects equal statuses and
  // masked bodies; returns whether they were equal.
  bool ExpectSame(const std::string& path, const std::string& body,
                  bool mask_ttl = false, const std::string& method = "POST") {
    HttpReply real = HttpPost(etcd_.client_port(0), path, body, method);
    HttpReply ours = HttpPost(gateway_->port(), path, body, method);
    if (std::getenv("ETCD_DIFF_VERBOSE") != nullptr) {
      std::printf("%s %s\n  etcd %d %s\n  ours %d %s\n", path.c_str(),
                  body.c_str(), real.status, real.body.c_str(), ours.status,
                  ours.body.c_str());
    }
    EXPECT_EQ(ours.status, real.status) << path << " " << Shorten(body);
    EXPECT_EQ(Mask(ours.body, mask_ttl), Mask(real.body, mask_ttl))
        << path << " " << Shorten(body);
    return ours.status == real.status &&
           Mask(ours.body, mask_ttl) == Mask(real.body, mask_ttl);
  }

  // Cuts huge request bodies down for failure messages.
  static std::string Shorten(const std::string& body) {
    if (body.size() <= 2000) return body;
    return body.substr(0, 2000) + "... (" + std::to_string(body.size()) +
           " bytes)";
  }

  // Opens the same watch on both servers and expects the same first
  // `count` lines.
  void ExpectSameStream(const std::string& path, const std::string& body,
                        size_t count) {
    HttpStream real(etcd_.client_port(0), path, body);
    HttpStream ours(gateway_->port(), path, body);
    EXPECT_EQ(ours.Status(), real.Status()) << body;
    std::vector<std::string> real_lines = real.ReadLines(count);
    std::vector<std::string> our_lines = ours.ReadLines(count);
    ASSERT_EQ(real_lines.size(), count) << body;
    ASSERT_EQ(our_lines.size(), count) << body;
    for (size_t i = 0; i < count; ++i) {
      if (std::getenv("ETCD_DIFF_VERBOSE") != nullptr) {
        std::printf("stream line %zu\n  etcd %s\n  ours %s\n", i,
                    real_lines[i].c_str(), our_lines[i].c_str());
      }
      EXPECT_EQ(Mask(our_lines[i]), Mask(real_lines[i]))
          << body << " line " << i;
    }
  }

  base::SimulatedClock clock_{base::Time(std::chrono::seconds(1'700'000'000))};
  std::string dir_;
  testing::EtcdCluster etcd_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Gateway> gateway_;
};

}  // namespace etcd

#endif  // TESTS_ETCD_GATEWAY_DIFF_FIXTURE_H_
