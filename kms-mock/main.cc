// kms-mock-server: the mock Key Protect service on its own, for clients
// such as the Key Protect SDKs.
//
//   kms-mock-server --tokens tokens.yaml --seed seed.yaml --port 8200
//
// Runs until SIGINT or SIGTERM, on the wall clock (optionally sped up) or on
// a simulated clock that moves only through POST /control/clock. Once it
// listens it prints "listening on http://<address>:<port>" on stdout, so a
// parent process started with --port 0 learns the port without polling.
//
// The /control/ endpoints take no token, so the server listens on a
// loopback address unless --no-control drops them or
// --allow-remote-control accepts that anyone who reaches the address may
// use them.
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "base/clock.h"
#include "base/http.h"
#include "base/log.h"
#include "base/random.h"
#include "kms-mock/api.h"
#include "kms-mock/kms.h"
#include "kms-mock/seed.h"
#include "kms-mock/server.h"

namespace {

struct Flags {
  std::string tokens;
  std::string seed;
  std::string data_dir;
  kms::ServerOptions server;
  std::string clock = "wall";
  double speed = 1.0;
  std::string start_time;
  bool no_control = false;
  bool allow_remote_control = false;
  std::string log_level = "info";
};

int Fail(const base::Status& status) {
  spdlog::error("kms-mock-server: {}", status.ToString());
  return 1;
}

// Blocks until SIGINT or SIGTERM. REQUIRES: both are blocked in every
// thread, which holds when they are blocked before any thread starts.
void WaitForSignal(const sigset_t& signals) {
  int received = 0;
  sigwait(&signals, &received);
  spdlog::info("kms-mock-server: received signal {}, stopping", received);
}

// Returns OK for a loopback IP address, and for another IP address when the
// /control/ endpoints are off or --allow-remote-control was given.
base::Status CheckAddress(const Flags& flags) {
  const std::string& address = flags.server.address;
  switch (base::ClassifyAddress(address)) {
    case base::AddressKind::kLoopback:
      return base::OkStatus();
    case base::AddressKind::kNotIp:
      return base::InvalidArgumentError(
          "invalid --address \"" + address +
          "\": expected an IP address such as 127.0.0.1 or ::1, not a host "
          "name");
    case base::AddressKind::kOtherIp:
      break;
  }
  if (flags.no_control || flags.allow_remote_control) return base::OkStatus();
  return base::InvalidArgumentError(
      "--address " + address +
      " is not a loopback address, and the /control/ endpoints take no "
      "token: anyone who reaches the address could move the clock, inject "
      "faults and create instances. Listen on 127.0.0.1 or ::1, pass "
      "--no-control to serve only the Key Protect API, or pass "
      "--allow-remote-control to serve /control/ there anyway");
}

struct Clocks {
  std::unique_ptr<base::Clock> clock;
  base::SimulatedClock* simulated = nullptr;  // clock, when it is simulated
};

// Returns the clock the flags ask for: the wall clock, or a simulated clock
// that starts at --start-time (default: the current wall-clock time).
base::StatusOr<Clocks> MakeClock(const Flags& flags) {
  if (flags.clock == "wall") {
    return Clocks{std::make_unique<base::SystemClock>(flags.speed), nullptr};
  }
  std::optional<base::Time> start = base::SystemClock().Now();
  if (!flags.start_time.empty()) start = base::ParseRfc3339(flags.start_time);
  if (!start) {
    return base::InvalidArgumentError("--start-time is not an RFC 3339 time: " +
                                      flags.start_time);
  }
  auto clock = std::make_unique<base::SimulatedClock>(*start);
  base::SimulatedClock* simulated = clock.get();
  return Clocks{std::move(clock), simulated};
}

int Run(const Flags& flags, const sigset_t& signals) {
  base::StatusOr<Clocks> clocks = MakeClock(flags);
  if (!clocks.ok()) return Fail(clocks.status());
  base::Clock& clock = *clocks->clock;
  base::SecureRandom random;
  base::StatusOr<kms::TokenTable> tokens = kms::LoadTokenFile(flags.tokens);
  if (!tokens.ok()) return Fail(tokens.status());

  std::unique_ptr<kms::KeyService> service;
  if (flags.data_dir.empty()) {
    service = std::make_unique<kms::KeyService>(clock, random);
  } else {
    base::StatusOr<std::unique_ptr<kms::KeyService>> opened =
        kms::KeyService::Open(clock, random, flags.data_dir);
    if (!opened.ok()) return Fail(opened.status());
    service = std::move(opened).value();
  }
  if (!flags.seed.empty()) {
    base::Status seeded = kms::LoadSeedFile(*service, flags.seed);
    if (!seeded.ok()) return Fail(seeded);
  }

  kms::ApiOptions api_options;
  api_options.control = !flags.no_control;
  api_options.simulated_clock = clocks->simulated;
  api_options.random = &random;
  kms::KeyProtectApi api(*service, clock, std::move(tokens).value(),
                         api_options);
  base::StatusOr<std::unique_ptr<kms::Server>> server =
      kms::Server::Start(api, flags.server);
  if (!server.ok()) return Fail(server.status());
  std::printf(
      "listening on http://%s\n",
      base::JoinHostPort(flags.server.address, (*server)->port()).c_str());
  std::fflush(stdout);
  WaitForSignal(signals);
  (*server)->Stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  CLI::App app{"Mock IBM Key Protect service (REST API v2 subset)"};
  app.add_option("--tokens", flags.tokens,
                 "YAML file of bearer tokens and their roles")
      ->required();
  app.add_option("--seed", flags.seed,
                 "YAML file of instances and keys to create at start");
  app.add_option("--data-dir", flags.data_dir,
                 "RocksDB directory that keeps keys across restarts; "
                 "in memory when absent");
  app.add_option("--address", flags.server.address,
                 "IP address to listen on; one that is not loopback needs "
                 "--no-control or --allow-remote-control")
      ->capture_default_str();
  app.add_option("--port", flags.server.port, "listen port; 0 picks one")
      ->capture_default_str();
  app.add_option("--threads", flags.server.threads, "I/O threads")
      ->capture_default_str();
  app.add_option("--clock", flags.clock,
                 "wall, or simulated: time moves only through POST "
                 "/control/clock")
      ->check(CLI::IsMember({"wall", "simulated"}))
      ->capture_default_str();
  app.add_option("--speed", flags.speed,
                 "with --clock wall: virtual seconds per wall-clock second")
      ->capture_default_str();
  app.add_option("--start-time", flags.start_time,
                 "with --clock simulated: the RFC 3339 start time; the "
                 "current time when absent");
  app.add_flag("--no-control", flags.no_control,
               "do not serve the /control/ endpoints (faults, events, "
               "instances, clock, calls)");
  app.add_flag("--allow-remote-control", flags.allow_remote_control,
               "serve the /control/ endpoints, which take no token, on an "
               "--address that is not loopback");
  app.add_option("--log-level", flags.log_level,
                 "trace, debug, info, warn, error or off")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  base::InitLogging(flags.log_level);
  if (base::Status address = CheckAddress(flags); !address.ok()) {
    std::fprintf(stderr, "kms-mock-server: %s\n", address.message().c_str());
    return 2;
  }

  // Blocked before any thread starts, so that only sigwait receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return Run(flags, signals);
}
