#include "scenarios/engine/replay_command.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "scenarios/engine/report.h"
#include "scenarios/engine/runner.h"
#include "scenarios/engine/scenario.h"
#include "scenarios/engine/timeline.h"

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
  std::string shard;  // "i/n"
  std::string timeline_dir;
  uint64_t seed = 1;
  int jobs = 1;
  bool validate_only = false;
  bool print_schema = false;
};

// Parses "i/n" with 1 <= i <= n into a zero-based index and a count.
std::optional<std::pair<int, int>> ParseShard(const std::string& text) {
  int index = 0;
  int count = 0;
  char extra;
  if (std::sscanf(text.c_str(), "%d/%d%c", &index, &count, &extra) != 2 ||
      count < 1 || index < 1 || index > count) {
    return std::nullopt;
  }
  return std::make_pair(index - 1, count);
}

// Parses every file; returns false (after printing each error) if any is
// invalid, so that no scenario runs on invalid input.
bool ParseAll(const std::vector<std::string>& files, const ReplayFlags& flags,
              std::vector<Scenario>& out) {
  std::optional<std::regex> filter;
  if (!flags.filter.empty()) {
    try {
      filter.emplace(flags.filter);
    } catch (const std::regex_error& e) {
      std::cerr << "error: --filter is not a valid regular expression: "
                << e.what() << "\n";
      return false;
    }
  }
  bool valid = true;
  for (const std::string& file : files) {
    base::StatusOr<Scenario> scenario = ParseScenarioFile(file);
    if (!scenario.ok()) {
      std::cerr << "error: " << scenario.status().message() << "\n";
      valid = false;
      continue;
    }
    if (filter && !std::regex_search(scenario->name, *filter)) continue;
    out.push_back(std::move(*scenario));
  }
  return valid;
}

// Runs the scenarios on `jobs` threads; results keep the input order.
std::vector<ScenarioResult> RunAll(const std::vector<Scenario>& scenarios,
                                   const RunOptions& options, int jobs) {
  std::vector<ScenarioResult> results(scenarios.size());
  std::atomic<size_t> next{0};
  std::mutex output_mu;
  size_t done = 0;  // guarded by output_mu
  bool progress = isatty(STDERR_FILENO) != 0;

  auto worker = [&] {
    for (size_t i = next++; i < scenarios.size(); i = next++) {
      ScenarioResult result = RunScenario(scenarios[i], options);
      std::lock_guard lock(output_mu);
      ++done;
      if (progress) std::cerr << "\r\033[K";
      PrintResult(std::cout, result);
      std::cout.flush();
      if (progress && done < scenarios.size()) {
        std::cerr << "[" << done << "/" << scenarios.size() << "] running";
      }
      results[i] = std::move(result);
    }
  };
  int threads = std::max(1, std::min<int>(jobs, scenarios.size()));
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& thread : pool) thread.join();
  return results;
}

bool WriteReports(const ReplayFlags& flags,
                  const std::vector<ScenarioResult>& results) {
  bool ok = true;
  auto write = [&](const std::string& path, const std::string& content) {
    base::Status written = WriteFile(path, content);
    if (!written.ok()) {
      std::cerr << "error: " << written.message() << "\n";
      ok = false;
    }
  };
  if (!flags.junit.empty()) write(flags.junit, JUnitXml(results));
  if (!flags.json.empty()) write(flags.json, JsonReport(results));
  if (!flags.timeline_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(flags.timeline_dir, ec);
    for (const ScenarioResult& result : results) {
      write(flags.timeline_dir + "/" + TimelineFileName(result.name),
            TimelineHtml(result));
    }
  }
  return ok;
}

int Replay(const ReplayFlags& flags) {
  if (flags.print_schema) {
    std::cout << ScenarioJsonSchema();
    return kAllPassed;
  }
  std::optional<std::pair<int, int>> shard{std::make_pair(0, 1)};
  if (!flags.shard.empty()) shard = ParseShard(flags.shard);
  if (!shard) {
    std::cerr << "error: --shard must be i/n with 1 <= i <= n, got \""
              << flags.shard << "\"\n";
    return kInvalidInput;
  }
  if (flags.paths.empty()) {
    std::cerr << "error: name at least one scenario file or folder\n";
    return kInvalidInput;
  }
  if (flags.jobs < 1) {
    std::cerr << "error: --jobs must be at least 1\n";
    return kInvalidInput;
  }
  base::StatusOr<std::vector<std::string>> files =
      FindScenarioFiles(flags.paths);
  if (!files.ok()) {
    std::cerr << "error: " << files.status().message() << "\n";
    return kInvalidInput;
  }

  std::vector<Scenario> parsed;
  if (!ParseAll(*files, flags, parsed)) return kInvalidInput;
  if (flags.validate_only) {
    std::cout << parsed.size() << " scenario files valid\n";
    return kAllPassed;
  }
  std::vector<Scenario> selected;
  for (size_t i = 0; i < parsed.size(); ++i) {
    if (static_cast<int>(i % shard->second) == shard->first) {
      selected.push_back(std::move(parsed[i]));
    }
  }

  RunOptions options;
  options.seed = flags.seed;
  options.work_dir = flags.work_dir;
  std::vector<ScenarioResult> results = RunAll(selected, options, flags.jobs);
  bool reports_written = WriteReports(flags, results);
  std::cout << SummaryLine(results) << "\n";
  for (const auto& result : results) {
    if (result.invalid) return kInvalidInput;
  }
  for (const auto& result : results) {
    if (!result.passed) return kScenarioFailed;
  }
  return reports_written ? kAllPassed : kInvalidInput;
}

}  // namespace

std::function<int()> AddReplayCommand(CLI::App& app) {
  auto flags = std::make_shared<ReplayFlags>();
  CLI::App* cmd =
      app.add_subcommand("replay", "Run scenario files and report results");
  cmd->add_option("paths", flags->paths, "Scenario files or folders");
  cmd->add_flag("--schema", flags->print_schema,
                "Print the JSON Schema of scenario files and exit");
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
  cmd->add_option("--jobs,-j", flags->jobs,
                  "Scenarios run in parallel, each with its own clusters")
      ->capture_default_str();
  cmd->add_option("--shard", flags->shard,
                  "Run only shard i of n (i/n, 1-based) of the sorted "
                  "scenario list, to split a suite across machines");
  cmd->add_option("--timeline", flags->timeline_dir,
                  "Write an HTML timeline per scenario into this folder");
  return [cmd, flags]() -> int {
    if (!*cmd) return -1;
    return Replay(*flags);
  };
}

}  // namespace scenarios
