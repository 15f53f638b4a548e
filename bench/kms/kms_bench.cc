// Wrap and unwrap through the KeyService library on one thread, as an
// in-process cluster model calls them. The service is in memory, uses the
// server's SecureRandom and SystemClock, and has no faults configured.
#include <benchmark/benchmark.h>

#include <optional>
#include <string>

#include "base/clock.h"
#include "base/random.h"
#include "kms-mock/kms.h"

namespace {

struct Fixture {
  Fixture() {
    instance =
        service.CreateInstance("bench", kms::InstanceType::kKeyProtect)->id;
    key = service.CreateKey(instance, {.name = "root"})->id;
  }

  base::SystemClock clock;
  base::SecureRandom random;
  kms::KeyService service{clock, random};
  std::string instance;
  std::string key;
};

void BM_Unwrap(benchmark::State& state) {
  Fixture f;
  std::string ciphertext =
      f.service.Wrap(f.instance, f.key, std::nullopt)->ciphertext;
  for (auto _ : state) {
    base::StatusOr<kms::UnwrapResult> result =
        f.service.Unwrap(f.instance, f.key, ciphertext);
    if (!result.ok()) state.SkipWithError("unwrap failed");
    benchmark::DoNotOptimize(result);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Unwrap);

// Unwrap of a ciphertext from an older version, which also rewraps the DEK
// under the newest version.
void BM_UnwrapOldVersion(benchmark::State& state) {
  Fixture f;
  std::string ciphertext =
      f.service.Wrap(f.instance, f.key, std::nullopt)->ciphertext;
  if (!f.service.Rotate(f.instance, f.key).ok()) {
    state.SkipWithError("rotate failed");
  }
  for (auto _ : state) {
    base::StatusOr<kms::UnwrapResult> result =
        f.service.Unwrap(f.instance, f.key, ciphertext);
    if (!result.ok()) state.SkipWithError("unwrap failed");
    benchmark::DoNotOptimize(result);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_UnwrapOldVersion);

void BM_WrapGeneratedDek(benchmark::State& state) {
  Fixture f;
  for (auto _ : state) {
    base::StatusOr<kms::WrapResult> result =
        f.service.Wrap(f.instance, f.key, std::nullopt);
    if (!result.ok()) state.SkipWithError("wrap failed");
    benchmark::DoNotOptimize(result);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_WrapGeneratedDek);

void BM_WrapSuppliedDek(benchmark::State& state) {
  Fixture f;
  std::string dek(32, 'd');
  for (auto _ : state) {
    base::StatusOr<kms::WrapResult> result =
        f.service.Wrap(f.instance, f.key, dek);
    if (!result.ok()) state.SkipWithError("wrap failed");
    benchmark::DoNotOptimize(result);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_WrapSuppliedDek);

}  // namespace

BENCHMARK_MAIN();
