// In-process put benchmark of the RocksDB store: THREADS writers put
// 256-byte values for SECONDS, every put synced before it returns, and
// concurrent puts share syncs (group commit). With BATCH > 1 each writer
// sends BATCH puts per Store::PutBatch call; each put still gets its own
// revision. Prints puts/s and per-call latency percentiles.
//
// Usage: etcd_bench_store DIR [THREADS] [SECONDS] [BATCH]
#include <algorithm>
#include <atomic>
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

using SteadyClock = std::chrono::steady_clock;

struct WriterResult {
  int64_t puts = 0;
  int64_t failures = 0;
  std::vector<double> latencies_us;
};

double Percentile(std::vector<double>& values, double fraction) {
  if (values.empty()) return 0;
  size_t index = static_cast<size_t>(fraction * (values.size() - 1));
  std::nth_element(values.begin(), values.begin() + index, values.end());
  return values[index];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DIR [THREADS] [SECONDS] [BATCH]\n",
                 argv[0]);
    return 2;
  }
  int threads = argc > 2 ? std::atoi(argv[2]) : 64;
  int seconds = argc > 3 ? std::atoi(argv[3]) : 5;
  int batch = argc > 4 ? std::max(1, std::atoi(argv[4])) : 1;
  base::InitLogging("warn");

  // Only lease expiry reads the clock; this benchmark grants no leases.
  base::SystemClock clock;
  auto store = etcd::OpenRocksDbStore(argv[1], clock);
  if (!store.ok()) {
    std::fprintf(stderr, "opening the store failed: %s\n",
                 store.status().ToString().c_str());
    return 1;
  }

  const std::string value(256, 'v');
  std::atomic<bool> stop{false};
  std::vector<WriterResult> results(threads);
  std::vector<std::thread> writers;
  SteadyClock::time_point start = SteadyClock::now();
  for (int t = 0; t < threads; ++t) {
    writers.emplace_back([&, t] {
      WriterResult& result = results[t];
      std::vector<etcd::PutRequest> puts(batch);
      for (etcd::PutRequest& put : puts) put.value = value;
      for (int64_t i = 0; !stop.load(std::memory_order_relaxed);) {
        for (etcd::PutRequest& put : puts) {
          put.key =
              "bench/" + std::to_string(t) + "/" + std::to_string(i++ % 1000);
        }
        SteadyClock::time_point begin = SteadyClock::now();
        std::vector<base::StatusOr<etcd::PutResponse>> responses;
        if (batch == 1) {
          responses.push_back((*store)->Put(puts[0]));
        } else {
          responses = (*store)->PutBatch(puts);
        }
        std::chrono::duration<double, std::micro> took =
            SteadyClock::now() - begin;
        for (const auto& response : responses) {
          if (response.ok()) {
            ++result.puts;
          } else {
            ++result.failures;
          }
        }
        result.latencies_us.push_back(took.count());
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  stop = true;
  for (std::thread& writer : writers) writer.join();
  std::chrono::duration<double> elapsed = SteadyClock::now() - start;

  int64_t puts = 0;
  int64_t failures = 0;
  std::vector<double> latencies;
  for (WriterResult& result : results) {
    puts += result.puts;
    failures += result.failures;
    latencies.insert(latencies.end(), result.latencies_us.begin(),
                     result.latencies_us.end());
  }
  std::printf(
      "threads %d batch %d puts %lld failures %lld seconds %.2f "
      "puts_per_s %.0f call_p50_ms %.3f call_p99_ms %.3f\n",
      threads, batch, static_cast<long long>(puts),
      static_cast<long long>(failures), elapsed.count(), puts / elapsed.count(),
      Percentile(latencies, 0.50) / 1000, Percentile(latencies, 0.99) / 1000);
  return failures == 0 ? 0 : 1;
}
