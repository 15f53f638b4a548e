#include "scenarios/engine/replay_command.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "scenarios/engine/escape.h"
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
  bool shard_given = false;
  std::string timeline_dir;
  std::string seed = "1";
  int jobs = 1;
  bool validate_only = false;
  // --schema was given; an empty schema_path means standard output.
  bool schema = false;
  std::string schema_path;
};

// The largest seed, both for --seed and for `seed:` in scenario files.
constexpr int64_t kMaxSeed = std::numeric_limits<int64_t>::max();

// Parses a decimal integer from 0 to kMaxSeed, with nothing around it.
std::optional<uint64_t> ParseSeed(const std::string& text) {
  int64_t seed = 0;
  const char* end = text.data() + text.size();
  auto [stop, error] = std::from_chars(text.data(), end, seed);
  if (text.empty() || error != std::errc() || stop != end || seed < 0) {
    return std::nullopt;
  }
  return static_cast<uint64_t>(seed);
}

// Parses a positive decimal integer, with nothing around it.
std::optional<int> ParsePositive(std::string_view text) {
  int value = 0;
  auto [stop, error] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() ||
      stop != text.data() + text.size() || value < 1) {
    return std::nullopt;
  }
  return value;
}

// Parses "i/n" with 1 <= i <= n into a zero-based index and a count.
std::optional<std::pair<int, int>> ParseShard(const std::string& text) {
  size_t slash = text.find('/');
  if (slash == std::string::npos) return std::nullopt;
  std::optional<int> index =
      ParsePositive(std::string_view(text).substr(0, slash));
  std::optional<int> count =
      ParsePositive(std::string_view(text).substr(slash + 1));
  if (!index || !count || *index > *count) return std::nullopt;
  return std::make_pair(*index - 1, *count);
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
  // The place of each name, as "FILE:LINE".
  std::map<std::string, std::string> place_of_name;
  size_t total = 0;
  for (const std::string& file : files) {
    base::StatusOr<std::vector<Scenario>> scenarios = ParseScenarioFile(file);
    if (!scenarios.ok()) {
      std::cerr << "error: " << EscapeForTerminal(scenarios.status().message())
                << "\n";
      valid = false;
      continue;
    }
    for (Scenario& scenario : *scenarios) {
      ++total;
      std::string place = file + ":" + std::to_string(scenario.line);
      auto [first, added] = place_of_name.emplace(scenario.name, place);
      if (!added) {
        std::cerr << "error: " << EscapeForTerminal(place)
                  << ": scenario name '" << EscapeForTerminal(scenario.name)
                  << "' is also used by " << EscapeForTerminal(first->second)
                  << "; names identify scenarios in --filter, the reports "
                     "and the timeline files, so set a different 'name:'\n";
        valid = false;
        continue;
      }
      if (filter && !std::regex_search(scenario.name, *filter)) continue;
      out.push_back(std::move(scenario));
    }
  }
  if (valid && filter && out.empty()) {
    std::cerr << "error: --filter '" << EscapeForTerminal(flags.filter)
              << "' matches none of the " << total
              << " scenario names; it is a regular expression searched for "
                 "in each scenario's name (its 'name:' or file name)\n";
    return false;
  }
  return valid;
}

const char* SignalName(int signal) {
  return signal == SIGINT ? "SIGINT" : "SIGTERM";
}

// Waits for SIGINT and SIGTERM in a thread of its own and turns the first
// into a stop request, so that the runs end between steps and remove their
// directories. A second signal ends the process at once, leaving the
// directories behind. sigwait, not a signal handler, receives the signals,
// so the reaction may do anything a thread may.
// REQUIRES: SIGINT and SIGTERM blocked in every thread of the process.
class StopSignalWatcher {
 public:
  StopSignalWatcher() : thread_([this] { Wait(); }) {}
  ~StopSignalWatcher() {
    // Wakes the thread with a signal only it receives.
    finished_ = true;
    pthread_kill(thread_.native_handle(), SIGTERM);
    thread_.join();
  }

  std::stop_token token() const { return stop_.get_token(); }
  // The first signal received, or 0.
  int received() const { return received_; }

 private:
  void Wait() {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    while (true) {
      int signal = 0;
      if (sigwait(&signals, &signal) != 0) continue;
      if (finished_) return;
      if (received_ == 0) {
        received_ = signal;
        std::cerr << "\n"
                  << SignalName(signal)
                  << ": stopping the runs and removing their directories; "
                     "send it again to exit at once\n";
        stop_.request_stop();
        continue;
      }
      std::cerr << SignalName(signal)
                << " again: exiting without removing the run directories\n";
      std::_Exit(128 + signal);
    }
  }

  std::stop_source stop_;
  std::atomic<int> received_{0};
  std::atomic<bool> finished_{false};
  // Last, so that it starts after the members it uses.
  std::thread thread_;
};

// Runs the scenarios on `jobs` threads; results keep the input order. After
// a stop request, no further scenario starts.
std::vector<ScenarioResult> RunAll(const std::vector<Scenario>& scenarios,
                                   const RunOptions& options, int jobs) {
  std::vector<ScenarioResult> results(scenarios.size());
  std::atomic<size_t> next{0};
  std::mutex output_mu;
  size_t done = 0;  // guarded by output_mu
  bool progress = isatty(STDERR_FILENO) != 0;

  auto worker = [&] {
    for (size_t i = next++; i < scenarios.size(); i = next++) {
      if (options.stop.stop_requested()) return;
      ScenarioResult result = RunScenario(scenarios[i], options);
      // A stopped run is reported once, by the summary.
      if (result.cancelled) return;
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

// Checks that a report file can be written, before any scenario runs, so
// that a typo in a path does not cost a whole run. The check opens the file
// for writing without truncating it and removes it again if it did not
// exist.
bool CheckReportFile(const char* flag, const std::string& path) {
  std::error_code ec;
  bool existed = std::filesystem::exists(path, ec);
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) {
    std::cerr << "error: " << flag << " " << EscapeForTerminal(path)
              << ": cannot write the report: " << std::strerror(errno)
              << "; name a file in an existing, writable folder\n";
    return false;
  }
  close(fd);
  if (!existed) std::filesystem::remove(path, ec);
  return true;
}

// Creates the --timeline folder and checks that files can be created in it.
bool CheckTimelineDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    std::cerr << "error: --timeline " << EscapeForTerminal(dir)
              << ": cannot create the folder: " << ec.message() << "\n";
    return false;
  }
  std::string probe = dir + "/.sim-replay-probe-XXXXXX";
  int fd = mkstemp(probe.data());
  if (fd < 0) {
    std::cerr << "error: --timeline " << EscapeForTerminal(dir)
              << ": cannot create files in the folder: " << std::strerror(errno)
              << "\n";
    return false;
  }
  close(fd);
  std::filesystem::remove(probe, ec);
  return true;
}

// Checks that no report or timeline file is one of the input files, under
// its own name or another (a link), which writing the reports would
// overwrite.
bool CheckOutputsAreNotInputs(const ReplayFlags& flags,
                              const std::vector<std::string>& files,
                              const std::vector<Scenario>& selected) {
  std::map<std::pair<dev_t, ino_t>, std::string> inputs;
  struct stat info;
  for (const std::string& file : files) {
    if (stat(file.c_str(), &info) == 0) {
      inputs.emplace(std::make_pair(info.st_dev, info.st_ino), file);
    }
  }
  std::vector<std::pair<std::string, std::string>> outputs;  // flag, path
  if (!flags.junit.empty()) outputs.emplace_back("--junit", flags.junit);
  if (!flags.json.empty()) outputs.emplace_back("--json", flags.json);
  if (!flags.timeline_dir.empty()) {
    for (const Scenario& scenario : selected) {
      outputs.emplace_back("--timeline", flags.timeline_dir + "/" +
                                             TimelineFileName(scenario.name));
    }
  }
  for (const auto& [flag, path] : outputs) {
    if (stat(path.c_str(), &info) != 0) continue;
    auto input = inputs.find(std::make_pair(info.st_dev, info.st_ino));
    if (input == inputs.end()) continue;
    std::cerr << "error: " << flag << " would write " << EscapeForTerminal(path)
              << ", which is the scenario file "
              << EscapeForTerminal(input->second)
              << "; name an output file that is not an input\n";
    return false;
  }
  return true;
}

bool CheckOutputs(const ReplayFlags& flags) {
  if (!flags.junit.empty() && flags.junit == flags.json) {
    std::cerr << "error: --junit and --json name the same file; give each "
                 "report its own file\n";
    return false;
  }
  if (!flags.junit.empty() && !CheckReportFile("--junit", flags.junit)) {
    return false;
  }
  if (!flags.json.empty() && !CheckReportFile("--json", flags.json)) {
    return false;
  }
  return flags.timeline_dir.empty() || CheckTimelineDir(flags.timeline_dir);
}

bool WriteReports(const ReplayFlags& flags,
                  const std::vector<ScenarioResult>& results) {
  bool ok = true;
  auto write = [&](const std::string& path, const std::string& content) {
    base::Status written = WriteFile(path, content);
    if (!written.ok()) {
      std::cerr << "error: " << EscapeForTerminal(written.message()) << "\n";
      ok = false;
    }
  };
  if (!flags.junit.empty()) write(flags.junit, JUnitXml(results));
  if (!flags.json.empty()) write(flags.json, JsonReport(results));
  if (!flags.timeline_dir.empty()) {
    for (const ScenarioResult& result : results) {
      write(flags.timeline_dir + "/" + TimelineFileName(result.name),
            TimelineHtml(result));
    }
  }
  return ok;
}

// Writes the reports and the summary line and returns the exit code.
int Finish(const ReplayFlags& flags,
           const std::vector<ScenarioResult>& results) {
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

// Writes the JSON Schema to standard output or to flags.schema_path.
int WriteSchema(const ReplayFlags& flags) {
  if (!flags.paths.empty()) {
    std::cerr << "error: --schema writes the schema and runs no scenarios; "
                 "drop the scenario paths\n";
    return kInvalidInput;
  }
  if (flags.schema_path.empty() || flags.schema_path == "-") {
    std::cout << ScenarioJsonSchema();
    return kAllPassed;
  }
  base::Status written = WriteFile(flags.schema_path, ScenarioJsonSchema());
  if (!written.ok()) {
    std::cerr << "error: --schema: " << EscapeForTerminal(written.message())
              << "\n";
    return kInvalidInput;
  }
  std::cout << "wrote the JSON Schema to "
            << EscapeForTerminal(flags.schema_path) << "\n";
  return kAllPassed;
}

int Replay(const ReplayFlags& flags) {
  if (flags.schema) return WriteSchema(flags);
  std::optional<uint64_t> seed = ParseSeed(flags.seed);
  if (!seed) {
    std::cerr << "error: --seed must be an integer from 0 to " << kMaxSeed
              << ", got '" << EscapeForTerminal(flags.seed) << "'\n";
    return kInvalidInput;
  }
  std::optional<std::pair<int, int>> shard{std::make_pair(0, 1)};
  if (flags.shard_given) shard = ParseShard(flags.shard);
  if (!shard) {
    std::cerr << "error: --shard must be i/n with 1 <= i <= n, such as 1/3, "
                 "got '"
              << EscapeForTerminal(flags.shard) << "'\n";
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
    std::cerr << "error: " << EscapeForTerminal(files.status().message())
              << "\n";
    return kInvalidInput;
  }
  if (files->empty()) {
    std::cerr << "error: no scenario files (*.yaml or *.yml) in the folders "
                 "named\n";
    return kInvalidInput;
  }

  // From here on, SIGINT and SIGTERM stop the replay.
  StopSignalWatcher signals;
  std::vector<Scenario> parsed;
  if (!ParseAll(*files, flags, parsed)) return kInvalidInput;
  if (int signal = signals.received(); signal != 0) return 128 + signal;
  if (flags.validate_only) {
    std::cout << parsed.size() << " scenarios in " << files->size()
              << " scenario files valid\n";
    return kAllPassed;
  }
  std::vector<Scenario> selected;
  for (size_t i = 0; i < parsed.size(); ++i) {
    if (static_cast<int>(i % shard->second) == shard->first) {
      selected.push_back(std::move(parsed[i]));
    }
  }

  if (selected.empty()) {
    std::cout << "shard " << EscapeForTerminal(flags.shard)
              << " has none of the " << parsed.size() << " scenarios\n";
  }
  if (!CheckOutputsAreNotInputs(flags, *files, selected) ||
      !CheckOutputs(flags)) {
    return kInvalidInput;
  }

  RunOptions options;
  options.seed = *seed;
  options.work_dir = flags.work_dir;
  options.stop = signals.token();
  std::vector<ScenarioResult> results = RunAll(selected, options, flags.jobs);
  if (int signal = signals.received(); signal != 0) {
    // Scenarios that never started have empty results.
    size_t finished = 0;
    for (const ScenarioResult& result : results) {
      finished += !result.name.empty() && !result.cancelled ? 1 : 0;
    }
    std::cout << "stopped by " << SignalName(signal) << " after " << finished
              << " of " << selected.size()
              << " scenarios; no reports written\n";
    return 128 + signal;
  }
  return Finish(flags, results);
}

}  // namespace

std::function<int()> AddReplayCommand(CLI::App& app) {
  auto flags = std::make_shared<ReplayFlags>();
  CLI::App* cmd =
      app.add_subcommand("replay", "Run scenario files and report results");
  cmd->add_option("paths", flags->paths, "Scenario files or folders");
  cmd->add_option("--schema", flags->schema_path,
                  "Write the JSON Schema of scenario files to FILE, or to "
                  "standard output without FILE, and exit")
      ->expected(0, 1)
      ->type_name("[FILE]");
  cmd->add_option("--junit", flags->junit,
                  "Write a JUnit XML report to this file");
  cmd->add_option("--json", flags->json, "Write a JSON report to this file");
  cmd->add_option("--filter", flags->filter,
                  "Run only scenarios whose name matches this regular "
                  "expression");
  cmd->add_option("--seed", flags->seed,
                  "Seed for scenarios that do not set their own, an integer "
                  "from 0 to 9223372036854775807")
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
    flags->schema = cmd->count("--schema") > 0;
    flags->shard_given = cmd->count("--shard") > 0;
    return Replay(*flags);
  };
}

}  // namespace scenarios
