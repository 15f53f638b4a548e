// The `sim` command: `sim replay` runs scenario files against simulated
// clusters and reports like a test runner.
#include <CLI/CLI.hpp>
#include <iostream>
#include <regex>
#include <string>
#include <vector>

#include "base/log.h"
#include "scenarios/engine/report.h"
#include "scenarios/engine/runner.h"
#include "scenarios/engine/scenario.h"

namespace {

// Exit codes of `sim replay`.
constexpr int kAllPassed = 0;
constexpr int kScenarioFailed = 1;
constexpr int kInvalidInput = 2;

struct ReplayFlags {
  std::vector<std::string> paths;
  std::string junit;
  std::string json;
  std::string filter;
  std::string work_dir;
  uint64_t seed = 1;
  bool validate_only = false;
};

int Replay(const ReplayFlags& flags) {
  base::StatusOr<std::vector<std::string>> files =
      scenarios::FindScenarioFiles(flags.paths);
  if (!files.ok()) {
    std::cerr << "error: " << files.status().message() << "\n";
    return kInvalidInput;
  }

  // Parse everything first: an invalid file stops the run before any step.
  std::vector<scenarios::Scenario> parsed;
  bool invalid = false;
  for (const std::string& file : *files) {
    base::StatusOr<scenarios::Scenario> scenario =
        scenarios::ParseScenarioFile(file);
    if (!scenario.ok()) {
      std::cerr << "error: " << scenario.status().message() << "\n";
      invalid = true;
      continue;
    }
    if (!flags.filter.empty() &&
        !std::regex_search(scenario->name, std::regex(flags.filter))) {
      continue;
    }
    parsed.push_back(std::move(*scenario));
  }
  if (invalid) return kInvalidInput;
  if (flags.validate_only) {
    std::cout << parsed.size() << " scenario files valid\n";
    return kAllPassed;
  }

  scenarios::RunOptions options;
  options.seed = flags.seed;
  options.work_dir = flags.work_dir;
  std::vector<scenarios::ScenarioResult> results;
  for (const scenarios::Scenario& scenario : parsed) {
    results.push_back(scenarios::RunScenario(scenario, options));
    scenarios::PrintResult(std::cout, results.back());
  }

  if (!flags.junit.empty()) {
    base::Status written =
        scenarios::WriteFile(flags.junit, scenarios::JUnitXml(results));
    if (!written.ok()) std::cerr << "error: " << written.message() << "\n";
  }
  if (!flags.json.empty()) {
    base::Status written =
        scenarios::WriteFile(flags.json, scenarios::JsonReport(results));
    if (!written.ok()) std::cerr << "error: " << written.message() << "\n";
  }
  std::cout << scenarios::SummaryLine(results) << "\n";
  for (const auto& result : results) {
    if (!result.passed) return kScenarioFailed;
  }
  return kAllPassed;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Simulated managed-cluster control plane for testing"};
  app.require_subcommand(1);
  std::string log_level = "warn";
  app.add_option("--log-level", log_level,
                 "Log level: trace, debug, info, warn, error or off")
      ->capture_default_str();

  ReplayFlags replay;
  CLI::App* replay_cmd =
      app.add_subcommand("replay", "Run scenario files and report results");
  replay_cmd->add_option("paths", replay.paths, "Scenario files or folders")
      ->required();
  replay_cmd->add_option("--junit", replay.junit,
                         "Write a JUnit XML report to this file");
  replay_cmd->add_option("--json", replay.json,
                         "Write a JSON report to this file");
  replay_cmd->add_option("--filter", replay.filter,
                         "Run only scenarios whose name matches this regular "
                         "expression");
  replay_cmd
      ->add_option("--seed", replay.seed,
                   "Seed for scenarios that do not set their own")
      ->capture_default_str();
  replay_cmd->add_option("--work-dir", replay.work_dir,
                         "Parent folder for the runs' RocksDB stores "
                         "(default: the system temporary folder)");
  replay_cmd->add_flag("--validate", replay.validate_only,
                       "Check the files without running them");

  CLI11_PARSE(app, argc, argv);
  base::InitLogging(log_level);
  if (*replay_cmd) return Replay(replay);
  return kInvalidInput;
}
