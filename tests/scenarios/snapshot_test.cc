// snapshot and restore steps: a restore brings back the KMS keys, the
// clusters' stores and state, the clock and the faults of the snapshot.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "scenarios/engine/runner.h"
#include "scenarios/engine/scenario.h"

namespace scenarios {
namespace {

constexpr char kHeader[] = R"(name: snapshot
clusters:
  - name: prod
    version: 1.19.16_1540
kms:
  - instance: kp
    keys:
      - name: crk
steps:
  - kms_enable: {instance: kp, key: crk}
  - expect_cluster: {kms: enabled, within: 15m}
  - create_secret: {name: db, data: {password: hunter2}}
)";

ScenarioResult Replay(const std::string& steps) {
  base::StatusOr<Scenario> scenario =
      ParseScenario(std::string(kHeader) + steps, "snapshot.yaml");
  EXPECT_TRUE(scenario.ok()) << scenario.status();
  if (!scenario.ok()) return {};
  return RunScenario(*scenario, RunOptions{});
}

bool Logged(const ScenarioResult& result, const std::string& text) {
  return std::any_of(
      result.events.begin(), result.events.end(),
      [&](const std::string& e) { return e.find(text) != std::string::npos; });
}

TEST(Snapshot, RestoreRewindsStoreAndClock) {
  ScenarioResult result = Replay(
      "  - snapshot: s\n"
      "  - advance: 2h\n"
      "  - delete_secret: {name: db}\n"
      "  - create_secret: {name: later, data: {v: x}}\n"
      "  - restore: s\n"
      "  - get_secret: {name: db}\n"
      "    expect: {data: {password: hunter2}}\n"
      "  - get_secret: {name: later}\n"
      "    expect: {http_status: 404, http_reason: NotFound}\n");

  EXPECT_TRUE(result.passed) << result.failure;
  EXPECT_LT(result.virtual_elapsed, std::chrono::minutes(15));
  EXPECT_TRUE(Logged(result, "restored snapshot s: the clock is back at T+"));
  // The timeline keeps running forward across the restore.
  EXPECT_GT(result.timeline.end, std::chrono::hours(2));
}

TEST(Snapshot, RestoreBringsBackKeysAndClusterState) {
  ScenarioResult result = Replay(
      "  - snapshot: s\n"
      "  - delete_key: {key: crk, force: true}\n"
      "  - expect_cluster: {master_status: 'lost its data', within: 10m}\n"
      "  - restore: s\n"
      "  - expect_key: {key: crk, state: Active}\n"
      "  - expect_cluster: {master_status: '^Ready', kms: enabled}\n"
      "  - get_secret: {name: db}\n"
      "    expect: {data: {password: hunter2}}\n"
      "  - delete_key: {key: crk, force: true}\n"
      "  - expect_cluster: {master_status: 'lost its data', within: 10m}\n"
      "  - restore: s\n"
      "  - get_secret: {name: db}\n"
      "    expect: {data: {password: hunter2}}\n");

  EXPECT_TRUE(result.passed) << result.failure;
}

TEST(Snapshot, RestoreKeepsOnlyFaultsOfTheSnapshot) {
  ScenarioResult result = Replay(
      "  - kms_fault: {name: before, kind: error, operation: rotate}\n"
      "  - snapshot: s\n"
      "  - kms_fault: {name: after, kind: outage}\n"
      "  - restore: s\n"
      "  - create_secret: {name: x, data: {v: y}}\n"
      "  - refresh_master: prod\n"
      "  - get_secret: {name: db}\n"
      "    expect: {data: {password: hunter2}}\n"
      "  - rotate_key: crk\n"
      "    expect: {reason: INJECTED_FAULT_ERR}\n"
      "  - clear_kms_fault: before\n"
      "  - rotate_key: crk\n");

  EXPECT_TRUE(result.passed) << result.failure;
}

TEST(Snapshot, KmsCallsCountAcrossRestores) {
  ScenarioResult result = Replay(
      "  - snapshot: s\n"
      "  - rotate_key: crk\n"
      "  - restore: s\n"
      "  - rotate_key: crk\n"
      "  - expect_kms_calls: {operation: rotate, calls: 2}\n");

  EXPECT_TRUE(result.passed) << result.failure;
}

}  // namespace
}  // namespace scenarios
