// Wrap and unwrap through the KeyService library on one thread, as an
// in-process cluster model calls them. The service is in memory, uses the
// server's SecureRandom and SystemClock, and has no faults configured.
//
// The BM_GcmOpen* cases time the AES-256-GCM open of a 32-byte DEK alone,
// three ways. The first is the code base/crypto.cc had before it cached the
// cipher: a new context and EVP_aes_256_gcm() on every call. The others are
// the one-shot base::AesGcmOpen and a prepared base::AesGcmKey, which
// KeyService uses.
#include <benchmark/benchmark.h>
#include <openssl/evp.h>

#include <memory>
#include <optional>
#include <string>

#include "base/clock.h"
#include "base/crypto.h"
#include "base/random.h"
#include "kms-mock/kms.h"

namespace {

const std::string kGcmKey(base::kAes256KeySize, 'k');
const std::string kGcmNonce(base::kGcmNonceSize, 'n');
const std::string kGcmAad(80, 'a');  // about the size of KeyService's AAD

std::string SealedDek() {
  return *base::AesGcmSeal(kGcmKey, kGcmNonce, std::string(32, 'd'), kGcmAad);
}

// The open of base/crypto.cc before the cipher was cached, kept here to
// compare against.
bool OpenWithFetchPerCall(const std::string& sealed, std::string& out) {
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(
      EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  auto u = [](const std::string& s) {
    return reinterpret_cast<const unsigned char*>(s.data());
  };
  size_t body = sealed.size() - base::kGcmTagSize;
  out.assign(body, '\0');
  auto* dst = reinterpret_cast<unsigned char*>(out.data());
  std::string tag = sealed.substr(body);
  int len = 0;
  return ctx &&
         EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, u(kGcmKey),
                            u(kGcmNonce)) == 1 &&
         EVP_DecryptUpdate(ctx.get(), nullptr, &len, u(kGcmAad),
                           static_cast<int>(kGcmAad.size())) == 1 &&
         EVP_DecryptUpdate(ctx.get(), dst, &len, u(sealed),
                           static_cast<int>(body)) == 1 &&
         EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, base::kGcmTagSize,
                             tag.data()) == 1 &&
         EVP_DecryptFinal_ex(ctx.get(), dst + len, &len) == 1;
}

void BM_GcmOpenFetchPerCall(benchmark::State& state) {
  std::string sealed = SealedDek();
  std::string out;
  for (auto _ : state) {
    if (!OpenWithFetchPerCall(sealed, out)) state.SkipWithError("open failed");
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_GcmOpenFetchPerCall);

void BM_GcmOpenOneShot(benchmark::State& state) {
  std::string sealed = SealedDek();
  for (auto _ : state) {
    base::StatusOr<std::string> out =
        base::AesGcmOpen(kGcmKey, kGcmNonce, sealed, kGcmAad);
    if (!out.ok()) state.SkipWithError("open failed");
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_GcmOpenOneShot);

void BM_GcmOpenPreparedKey(benchmark::State& state) {
  std::string sealed = SealedDek();
  base::AesGcmKey key = *base::AesGcmKey::Create(kGcmKey);
  for (auto _ : state) {
    base::StatusOr<std::string> out = key.Open(kGcmNonce, sealed, kGcmAad);
    if (!out.ok()) state.SkipWithError("open failed");
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_GcmOpenPreparedKey);

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
