#include "scenarios/engine/replay_command.h"

#include <iostream>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "scenarios/engine/report.h"
#include "scenarios/engine/runner.h"
#include "scenarios/engine/scenario.h"

namespace scenarios {
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
      FindScenarioFiles(flags.paths);
  if (!files.ok()) {
    std::cerr << "error: " << files.status().message() << "\n";
    return kInvalidInput;
  }

  // Parse everything first: an invalid file stops the run before any step.
  std::vector<Scenario> parsed;
  bool invalid = false;
  for (const std::string& file : *files) {
    base::StatusOr<Scenario> scenario = ParseScenarioFile(file);
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

  RunOptions options;
  options.seed = flags.seed;
  options.work_dir = flags.work_dir;
  std::vector<ScenarioResult> results;
  for (const Scenario& scenario : parsed) {
    results.push_back(RunScenario(scenario, options));
    PrintResult(std::cout, results.back());
  }

  if (!flags.junit.empty()) {
    base::Status written = WriteFile(flags.junit, JUnitXml(results));
    if (!written.ok()) std::cerr << "error: " << written.message() << "\n";
  }
  if (!flags.json.empty()) {
    base::Status written = WriteFile(flags.json, JsonReport(results));
    if (!written.ok()) std::cerr << "error: " << written.message() << "\n";
  }
  std::cout << SummaryLine(results) << "\n";
  for (const auto& result : results) {
    if (!result.passed) return kScenarioFailed;
  }
  return kAllPassed;
}

}  // namespace

std::function<int()> AddReplayCommand(CLI::App& app) {
  auto flags = std::make_shared<ReplayFlags>();
  CLI::App* cmd =
      app.add_subcommand("replay", "Run scenario files and report results");
  cmd->add_option("paths", flags->paths, "Scenario files or folders")
      ->required();
  cmd->add_option("--junit", flags->junit,
                  "Write a JUnit XML report to this file");
  cmd->add_option("--json", flags->json, "Write a JSON report to this file");
  cmd->add_option("--filter", flags->filter,
                  "Run only scenarios whose name matches this regular "
                  "expression");
  cmd->add_option("--seed", flags->seed,
                  "Seed for scenarios that do not set their own")
      ->capture_default_str();
  cmd->add_option("--work-dir", flags->work_dir,
                  "Parent folder for the runs' RocksDB stores (default: the "
                  "system temporary folder)");
  cmd->add_flag("--validate", flags->validate_only,
                "Check the files without running them");
  return [cmd, flags]() -> int {
    if (!*cmd) return -1;
    return Replay(*flags);
  };
}

}  // namespace scenarios
