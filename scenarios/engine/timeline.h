// Renders a scenario's Timeline as a self-contained HTML page with one SVG:
// a lane per cluster master, cluster API and key, coloured by value over
// virtual time, with the steps marked, so a reader sees at a glance when a
// cluster went down and when it came back.
#ifndef SCENARIOS_ENGINE_TIMELINE_H_
#define SCENARIOS_ENGINE_TIMELINE_H_

#include <string>

#include "scenarios/engine/runner.h"

namespace scenarios {

std::string TimelineHtml(const ScenarioResult& result);

// Returns a file name for the scenario's page: its name with every
// character outside [A-Za-z0-9._-] replaced by '_', plus ".html".
std::string TimelineFileName(const std::string& scenario_name);

}  // namespace scenarios

#endif  // SCENARIOS_ENGINE_TIMELINE_H_
