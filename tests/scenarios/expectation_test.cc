// Each kind of expectation, made to fail on purpose: the failure names the
// step and shows the expected and the actual value.
#include <gtest/gtest.h>

#include <algorithm>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "scenarios/engine/report.h"
#include "scenarios/engine/runner.h"
#include "scenarios/engine/scenario.h"

namespace scenarios {
namespace {

constexpr char kHeader[] = R"(name: expectation
clusters:
  - name: prod
    version: 1.19.16_1540
kms:
  - instance: kp
    keys:
      - name: crk
steps:
  - create_secret: {name: db, data: {password: hunter2}}
)";

ScenarioResult Replay(const std::string& steps) {
  base::StatusOr<Scenario> scenario =
      ParseScenario(std::string(kHeader) + steps, "expectation.yaml");
  EXPECT_TRUE(scenario.ok()) << scenario.status();
  if (!scenario.ok()) return {};
  return RunScenario(*scenario, RunOptions{});
}

struct FailureCase {
  std::string name;
  std::string steps;
  std::vector<std::string> fragments;  // each must appear in the failure
  // The failing step, after any steps that set it up.
  int step = 2;
  int line = 11;
};

// Names the case in test output instead of dumping its bytes.
void PrintTo(const FailureCase& c, std::ostream* os) { *os << c.name; }

class ExpectationFailure : public testing::TestWithParam<FailureCase> {};

TEST_P(ExpectationFailure, ReportsExpectedAndActual) {
  const FailureCase& c = GetParam();

  ScenarioResult result = Replay(c.steps);

  EXPECT_FALSE(result.passed);
  EXPECT_NE(result.failure.find("step " + std::to_string(c.step) + " "),
            std::string::npos)
      << result.failure;
  EXPECT_NE(result.failure.find("expectation.yaml:" + std::to_string(c.line)),
            std::string::npos)
      << result.failure;
  for (const std::string& fragment : c.fragments) {
    EXPECT_NE(result.failure.find(fragment), std::string::npos)
        << "missing \"" << fragment << "\" in:\n"
        << result.failure;
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllKinds, ExpectationFailure,
    testing::Values(
        FailureCase{"MasterStatus",
                    "  - expect_cluster: {master_status: '^Warning'}\n",
                    {"expected: master_status matching /^Warning/",
                     "actual:   master_status \"Ready (1 min ago)\""}},
        FailureCase{"Health",
                    "  - expect_cluster: {health: warning, within: 5m}\n",
                    {"expected: health \"warning\"",
                     "actual:   health \"normal\" (still after 5m)"}},
        FailureCase{
            "Kms",
            "  - expect_cluster: {kms: enabled}\n",
            {"expected: kms \"enabled\"", "actual:   kms \"disabled\""}},
        FailureCase{
            "KeyState",
            "  - expect_key: {key: crk, state: Suspended}\n",
            {"expected: state \"Suspended\"", "actual:   state \"Active\""}},
        FailureCase{
            "Error",
            "  - get_secret: {name: db}\n    expect: {error: timeout}\n",
            {"expected: error matching /timeout/", "actual:   success"}},
        FailureCase{"Success",
                    "  - get_secret: {name: missing}\n",
                    {"expected: success",
                     "actual:   error \"secrets \"missing\" not found\""}},
        FailureCase{"OkFalse",
                    "  - get_secret: {name: db}\n    expect: {ok: false}\n",
                    {"expected: an error", "actual:   success"}},
        FailureCase{"Reason",
                    "  - disable_key: crk\n    expect: {reason: "
                    "KEY_DELETED_ERR}\n",
                    {"expected: error with reason KEY_DELETED_ERR",
                     "actual:   success"}},
        FailureCase{"Data",
                    "  - get_secret: {name: db}\n    expect: {data: "
                    "{password: other}}\n",
                    {"expected: data {password: other}",
                     "actual:   data {password: hunter2}"}},
        FailureCase{"Count",
                    "  - list_secrets: {}\n    expect: {count: 2}\n",
                    {"expected: count 2", "actual:   count 1"}},
        FailureCase{
            "Names",
            "  - list_secrets: {}\n    expect: {names: [default/x]}\n",
            {"expected: names [default/x]", "actual:   names [default/db]"}},
        FailureCase{"Written",
                    "  - rewrite_secrets:\n    expect: {written: 1}\n",
                    {"expected: written 1", "actual:   written 0"}},
        FailureCase{"StoredPrefix",
                    "  - expect_stored: {name: db, prefix: 'k8s:enc:'}\n",
                    {"expected: stored value starting with \"k8s:enc:\"",
                     "actual:   stored value starting with \"{"}},
        FailureCase{"StoredNotContains",
                    "  - expect_stored: {name: db, not_contains: [hunter2]}\n",
                    {"expected: stored value without \"hunter2\"",
                     "actual:   found in base64 form"}},
        FailureCase{"StoredContains",
                    "  - expect_stored: {name: db, contains: [swordfish]}\n",
                    {"expected: stored value containing \"swordfish\"",
                     "actual:   no such bytes"}},
        FailureCase{"StoredAbsent",
                    "  - expect_stored: {name: db, absent: true}\n",
                    {"expected: no stored value", "actual:   a stored value"}},
        FailureCase{
            "KmsCalls",
            "  - expect_kms_calls: {operation: wrap, calls: 1}\n",
            {"expected: wrap calls 1", "actual:   calls 0 (0 ok, 0 failed)"}},
        FailureCase{"HttpStatus",
                    "  - get_secret: {name: missing}\n    expect: "
                    "{http_status: 500}\n",
                    {"expected: HTTP 500",
                     "actual:   HTTP 404 NotFound \"secrets \"missing\" "
                     "not found\""}},
        FailureCase{"HttpReason",
                    "  - get_secret: {name: db}\n    expect: "
                    "{http_reason: InternalError}\n",
                    {"expected: HTTP InternalError", "actual:   success"}},
        FailureCase{"HttpForbidden",
                    "  - add_user: {email: v@example.com, "
                    "cluster_service_role: Reader}\n"
                    "  - get_secret: {name: db, as: v@example.com}\n"
                    "    expect: {http_status: 404}\n",
                    {"expected: HTTP 404",
                     "actual:   HTTP 403 Forbidden \"secrets \"db\" is "
                     "forbidden: User \"IAM#v@example.com\" cannot get"},
                    3,
                    12},
        FailureCase{"KsOutput",
                    "  - ks: 'cluster get -c prod'\n    expect: "
                    "{output: 'Key Management Service: enabled'}\n",
                    {"expected: output matching /Key Management Service: "
                     "enabled/",
                     "actual:   output \"Name: prod"}},
        FailureCase{"KsError",
                    "  - ks: 'cluster get -c staging'\n",
                    {"expected: success",
                     "actual:   error \"cluster staging not found"}},
        FailureCase{
            "Readyz",
            "  - expect_health: {readyz: failed}\n",
            {"expected: /readyz failed", "actual:   /readyz ok (HTTP 200"}},
        FailureCase{"Livez",
                    "  - kms_fault: {name: down, kind: outage}\n"
                    "  - expect_health: {livez: failed, within: 5m}\n",
                    {"expected: /livez failed", "actual:   /livez ok (HTTP 200",
                     "(still after 5m)"},
                    3,
                    12},
        FailureCase{"For",
                    "  - expect_cluster: {master_status: '1 min ago', for: "
                    "2h}\n",
                    {"expected: master_status matching /1 min ago/",
                     "actual:   master_status \"Ready (2 hours ago)\"",
                     "(after 2h of the 2h it had to hold)"}}),
    [](const testing::TestParamInfo<FailureCase>& info) {
      return info.param.name;
    });

TEST(Expectation, ForPassesWhileHolding) {
  ScenarioResult result = Replay(
      "  - get_secret: {name: db}\n    expect: {data: {password: hunter2}, "
      "for: 2h}\n");

  EXPECT_TRUE(result.passed) << result.failure;
  EXPECT_EQ(result.virtual_elapsed, std::chrono::hours(2));
}

TEST(Expectation, RepeatExpandsWithVariables) {
  base::StatusOr<Scenario> scenario = ParseScenario(
      std::string(kHeader) +
          "  - repeat:\n"
          "      times: 3\n"
          "      var: n\n"
          "      steps:\n"
          "        - create_secret: {name: 's-${n}', data: {v: '${n}'}}\n"
          "  - list_secrets: {}\n"
          "    expect: {names: [default/db, default/s-0, default/s-1, "
          "default/s-2]}\n",
      "repeat.yaml");
  ASSERT_TRUE(scenario.ok()) << scenario.status();

  ScenarioResult result = RunScenario(*scenario, RunOptions{});

  EXPECT_EQ(scenario->steps.size(), 5u);
  EXPECT_EQ(scenario->steps[2].fields.String("name"), "s-1");
  EXPECT_TRUE(result.passed) << result.failure;
}

TEST(Expectation, UnknownVariableRejected) {
  base::StatusOr<Scenario> scenario = ParseScenario(
      std::string(kHeader) + "  - get_secret: {name: '${missing}'}\n",
      "vars.yaml");

  ASSERT_FALSE(scenario.ok());
  EXPECT_NE(scenario.status().message().find("vars.yaml:11:"),
            std::string::npos)
      << scenario.status();
  EXPECT_NE(scenario.status().message().find("unknown variable '${missing}'"),
            std::string::npos)
      << scenario.status();
}

TEST(Expectation, TopLevelVarsSubstitute) {
  base::StatusOr<Scenario> scenario = ParseScenario(
      "vars: {ns: default, wait: 5m}\n" + std::string(kHeader) +
          "  - advance: ${wait}\n  - get_secret: {namespace: '${ns}', name: "
          "db}\n",
      "vars.yaml");
  ASSERT_TRUE(scenario.ok()) << scenario.status();

  ScenarioResult result = RunScenario(*scenario, RunOptions{});

  EXPECT_TRUE(result.passed) << result.failure;
  EXPECT_EQ(result.virtual_elapsed, std::chrono::minutes(5));
}

TEST(Expectation, TimelineRecordsLanes) {
  ScenarioResult result = Replay(
      "  - kms_enable: {instance: kp, key: crk}\n"
      "  - expect_cluster: {kms: enabled, within: 15m}\n"
      "  - disable_key: crk\n"
      "  - expect_cluster: {health: warning, within: 10m}\n");
  ASSERT_TRUE(result.passed) << result.failure;

  std::vector<std::string> lanes;
  std::vector<std::string> api_values;
  for (const Timeline::Lane& lane : result.timeline.lanes) {
    lanes.push_back(lane.name);
    if (lane.name == "prod API") {
      for (const auto& change : lane.changes) {
        api_values.push_back(change.value);
      }
    }
  }

  EXPECT_EQ(lanes,
            (std::vector<std::string>{"prod master", "prod API", "key crk"}));
  EXPECT_EQ(api_values, (std::vector<std::string>{"available", "unavailable"}));
  EXPECT_EQ(result.timeline.steps.size(), 5u);
}

TEST(Expectation, SetUpFailureStaysOneLine) {
  base::StatusOr<Scenario> scenario =
      ParseScenario(std::string(kHeader), "setup.yaml");
  ASSERT_TRUE(scenario.ok()) << scenario.status();
  // The parser rejects such a name; a scenario built in code can have it.
  scenario->keys[0].name = "a\nb";

  ScenarioResult result = RunScenario(*scenario, RunOptions{});
  std::ostringstream out;
  PrintResult(out, result);
  std::string printed = out.str();

  EXPECT_FALSE(result.passed);
  EXPECT_NE(result.failure.find("set-up failed: "), std::string::npos)
      << result.failure;
  EXPECT_NE(result.failure.find("a\\x0ab"), std::string::npos)
      << result.failure;
  EXPECT_EQ(result.failure.find('\n'), std::string::npos) << result.failure;
  // The name line, the file line and the failure line.
  EXPECT_EQ(std::count(printed.begin(), printed.end(), '\n'), 3) << printed;
}

}  // namespace

// The default std::regex matcher recursed once per character and crashed
// on a long message with a common pattern.
TEST(Expectation, RegexMatchesLongTextWithoutRecursing) {
  const std::string message = std::string(200000, 'a') + "\nZ";

  EXPECT_TRUE(std::regex_search(message, CompileExpectationRegex("(.|\\n)*Z")));
  EXPECT_THROW(CompileExpectationRegex("(a)\\1"), std::regex_error);
}

}  // namespace scenarios
