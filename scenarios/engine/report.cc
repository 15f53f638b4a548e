#include "scenarios/engine/report.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace scenarios {
namespace {

std::string XmlEscape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      case '\t':
      case '\n':
      case '\r':
        out += c;
        break;
      default:
        // XML 1.0 has no way to write the other control characters, not
        // even as references, so they are shown as \xNN.
        if (static_cast<unsigned char>(c) < 0x20) {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\x";
          out += kHex[(c >> 4) & 0xF];
          out += kHex[c & 0xF];
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string Milliseconds(double seconds) {
  std::ostringstream out;
  out.precision(0);
  out << std::fixed << seconds * 1000 << " ms";
  return out.str();
}

}  // namespace

void PrintResult(std::ostream& out, const ScenarioResult& result) {
  out << (result.passed    ? "PASS "
          : result.invalid ? "INVALID "
                           : "FAIL ")
      << result.name << " (" << result.steps_run << "/" << result.steps_total
      << " steps, " << base::FormatDuration(result.virtual_elapsed)
      << " virtual, " << Milliseconds(result.wall_seconds) << ")\n";
  if (!result.passed) {
    out << "  " << result.file << "\n  " << result.failure << "\n";
  }
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
    out << "    <testcase classname=\"" << XmlEscape(r.file) << "\" name=\""
        << XmlEscape(r.name) << "\" time=\"" << r.wall_seconds << "\">\n";
    if (!r.passed) {
      std::string first_line = r.failure.substr(0, r.failure.find('\n'));
      out << "      <failure message=\"" << XmlEscape(first_line) << "\">"
          << XmlEscape(r.failure) << "</failure>\n";
    }
    out << "      <system-out>";
    for (const std::string& event : r.events) out << XmlEscape(event) << "\n";
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
  return report.dump(2) + "\n";
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
