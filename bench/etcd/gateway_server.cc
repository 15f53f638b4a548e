// Serves the etcd JSON gateway over a RocksDB store for the benchmark in
// run.sh: etcd_bench_gateway DIR [PORT]. Prints "listening on PORT" once it
// serves, and stops on SIGTERM or SIGINT.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "base/clock.h"
#include "base/log.h"
#include "etcd-store/gateway.h"
#include "etcd-store/store.h"

int main(int argc, char** argv) {
  CLI::App app("Serves the etcd JSON gateway over a RocksDB store.");
  std::string dir;
  uint16_t port = 0;
  app.add_option("DIR", dir, "store directory, created if missing")->required();
  app.add_option("PORT", port, "port on 127.0.0.1 (default: a free one)")
      ->check(CLI::Range(0, 65535));
  CLI11_PARSE(app, argc, argv);
  base::InitLogging("warn");

  // Block the stop signals before any thread starts, so sigwait gets them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  base::SystemClock clock;
  auto store = etcd::OpenRocksDbStore(dir, clock);
  if (!store.ok()) {
    std::fprintf(stderr, "opening the store failed: %s\n",
                 store.status().ToString().c_str());
    return 1;
  }
  etcd::GatewayOptions options;
  options.port = port;
  auto gateway = etcd::Gateway::Start(**store, options);
  if (!gateway.ok()) {
    std::fprintf(stderr, "starting the gateway failed: %s\n",
                 gateway.status().ToString().c_str());
    return 1;
  }
  std::printf("listening on %u\n", (*gateway)->port());
  std::fflush(stdout);

  int signal = 0;
  sigwait(&stop_signals, &signal);
  return 0;
}
