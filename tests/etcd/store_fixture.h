// A fixture that opens a RocksDB Store in a fresh temporary directory, on a
// simulated clock, with helpers that return strings for readable checks.
#ifndef TESTS_ETCD_STORE_FIXTURE_H_
#define TESTS_ETCD_STORE_FIXTURE_H_

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "base/clock.h"
#include "etcd-store/store.h"

namespace etcd {

class StoreTest : public ::testing::Test {
 protected:
  StoreTest() : clock_(base::Time(std::chrono::seconds(1'700'000'000))) {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "etcd-store-XXXXXX").string();
    dir_ = mkdtemp(pattern.data());
    Reopen();
  }

  ~StoreTest() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Reopen(RocksDbOptions options = {}) {
    store_.reset();
    auto store = OpenRocksDbStore(dir_ + "/db", clock_, options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }

  // Puts and returns the header revision, or -1 on failure.
  int64_t Put(const std::string& key, const std::string& value) {
    PutRequest request;
    request.key = key;
    request.value = value;
    auto response = store_->Put(request);
    if (!response.ok()) return -1;
    return response->header.revision;
  }

  // Returns the key's value, "NOT_FOUND" or the error.
  std::string GetValue(const std::string& key, int64_t revision = 0) {
    RangeRequest request;
    request.key = key;
    request.revision = revision;
    auto response = store_->Range(request);
    if (!response.ok()) return response.status().ToString();
    if (response->kvs.empty()) return "NOT_FOUND";
    return response->kvs[0].value;
  }

  // Returns "key=value" pairs joined by spaces.
  static std::string Pairs(const std::vector<KeyValue>& kvs) {
    std::string out;
    for (const KeyValue& kv : kvs) {
      if (!out.empty()) out += ' ';
      out += kv.key + '=' + kv.value;
    }
    return out;
  }

  std::string RangeKeys(const std::string& key, const std::string& end,
                        int64_t revision = 0) {
    RangeRequest request;
    request.key = key;
    request.range_end = end;
    request.revision = revision;
    auto response = store_->Range(request);
    if (!response.ok()) return response.status().ToString();
    return Pairs(response->kvs);
  }

  base::SimulatedClock clock_;
  std::string dir_;
  std::unique_ptr<Store> store_;
};

}  // namespace etcd

#endif  // TESTS_ETCD_STORE_FIXTURE_H_
