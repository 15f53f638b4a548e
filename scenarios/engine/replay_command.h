// The `sim replay` subcommand: runs scenario files and reports like a test
// runner. Exit codes: 0 all passed, 1 a scenario failed, 2 invalid input,
// 130 and 143 stopped by SIGINT and SIGTERM.
#ifndef SCENARIOS_ENGINE_REPLAY_COMMAND_H_
#define SCENARIOS_ENGINE_REPLAY_COMMAND_H_

#include <CLI/CLI.hpp>
#include <functional>

namespace scenarios {

// Adds `replay` to `app`. Returns a function that runs the subcommand after
// parsing and returns the process exit code, or -1 when `replay` was not
// chosen.
// REQUIRES: SIGINT and SIGTERM blocked in every thread of the process,
// because the replay waits for them with sigwait to stop cleanly.
std::function<int()> AddReplayCommand(CLI::App& app);

}  // namespace scenarios

#endif  // SCENARIOS_ENGINE_REPLAY_COMMAND_H_
