#include "scenarios/engine/report.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string_view>

#include "scenarios/engine/escape.h"

namespace scenarios {
namespace {

// Limits of a failure message on the terminal, where a long actual value,
// such as a list of thousands of Secrets, would flood the screen.
constexpr size_t kMaxTerminalLineBytes = 400;
constexpr int kMaxTerminalLines = 20;

std::string Milliseconds(double seconds) {
  std::ostringstream out;
  out.precision(0);
  out << std::fixed << seconds * 1000 << " ms";
  return out.str();
}

// Writes one line of a failure, cut to kMaxTerminalLineBytes.
void PrintFailureLine(std::ostream& out, std::string_view line) {
  std::string_view kept = Utf8Prefix(line, kMaxTerminalLineBytes);
  out << EscapeForTerminal(kept);
  if (kept.size() < line.size()) {
    out << "... [" << line.size() - kept.size()
        << " more bytes; the --json and --junit reports have the full text]";
  }
  out << "\n";
}

}  // namespace

void PrintResult(std::ostream& out, const ScenarioResult& result) {
  out << (result.passed    ? "PASS "
          : result.invalid ? "INVALID "
                           : "FAIL ")
      << EscapeForTerminal(result.name) << " (" << result.steps_run << "/"
      << result.steps_total << " steps, "
      << base::FormatDuration(result.virtual_elapsed) << " virtual, "
      << Milliseconds(result.wall_seconds) << ")\n";
  if (result.passed) return;
  out << "  " << EscapeForTerminal(result.file) << "\n  ";
  std::string_view failure = result.failure;
  for (int lines = 0; lines < kMaxTerminalLines; ++lines) {
    size_t end = failure.find('\n');
    PrintFailureLine(out, failure.substr(0, end));
    if (end == std::string_view::npos) return;
    failure.remove_prefix(end + 1);
  }
  size_t hidden = std::count(failure.begin(), failure.end(), '\n') + 1;
  out << "    ... [" << hidden
      << " more lines; the --json and --junit reports have the full text]\n";
}

std::string SummaryLine(const std::vector<ScenarioResult>& results) {
  int passed = 0;
  for (const ScenarioResult& r : results) passed += r.passed ? 1 : 0;
  return std::to_string(passed) + " passed, " +
         std::to_string(results.size() - passed) + " failed";
}

std::string JUnitXml(const std::vector<ScenarioResult>& results) {
  int failures = 0;
  double total = 0;
  for (const ScenarioResult& r : results) {
    failures += r.passed ? 0 : 1;
    total += r.wall_seconds;
  }
  std::ostringstream out;
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      << "<testsuites tests=\"" << results.size() << "\" failures=\""
      << failures << "\" time=\"" << total << "\">\n"
      << "  <testsuite name=\"scenarios\" tests=\"" << results.size()
      << "\" failures=\"" << failures << "\" time=\"" << total << "\">\n";
  for (const ScenarioResult& r : results) {
    out << "    <testcase classname=\"" << EscapeMarkup(r.file) << "\" name=\""
        << EscapeMarkup(r.name) << "\" time=\"" << r.wall_seconds << "\">\n";
    if (!r.passed) {
      std::string first_line = r.failure.substr(0, r.failure.find('\n'));
      out << "      <failure message=\"" << EscapeMarkup(first_line) << "\">"
          << EscapeMarkup(r.failure) << "</failure>\n";
    }
    out << "      <system-out>";
    for (const std::string& event : r.events)
      out << EscapeMarkup(event) << "\n";
    out << "</system-out>\n    </testcase>\n";
  }
  out << "  </testsuite>\n</testsuites>\n";
  return out.str();
}

std::string JsonReport(const std::vector<ScenarioResult>& results) {
  nlohmann::ordered_json scenarios = nlohmann::ordered_json::array();
  int passed = 0;
  for (const ScenarioResult& r : results) {
    passed += r.passed ? 1 : 0;
    nlohmann::ordered_json item;
    item["name"] = r.name;
    item["file"] = r.file;
    item["description"] = r.description;
    item["passed"] = r.passed;
    item["seed"] = r.seed;
    item["steps_total"] = r.steps_total;
    item["steps_run"] = r.steps_run;
    item["virtual_elapsed"] = base::FormatDuration(r.virtual_elapsed);
    if (!r.passed) item["failure"] = r.failure;
    item["events"] = r.events;
    scenarios.push_back(std::move(item));
  }
  nlohmann::ordered_json report;
  report["passed"] = passed;
  report["failed"] = static_cast<int>(results.size()) - passed;
  report["scenarios"] = std::move(scenarios);
  return report.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) +
         "\n";
}

base::Status WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::trunc);
  out << content;
  out.close();
  if (!out) {
    return base::FailedPreconditionError("cannot write " + path);
  }
  return base::OkStatus();
}

}  // namespace scenarios
