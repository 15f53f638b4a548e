// Reports of a replay: console lines, JUnit XML and JSON.
//
// The JSON report holds only deterministic fields (no wall-clock times), so
// that two runs with the same seed write identical files.
#ifndef SCENARIOS_ENGINE_REPORT_H_
#define SCENARIOS_ENGINE_REPORT_H_

#include <ostream>
#include <string>
#include <vector>

#include "base/status.h"
#include "scenarios/engine/runner.h"

namespace scenarios {

// "PASS name (N steps, 1h30m virtual, 12 ms)" or "FAIL ..." with the
// failure indented below it.
void PrintResult(std::ostream& out, const ScenarioResult& result);
// The closing line: "N passed, N failed".
std::string SummaryLine(const std::vector<ScenarioResult>& results);

std::string JUnitXml(const std::vector<ScenarioResult>& results);
std::string JsonReport(const std::vector<ScenarioResult>& results);

// Writes `content` to `path`, replacing it.
base::Status WriteFile(const std::string& path, const std::string& content);

}  // namespace scenarios

#endif  // SCENARIOS_ENGINE_REPORT_H_
