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

// Returns the file name of the scenario's page: its name with every
// character outside [A-Za-z0-9._-], and a leading '.', replaced by '_', cut
// to 120 bytes, plus ".html". When the name had to change, a hash of the
// exact name comes before ".html", so that names such as a/b and a:b get
// different files. The result depends on the name alone.
std::string TimelineFileName(const std::string& scenario_name);

}  // namespace scenarios

#endif  // SCENARIOS_ENGINE_TIMELINE_H_
