// The `sim` command: the one entry point that links every component.
//   sim replay PATH...   run scenario files (scenarios/engine)
//   sim ks ...           the managed service's cluster and KMS commands on
//                        a state directory (sim/ks.h, sim/ks_state.h)
#include <CLI/CLI.hpp>
#include <iostream>
#include <string>

#include "base/log.h"
#include "scenarios/engine/replay_command.h"
#include "sim/ks.h"
#include "sim/ks_state.h"

int main(int argc, char** argv) {
  CLI::App app{"Simulated managed-cluster control plane for testing"};
  app.require_subcommand(1);
  // The simulated components log their lifecycle, such as a key disabled or
  // a provider unhealthy. A replay's report already shows that, so only
  // errors are logged unless --log-level requests more.
  std::string log_level = "error";
  app.add_option("--log-level", log_level,
                 "Log level: trace, debug, info, warn, error or off")
      ->capture_default_str()
      ->check(CLI::IsMember(
          {"trace", "debug", "info", "warn", "error", "critical", "off"}));

  std::function<int()> replay = scenarios::AddReplayCommand(app);

  // `ks` parses its own words (sim/ks.cc), so this only collects them.
  CLI::App* ks = app.add_subcommand(
      "ks",
      "Cluster, KMS, API key and worker commands as `ibmcloud ks` offers "
      "them, on a state directory (`sim ks --help`)");
  ks->prefix_command();
  ks->set_help_flag();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help prints and exits 0; any bad invocation is invalid input.
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  base::InitLogging(log_level);
  if (*ks) {
    sim::StateDirHost host;
    return sim::RunKs(host, ks->remaining(), std::cout, std::cerr);
  }
  if (int code = replay(); code >= 0) return code;
  return 2;
}
