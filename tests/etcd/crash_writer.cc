// The child process of the crash test: opens the RocksDB store in DIR and
// writes until it is killed. Prints "ack KEY REVISION" for every put that
// the store acknowledged, after the acknowledgement and with one write(2)
// per line, so that a printed line means a durable write.
//
// Usage: etcd_crash_writer DIR THREADS
// Threads 0..THREADS-2 call Put; the last thread calls PutBatch with 8
// puts. Keys are unique across restarts: they start with the revision the
// store had when this process opened it.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/log.h"
#include "etcd-store/store.h"

namespace {

// Writes one whole line to stdout; exits when the reader is gone.
void PrintAck(const std::string& key, int64_t revision) {
  std::string line = "ack " + key + " " + std::to_string(revision) + "\n";
  if (write(STDOUT_FILENO, line.data(), line.size()) !=
      static_cast<ssize_t>(line.size())) {
    std::_Exit(3);
  }
}

void WriteWithPut(etcd::Store& store, const std::string& prefix) {
  for (int64_t i = 0;; ++i) {
    std::string key = prefix + std::to_string(i);
    auto put = store.Put({.key = key, .value = key});
    if (!put.ok()) std::_Exit(4);
    PrintAck(key, put->header.revision);
  }
}

void WriteWithPutBatch(etcd::Store& store, const std::string& prefix) {
  for (int64_t i = 0;; i += 8) {
    std::vector<etcd::PutRequest> puts;
    for (int64_t j = i; j < i + 8; ++j) {
      std::string key = prefix + std::to_string(j);
      puts.push_back({.key = key, .value = key});
    }
    std::vector<base::StatusOr<etcd::PutResponse>> responses =
        store.PutBatch(puts);
    for (size_t j = 0; j < responses.size(); ++j) {
      if (!responses[j].ok()) std::_Exit(4);
      PrintAck(puts[j].key, responses[j]->header.revision);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s DIR THREADS\n", argv[0]);
    return 2;
  }
  int threads = std::max(2, std::atoi(argv[2]));
  base::InitLogging("warn");
  base::SystemClock clock;
  auto store = etcd::OpenRocksDbStore(argv[1], clock);
  if (!store.ok()) {
    std::fprintf(stderr, "opening the store failed: %s\n",
                 store.status().ToString().c_str());
    return 1;
  }

  std::string run = "run" + std::to_string((*store)->CurrentRevision());
  std::vector<std::thread> writers;
  for (int t = 0; t < threads; ++t) {
    std::string prefix = run + "/t" + std::to_string(t) + "/";
    etcd::Store& target = **store;
    if (t == threads - 1) {
      writers.emplace_back(
          [&target, prefix] { WriteWithPutBatch(target, prefix); });
    } else {
      writers.emplace_back([&target, prefix] { WriteWithPut(target, prefix); });
    }
  }
  // The test kills this process; stop anyway if it never does.
  std::this_thread::sleep_for(std::chrono::seconds(60));
  std::_Exit(5);
}
