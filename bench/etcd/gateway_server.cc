// Serves the etcd JSON gateway over a RocksDB store for the benchmark in
// run.sh: etcd_bench_gateway DIR [PORT]. Prints "listening on PORT" once it
// serves, and stops on SIGTERM or SIGINT.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "base/clock.h"
#include "base/log.h"
#include "etcd-store/gateway.h"
#include "etcd-store/store.h"

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: %s DIR [PORT]\n", argv[0]);
    return 2;
  }
  base::InitLogging("warn");

  // Block the stop signals before any thread starts, so sigwait gets them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  base::SystemClock clock;
  auto store = etcd::OpenRocksDbStore(argv[1], clock);
  if (!store.ok()) {
    std::fprintf(stderr, "opening the store failed: %s\n",
                 store.status().ToString().c_str());
    return 1;
  }
  etcd::GatewayOptions options;
  if (argc == 3) options.port = static_cast<uint16_t>(std::atoi(argv[2]));
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
