// A KMS, a RocksDB store in a temporary folder and a simulated clock, shared
// by the apiserver tests.
#ifndef TESTS_APISERVER_TEST_ENV_H_
#define TESTS_APISERVER_TEST_ENV_H_

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "apiserver/kms_client.h"
#include "apiserver/transformer.h"
#include "base/clock.h"
#include "base/random.h"
#include "etcd-store/store.h"
#include "kms-mock/kms.h"

namespace apiserver {

inline base::Time TestStart() {
  return base::Time(std::chrono::sys_days(std::chrono::year_month_day(
      std::chrono::year(2026), std::chrono::month(1), std::chrono::day(2))));
}

class ApiserverEnv : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "apiserver_test_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    auto store = etcd::OpenRocksDbStore(dir_ + "/db", clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);

    auto instance = kms_.CreateInstance("test", kms::InstanceType::kKeyProtect);
    ASSERT_TRUE(instance.ok()) << instance.status();
    instance_id_ = instance->id;
    kms::CreateKeyRequest request;
    request.name = "root";
    auto key = kms_.CreateKey(instance_id_, request);
    ASSERT_TRUE(key.ok()) << key.status();
    key_id_ = key->id;
  }

  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::shared_ptr<KmsClient> NewClient() {
    return NewKeyServiceKmsClient(kms_, instance_id_, key_id_);
  }

  std::shared_ptr<KmsV2Transformer> NewKmsTransformer(
      const std::string& name = "kp") {
    return std::make_shared<KmsV2Transformer>(name, NewClient(), clock_,
                                              random_);
  }

  int64_t KmsCalls(const std::string& operation) {
    auto counts = kms_.CallCounts();
    auto it = counts.find(operation);
    return it == counts.end() ? 0 : it->second.ok + it->second.failed;
  }

  base::SimulatedClock clock_{TestStart()};
  base::SeededRandom random_{42};
  kms::KeyService kms_{clock_, random_};
  std::string instance_id_;
  std::string key_id_;
  std::string dir_;
  std::unique_ptr<etcd::Store> store_;
};

}  // namespace apiserver

#endif  // TESTS_APISERVER_TEST_ENV_H_
