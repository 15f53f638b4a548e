// The `sim` command: the one entry point that sees every component.
//   sim replay PATH...   run scenario files (scenarios/engine)
#include <CLI/CLI.hpp>
#include <string>

#include "base/log.h"
#include "scenarios/engine/replay_command.h"

int main(int argc, char** argv) {
  CLI::App app{"Simulated managed-cluster control plane for testing"};
  app.require_subcommand(1);
  // The simulated components log their own lifecycle (a key disabled, a
  // provider unhealthy); in a replay that is the story being told, so it
  // stays quiet unless asked for.
  std::string log_level = "error";
  app.add_option("--log-level", log_level,
                 "Log level: trace, debug, info, warn, error or off")
      ->capture_default_str();

  std::function<int()> replay = scenarios::AddReplayCommand(app);

  CLI11_PARSE(app, argc, argv);
  base::InitLogging(log_level);
  if (int code = replay(); code >= 0) return code;
  return 2;
}
