// Runner: replays one parsed scenario against freshly built clusters, a
// KeyService and a SimulatedClock, and reports what happened.
//
// A run is deterministic: the clock starts at a fixed instant and all
// randomness comes from a SeededRandom, so the same scenario and seed give
// the same event log byte for byte. Each run owns its clusters and their
// RocksDB directories under RunOptions::work_dir.
#ifndef SCENARIOS_ENGINE_RUNNER_H_
#define SCENARIOS_ENGINE_RUNNER_H_

#include <cstdint>
#include <stop_token>
#include <string>
#include <vector>

#include "scenarios/engine/scenario.h"

namespace scenarios {

struct RunOptions {
  // Used unless the scenario sets its own seed.
  uint64_t seed = 1;
  // Parent directory for the run's data, created when missing; the run
  // creates a subdirectory of its own (mode 0700) and removes it at the
  // end. Empty means the system temporary folder.
  std::string work_dir;
  // When a stop is requested, the run ends before its next step, or within
  // the check that is waiting for its `within` or `for` duration.
  std::stop_token stop;
};

// A timeline: lanes of values over virtual time, and the steps.
struct Timeline {
  struct Change {
    base::Duration at;
    std::string value;
  };
  struct Lane {
    std::string name;             // "prod master", "prod API", "key crk"
    std::vector<Change> changes;  // the first change is at offset 0
  };
  struct Mark {
    base::Duration at;
    std::string label;  // "step 3 disable_key crk"
  };
  std::vector<Lane> lanes;
  std::vector<Mark> steps;
  base::Duration end{};
};

struct ScenarioResult {
  std::string name;
  std::string file;
  std::string description;
  bool passed = false;
  // The scenario asked for something that can never run (a request to a
  // cluster whose data is gone): invalid input rather than a failed check.
  bool invalid = false;
  // The run was stopped through RunOptions::stop before its end; it neither
  // passed nor failed.
  bool cancelled = false;
  int steps_total = 0;
  int steps_run = 0;
  uint64_t seed = 0;
  base::Duration virtual_elapsed{};
  // For a failure: "step N KIND (FILE:LINE): ..." with the expected and the
  // actual value.
  std::string failure;
  // Steps, KMS events and cluster events with their virtual time offset.
  std::vector<std::string> events;
  double wall_seconds = 0;  // not deterministic; kept out of JSON reports
  Timeline timeline;
};

ScenarioResult RunScenario(const Scenario& scenario, const RunOptions& options);

}  // namespace scenarios

#endif  // SCENARIOS_ENGINE_RUNNER_H_
