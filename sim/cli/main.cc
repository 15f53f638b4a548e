// The `sim` command: the one entry point that links every component.
//   sim replay PATH...   run scenario files (scenarios/engine)
//   sim ks ...           the managed service's cluster and KMS commands on
//                        a state directory (sim/ks.h, sim/ks_state.h), or on
//                        a running sandbox when SIM_SANDBOX or --sandbox
//                        names its control API
//   sim serve ...        the sandbox (sim/sandbox.h) until SIGINT or SIGTERM
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>

#include "base/log.h"
#include "scenarios/engine/replay_command.h"
#include "sim/command_line.h"
#include "sim/ks.h"
#include "sim/ks_state.h"
#include "sim/sandbox.h"

namespace {

struct ServeFlags {
  sim::SandboxOptions options;
  std::string clock;
  std::string speed;                    // parsed by sim::ParseClockSpeed
  CLI::Option* speed_option = nullptr;  // to tell an empty value from none
  std::vector<std::string> clusters;
  int workers = 1;
  CLI::Option* workers_option = nullptr;  // to tell whether --workers was given
  std::string unusable_master = "timeout";
};

void AddServeFlags(CLI::App& serve, ServeFlags& flags) {
  sim::SandboxOptions& o = flags.options;
  serve
      .add_option("--data-dir", o.data_dir,
                  "Directory of the sandbox's state; created when missing, "
                  "reused on restart")
      ->required();
  serve
      .add_option("--address", o.address,
                  "Loopback IP address to listen on: one in 127.0.0.0/8, or "
                  "::1; not a host name such as localhost")
      ->capture_default_str();
  serve.add_option("--control-port", o.control_port,
                   "Port of the control API (default: the stored one, or a "
                   "free one)");
  serve.add_option("--kms-port", o.kms_port,
                   "Port of the Key Protect API (default: the stored one, or "
                   "a free one)");
  serve
      .add_option("--clock", flags.clock,
                  "real (the default for a new directory): time follows the "
                  "wall clock; simulated: time moves only through the "
                  "control API")
      ->check(CLI::IsMember({"real", "simulated"}));
  flags.speed_option =
      serve.add_option("--clock-speed", flags.speed,
                       "Virtual seconds per real second on a real clock, e.g. "
                       "60; greater than 0 and at most 86400");
  serve.add_option("--start", o.start,
                   "Virtual start time of a new directory, RFC 3339 (default "
                   "2026-01-01T00:00:00Z)");
  serve.add_option("--owner", o.owner, "Email of the account owner")
      ->capture_default_str();
  serve.add_option("--cluster", flags.clusters,
                   "NAME[@VERSION]: a classic cluster to create unless it "
                   "exists; repeat for several (default for a new directory: "
                   "mycluster@1.19.16_1540)");
  flags.workers_option =
      serve
          .add_option("--workers", flags.workers,
                      "Workers of each cluster that --cluster creates, and "
                      "of the default cluster of a new data directory when "
                      "given (it has none otherwise)")
          ->check(CLI::NonNegativeNumber)
          ->capture_default_str();
  serve
      .add_option("--unusable-master", flags.unusable_master,
                  "What an unusable master's API server does: timeout "
                  "(connects time out, as the managed service's), hang "
                  "(accepts, never responds), refuse (connection refused) or "
                  "unavailable (HTTP 503)")
      ->check(CLI::IsMember({"timeout", "hang", "refuse", "unavailable"}))
      ->capture_default_str();
  serve.add_option("--record", o.record_path,
                   "Write the actions taken against the sandbox to this "
                   "scenario file, for `sim replay`");
}

// SIGINT and SIGTERM, which `sim serve` and `sim replay` wait for with
// sigwait.
sigset_t StopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  return signals;
}

// REQUIRES: StopSignals() blocked in every thread.
int Serve(ServeFlags& flags, std::chrono::steady_clock::time_point began) {
  sigset_t signals = StopSignals();
  sim::SandboxOptions& o = flags.options;
  if (base::Status loopback = sim::ValidateLoopbackAddress(o.address);
      !loopback.ok()) {
    std::cerr << "FAILED\n--address: " << loopback.message() << "\n";
    return 2;
  }
  if (!flags.clock.empty()) o.clock = flags.clock;
  if (flags.speed_option->count() > 0) {
    base::StatusOr<double> speed = sim::ParseClockSpeed(flags.speed);
    if (!speed.ok()) {
      std::cerr << "FAILED\n--clock-speed: " << speed.status().message()
                << "\n";
      return 2;
    }
    if (flags.clock == "simulated") {
      std::cerr << "FAILED\n--clock-speed needs a real clock; drop --clock "
                   "simulated or --clock-speed\n";
      return 2;
    }
    o.clock = "real";
    o.speed = *speed;
  }
  o.unusable_master = *apiserver::ParseServeMode(flags.unusable_master);
  for (const std::string& text : flags.clusters) {
    size_t at = text.find('@');
    sim::ClusterSpec spec;
    spec.name = text.substr(0, at);
    base::StatusOr<sim::Version> version = sim::Version::Parse(
        at == std::string::npos ? "1.19.16_1540" : text.substr(at + 1));
    if (!version.ok()) {
      std::cerr << "FAILED\ninvalid --cluster " << text << ": "
                << version.status().message() << "\n";
      return 2;
    }
    spec.version = *version;
    spec.workers = flags.workers;
    o.clusters.push_back(spec);
  }
  const bool workers_given = flags.workers_option->count() > 0;
  if (workers_given) o.default_workers = flags.workers;
  std::error_code ignored;
  const bool restart =
      std::filesystem::exists(o.data_dir + "/sandbox.json", ignored);

  base::StatusOr<std::unique_ptr<sim::Sandbox>> sandbox =
      sim::Sandbox::Start(o);
  if (!sandbox.ok()) {
    std::cerr << "FAILED\n" << sandbox.status().message() << "\n";
    return 1;
  }
  if (workers_given && restart) {
    std::cerr << "Note: --workers applies only to clusters that this start "
                 "creates, so the clusters that "
              << o.data_dir
              << " already has keep their workers; add workers with `sim ks "
                 "worker add -c NAME --count N`\n";
  }
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - began);
  std::cout << (*sandbox)->Summary() << "Ready in " << elapsed.count()
            << " ms; stop with SIGTERM or Ctrl-C\n"
            << std::flush;
  int received = 0;
  sigwait(&signals, &received);
  (*sandbox)->Stop();
  std::cout << "Stopped\n" << std::flush;
  return 0;
}

// The flags of `sim ks` that only main reads, because they choose where
// the command runs.
struct SandboxTarget {
  std::string url;      // empty: run on a state directory
  std::string timeout;  // --request-timeout as written; empty: the default
};

// Removes the value of `flag` (`FLAG VALUE` or `FLAG=VALUE`) from `args`
// and stores it in `value`.
void TakeFlag(std::vector<std::string>& args, const std::string& flag,
              std::string& value) {
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == flag && i + 1 < args.size()) {
      value = args[i + 1];
      args.erase(args.begin() + i, args.begin() + i + 2);
      --i;
    } else if (args[i].starts_with(flag + "=")) {
      value = args[i].substr(flag.size() + 1);
      args.erase(args.begin() + i);
      --i;
    }
  }
}

// Removes `--sandbox URL` and `--request-timeout DURATION` from `args`.
// The URL defaults to $SIM_SANDBOX unless --state names a state directory.
SandboxTarget TakeSandboxTarget(std::vector<std::string>& args) {
  SandboxTarget target;
  TakeFlag(args, "--sandbox", target.url);
  TakeFlag(args, "--request-timeout", target.timeout);
  bool state = false;
  for (const std::string& arg : args) {
    if (arg == "--state" || arg.starts_with("--state=")) state = true;
  }
  if (target.url.empty() && !state) {
    if (const char* env = std::getenv("SIM_SANDBOX")) target.url = env;
  }
  return target;
}

// Runs `sim ks` with its words in `args`, on a sandbox or a state directory.
int RunKsCommand(std::vector<std::string> args) {
  SandboxTarget target = TakeSandboxTarget(args);
  if (target.url.empty()) {
    if (!target.timeout.empty()) {
      std::cerr << "FAILED\n--request-timeout applies to commands on a "
                   "sandbox only; pass --sandbox URL or set SIM_SANDBOX\n";
      return 2;
    }
    sim::StateDirHost host;
    return sim::RunKs(host, args, std::cout, std::cerr);
  }
  std::chrono::milliseconds timeout = sim::kDefaultKsTimeout;
  if (!target.timeout.empty()) {
    std::optional<base::Duration> parsed = base::ParseDuration(target.timeout);
    if (!parsed || *parsed < std::chrono::milliseconds(1)) {
      std::cerr << "FAILED\ninvalid --request-timeout \"" << target.timeout
                << "\": expected a duration of 1ms or more, such as 30s or "
                   "5m\n";
      return 2;
    }
    timeout = std::chrono::duration_cast<std::chrono::milliseconds>(*parsed);
  }
  // The sandbox reads no environment of this process, so the acting user
  // goes along as --user.
  const char* user = std::getenv("SIM_KS_USER");
  args = sim::WithKsUser(std::move(args), user == nullptr ? "" : user);
  return sim::RunKsOnSandbox(target.url, args, std::cout, std::cerr, timeout);
}

}  // namespace

int main(int argc, char** argv) {
  auto began = std::chrono::steady_clock::now();
  // Blocked before any thread starts (logging may start one), so that only
  // the sigwait of `sim serve` or `sim replay` receives them; `sim ks`
  // unblocks them.
  sigset_t signals = StopSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
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
      "them, on a state directory or a running sandbox (`sim ks --help`)");
  ks->prefix_command();
  ks->set_help_flag();

  ServeFlags serve_flags;
  CLI::App* serve = app.add_subcommand(
      "serve",
      "Run the KMS, an API server and etcd gateway per cluster, and a "
      "control API on loopback until SIGINT or SIGTERM");
  AddServeFlags(*serve, serve_flags);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (std::string unknown = sim::UnknownCommandMessage(app, e);
        !unknown.empty()) {
      std::cerr << unknown << "\n";
      return 2;
    }
    // --help prints and exits 0; any bad invocation is invalid input.
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  base::InitLogging(log_level);
  // `serve` and `ks` keep KMS key material, cluster tokens and Secrets on
  // disk, RocksDB files included, so only the owner may read what they
  // create.
  if (*serve || *ks) ::umask(077);
  if (*serve) return Serve(serve_flags, began);
  if (int code = replay(); code >= 0) return code;
  pthread_sigmask(SIG_UNBLOCK, &signals, nullptr);
  if (*ks) return RunKsCommand(ks->remaining());
  return 2;
}
