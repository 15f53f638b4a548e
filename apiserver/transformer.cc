#include "apiserver/transformer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <utility>

#include "apiserver/derived_key_cache.h"
#include "base/crypto.h"
#include "encrypted_object.pb.h"

namespace apiserver {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

// Intervals of upstream's KMS v2 status poll (kmsv2PluginHealthzPositive-
// and NegativeInterval) and how long writes may use a seed without a healthy
// status (kmsv2PluginWriteDEKSourceMaxTTL).
constexpr base::Duration kHealthyPollInterval = minutes(1);
constexpr base::Duration kUnhealthyPollInterval = seconds(10);
constexpr base::Duration kWriteSeedTtl = minutes(3);

constexpr size_t kSeedSize = 32;
constexpr size_t kInfoSize = 32;
// Upstream's limits on what an EncryptedObject may carry.
constexpr size_t kMaxKeyIdSize = 1024;
constexpr size_t kMaxEncryptedDekSourceSize = 1024;
constexpr size_t kMaxAnnotationsSize = 32 * 1024;

constexpr std::string_view kEncryptedPrefix = "k8s:enc:";

// Derives a value's AES-256-GCM key from the DEK seed as upstream's
// extended-nonce transformer does: HKDF-SHA256 expand only, with the seed as
// the pseudorandom key.
base::StatusOr<DerivedKey> DeriveKey(std::string_view seed,
                                     std::string_view info) {
  ASSIGN_OR_RETURN(std::string key,
                   base::HkdfSha256Expand(seed, info, base::kAes256KeySize));
  DerivedKey derived;
  std::copy(key.begin(), key.end(), derived.begin());
  return derived;
}

std::string_view View(const DerivedKey& key) {
  return std::string_view(key.data(), key.size());
}

constexpr char kEncryptMethod[] = "/v2.KeyManagementService/Encrypt";
constexpr char kDecryptMethod[] = "/v2.KeyManagementService/Decrypt";
constexpr char kStatusMethod[] = "/v2.KeyManagementService/Status";

// The gRPC name of a status code as Go's codes.Code prints it:
// "DeadlineExceeded" for DEADLINE_EXCEEDED.
std::string GrpcCodeName(base::Code code) {
  std::string name;
  bool upper = true;
  for (char c : base::CodeName(code)) {
    if (c == '_') {
      upper = true;
      continue;
    }
    name += upper ? c : static_cast<char>(std::tolower(c));
    upper = false;
  }
  return name == "Ok" ? "OK" : name;
}

// "sha256:<hex>", how upstream names a key_id in messages.
std::string KeyIdHash(const std::string& key_id) {
  return key_id.empty() ? "" : "sha256:" + base::Sha256Hex(key_id);
}

std::string Quote(std::string_view text) {
  return "\"" + std::string(text) + "\"";
}

// Joins errors as upstream's utilerrors.NewAggregate prints them.
std::string AggregateMessage(const std::vector<std::string>& messages) {
  if (messages.size() == 1) return messages[0];
  std::string joined = "[";
  for (size_t i = 0; i < messages.size(); ++i) {
    if (i > 0) joined += ", ";
    joined += messages[i];
  }
  return joined + "]";
}

base::Status ValidateKeyId(const std::string& key_id) {
  if (key_id.empty()) return base::InvalidArgumentError("keyID is empty");
  if (key_id.size() > kMaxKeyIdSize) {
    return base::InvalidArgumentError("keyID is " +
                                      std::to_string(key_id.size()) +
                                      " bytes, which exceeds the max size of " +
                                      std::to_string(kMaxKeyIdSize));
  }
  return base::OkStatus();
}

// Checks a decoded EncryptedObject as upstream's ValidateEncryptedObject.
base::Status ValidateEncryptedObject(const v2::EncryptedObject& object) {
  if (!v2::EncryptedDEKSourceType_IsValid(object.encrypteddeksourcetype())) {
    return base::InvalidArgumentError(
        "unknown encryptedDEKSourceType: " +
        std::to_string(object.encrypteddeksourcetype()));
  }
  if (object.encrypteddata().empty()) {
    return base::InvalidArgumentError("encrypted data is empty");
  }
  const std::string& source = object.encrypteddeksource();
  if (source.empty()) {
    return base::InvalidArgumentError(
        "failed to validate encrypted DEK source: encrypted DEK source is "
        "empty");
  }
  if (source.size() > kMaxEncryptedDekSourceSize) {
    return base::InvalidArgumentError(
        "failed to validate encrypted DEK source: encrypted DEK source is " +
        std::to_string(source.size()) +
        " bytes, which exceeds the max size of " +
        std::to_string(kMaxEncryptedDekSourceSize));
  }
  if (base::Status status = ValidateKeyId(object.keyid()); !status.ok()) {
    return base::InvalidArgumentError("failed to validate key id: " +
                                      status.message());
  }
  size_t annotations_size = 0;
  for (const auto& [key, value] : object.annotations()) {
    annotations_size += key.size() + value.size();
  }
  if (annotations_size > kMaxAnnotationsSize) {
    return base::InvalidArgumentError(
        "failed to validate annotations: annotations exceeds the max size "
        "of " +
        std::to_string(kMaxAnnotationsSize));
  }
  return base::OkStatus();
}

}  // namespace

// A DEK seed as the KMS unwrapped it, or the DEK of an older AES_GCM_KEY
// value, with the keys derived from it for the values of each etcd key.
struct DekSource {
  DekSource(std::string secret, base::Clock& clock)
      : secret(std::move(secret)), derived_keys(clock, kDerivedKeyTtl) {}

  const std::string secret;
  DerivedKeyCache derived_keys;
};

namespace {

// Opens encryptedData of an HKDF_SHA256_XNONCE_AES_GCM_SEED object:
// info(32) || nonce(12) || ciphertext || tag(16). The key comes from the
// source's cache when the etcd key's entry has the same info; otherwise it
// is derived and cached.
base::StatusOr<std::string> OpenWithSeed(DekSource& source,
                                         std::string_view data,
                                         const std::string& etcd_key,
                                         std::atomic<int64_t>& cache_hits,
                                         std::atomic<int64_t>& cache_misses) {
  if (data.size() < kInfoSize) {
    return base::InvalidArgumentError(
        "the stored data was shorter than the required size");
  }
  if (data.size() < kInfoSize + base::kGcmNonceSize + base::kGcmTagSize) {
    return base::InvalidArgumentError("the stored data is too short");
  }
  const std::string_view info = data.substr(0, kInfoSize);
  std::optional<DerivedKey> key = source.derived_keys.Get(etcd_key, info);
  if (key.has_value()) {
    ++cache_hits;
  } else {
    ++cache_misses;
    base::StatusOr<DerivedKey> derived = DeriveKey(source.secret, info);
    if (!derived.ok()) {
      return base::InternalError("failed to derive read key from KDF: " +
                                 derived.status().message());
    }
    key = *derived;
    source.derived_keys.Set(etcd_key, info, *key);
  }
  return base::AesGcmOpen(
      View(*key), data.substr(kInfoSize, base::kGcmNonceSize),
      data.substr(kInfoSize + base::kGcmNonceSize), etcd_key);
}

// Opens encryptedData of an AES_GCM_KEY object: nonce(12) || ciphertext ||
// tag(16), with the DEK used directly. Only older values have this form.
base::StatusOr<std::string> OpenWithDek(std::string_view dek,
                                        std::string_view data,
                                        std::string_view aad) {
  if (data.size() < base::kGcmNonceSize) {
    return base::InvalidArgumentError(
        "the stored data was shorter than the required size");
  }
  return base::AesGcmOpen(dek, data.substr(0, base::kGcmNonceSize),
                          data.substr(base::kGcmNonceSize), aad);
}

class IdentityTransformer : public Transformer {
 public:
  base::StatusOr<std::string> ToStorage(const std::string& data,
                                        const std::string& etcd_key) override {
    return data;
  }

  base::StatusOr<ReadResult> FromStorage(const std::string& stored,
                                         const std::string& etcd_key) override {
    if (stored.starts_with(kEncryptedPrefix)) {
      return base::InvalidArgumentError(
          "identity transformer tried to read encrypted data");
    }
    return ReadResult{stored, false};
  }
};

}  // namespace

// The seed that writes use, and what the KMS returned when wrapping it.
// Immutable once made, so that a write copies only the pointer.
struct WriteSeed {
  std::shared_ptr<DekSource> source;
  std::string key_id;
  std::string encrypted_dek_source;
  std::map<std::string, std::string> annotations;
};

// Shared with the poll timer's callback, which holds it only weakly, so a
// callback that runs while the transformer is destroyed finds it gone.
struct KmsV2Core : std::enable_shared_from_this<KmsV2Core> {
  KmsV2Core(std::string name, std::shared_ptr<KmsClient> client,
            base::Clock& clock, base::Random& random)
      : name(std::move(name)),
        client(std::move(client)),
        clock(clock),
        random(random) {}

  base::Status Probe();
  base::Status CheckStatus(const KmsStatusResponse& response);
  base::Status RotateOnKeyIdChange(const std::string& status_key_id);
  void SchedulePoll(base::Duration delay);
  void Poll();

  base::StatusOr<std::string> ToStorage(const std::string& data,
                                        const std::string& etcd_key);
  base::StatusOr<ReadResult> FromStorage(const std::string& stored,
                                         const std::string& etcd_key);
  // Returns the unwrapped DEK seed (or DEK) of `object`, from the cache or
  // else from the KMS.
  base::StatusOr<std::shared_ptr<DekSource>> SourceFor(
      const v2::EncryptedObject& object);
  // Adds a KMS call that started at `started` to stats.
  // REQUIRES: mu is held.
  void RecordCallLocked(const char* method, base::Code result,
                        base::Time started);

  // Constant after construction.
  const std::string name;
  const std::string prefix = "k8s:enc:kms:v2:" + name + ":";
  const std::shared_ptr<KmsClient> client;
  base::Clock& clock;
  base::Random& random;

  // Serializes probes, which call the KMS without holding mu.
  std::mutex probe_mu;

  // Reads that found their AES-GCM key in a derived-key cache, and reads
  // that derived it.
  std::atomic<int64_t> derived_key_cache_hits{0};
  std::atomic<int64_t> derived_key_cache_misses{0};

  mutable std::mutex mu;
  std::shared_ptr<const WriteSeed> write_seed;  // guarded by mu
  base::Time write_seed_expiration;             // guarded by mu
  // By encryptedDEKSource.
  std::map<std::string, std::shared_ptr<DekSource>>
      read_sources;  // guarded by mu
  KmsV2Stats stats;  // guarded by mu
  // The histograms of stats.operations by method constant and result, so
  // that recording a call builds no strings.
  std::map<std::pair<const char*, base::Code>, Histogram*>
      histograms_by_call;                        // guarded by mu
  base::Status health = base::UnavailableError(  // guarded by mu
      "kms provider has not been probed yet");
  std::optional<base::Clock::TimerId> poll_timer;  // guarded by mu
  bool stopped = false;                            // guarded by mu
};

base::Status KmsV2Core::Probe() {
  std::lock_guard<std::mutex> probe_lock(probe_mu);
  const base::Time started = clock.Now();
  KmsStatusResponse response = client->Status();
  {
    std::lock_guard<std::mutex> lock(mu);
    ++stats.status_calls;
    RecordCallLocked(
        kStatusMethod,
        response.healthy ? base::Code::kOk : base::Code::kUnavailable, started);
  }
  base::Status result = CheckStatus(response);

  std::lock_guard<std::mutex> lock(mu);
  if (result.ok() != health.ok()) {
    if (result.ok()) {
      spdlog::info("kms provider {} is healthy", name);
    } else {
      spdlog::warn("kms provider {} failed its status probe: {}", name,
                   result.message());
    }
  }
  health = result;
  return result;
}

// Checks a status response as upstream's isKMSv2ProviderHealthyAndMaybeRotate-
// DEK does. NOTE: upstream also extends the write seed when the plugin
// reports itself unhealthy with an unchanged key_id; here only a healthy
// status extends it, so a failing KMS stops writes after kWriteSeedTtl.
base::Status KmsV2Core::CheckStatus(const KmsStatusResponse& response) {
  std::vector<std::string> errors;
  if (!response.healthy) {
    errors.push_back("got unexpected healthz status: " + response.error);
  }
  if (response.version != "v2" && response.version != "v2beta1") {
    errors.push_back("expected KMSv2 API version v2, got " + response.version);
  }
  if (base::Status valid = ValidateKeyId(response.key_id); !valid.ok()) {
    errors.push_back("got invalid KMSv2 KeyID hash " +
                     Quote(KeyIdHash(response.key_id)) + ": " +
                     valid.message());
  } else if (errors.empty()) {
    base::Status rotated = RotateOnKeyIdChange(response.key_id);
    if (!rotated.ok()) errors.push_back(rotated.message());
  }
  if (errors.empty()) return base::OkStatus();
  return base::UnavailableError(
      "kmsv2 Provider " + name +
      " is not healthy, error: " + AggregateMessage(errors));
}

// Extends the write seed when the key_id is unchanged; wraps a new seed when
// it changed or there is none yet.
base::Status KmsV2Core::RotateOnKeyIdChange(const std::string& status_key_id) {
  // The deadline counts from before the KMS call, as upstream's does.
  const base::Time expiration = clock.Now() + kWriteSeedTtl;
  std::string state_key_id;
  base::Time state_expiration;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (write_seed != nullptr) {
      if (write_seed->key_id == status_key_id) {
        write_seed_expiration = expiration;
        return base::OkStatus();
      }
      state_key_id = write_seed->key_id;
      state_expiration = write_seed_expiration;
    }
  }
  const std::string err_state =
      state_key_id.empty() ? "got unexpected nil transformer" : "<nil>";

  const std::string uid = random.Uuid();
  auto fresh = std::make_shared<WriteSeed>();
  fresh->source = std::make_shared<DekSource>(random.Bytes(kSeedSize), clock);
  const base::Time started = clock.Now();
  base::StatusOr<KmsEncryptResponse> wrapped =
      client->Encrypt(uid, fresh->source->secret);
  std::string err_gen = "<nil>";
  if (!wrapped.ok()) {
    err_gen = "failed to encrypt DEK, error: " + wrapped.status().message();
  } else {
    fresh->key_id = wrapped->key_id;
    fresh->encrypted_dek_source = wrapped->ciphertext;
    fresh->annotations = wrapped->annotations;
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    ++stats.encrypt_calls;
    RecordCallLocked(kEncryptMethod, wrapped.status().code(), started);
    if (wrapped.ok() && fresh->key_id == status_key_id) {
      spdlog::info("kms provider {} wrapped a new DEK seed, key_id hash {}",
                   name, KeyIdHash(fresh->key_id));
      read_sources[fresh->encrypted_dek_source] = fresh->source;
      write_seed = std::move(fresh);
      write_seed_expiration = expiration;
      return base::OkStatus();
    }
  }
  return base::UnavailableError(
      "failed to rotate DEK uid=" + Quote(uid) +
      ", useSeed=true, errState=" + err_state + ", errGen=" + err_gen +
      ", statusKeyIDHash=" + Quote(KeyIdHash(status_key_id)) +
      ", encryptKeyIDHash=" + Quote(KeyIdHash(fresh->key_id)) +
      ", stateKeyIDHash=" + Quote(KeyIdHash(state_key_id)) +
      ", expirationTimestamp=" + base::FormatRfc3339(state_expiration));
}

void KmsV2Core::SchedulePoll(base::Duration delay) {
  std::weak_ptr<KmsV2Core> weak = weak_from_this();
  std::lock_guard<std::mutex> lock(mu);
  if (stopped) return;
  poll_timer = clock.ScheduleAfter(delay, [weak] {
    if (std::shared_ptr<KmsV2Core> core = weak.lock()) core->Poll();
  });
}

void KmsV2Core::Poll() {
  {
    std::lock_guard<std::mutex> lock(mu);
    if (stopped) return;
    poll_timer.reset();
  }
  base::Status result = Probe();
  SchedulePoll(result.ok() ? kHealthyPollInterval : kUnhealthyPollInterval);
}

base::StatusOr<std::string> KmsV2Core::ToStorage(const std::string& data,
                                                 const std::string& etcd_key) {
  std::shared_ptr<const WriteSeed> current;
  std::shared_ptr<DekSource> source;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (write_seed == nullptr) {
      return base::UnavailableError("got unexpected nil transformer");
    }
    const base::Time now = clock.Now();
    if (now > write_seed_expiration) {
      return base::UnavailableError(
          "encryptedDEKSource with keyID hash " +
          Quote(KeyIdHash(write_seed->key_id)) + " expired at " +
          base::FormatRfc3339(write_seed_expiration) + " (current time is " +
          base::FormatRfc3339(now) + ")");
    }
    current = write_seed;
    // Reads of what this write stores must not need the KMS, even after
    // ClearCache, and should find the key that the write derives.
    source =
        read_sources.try_emplace(current->encrypted_dek_source, current->source)
            .first->second;
  }

  // One draw for both, because each call to the random source costs about
  // as much as the key derivation.
  const std::string random_bytes =
      random.Bytes(kInfoSize + base::kGcmNonceSize);
  const std::string_view info =
      std::string_view(random_bytes).substr(0, kInfoSize);
  const std::string_view nonce =
      std::string_view(random_bytes).substr(kInfoSize);
  base::StatusOr<DerivedKey> key = DeriveKey(source->secret, info);
  if (!key.ok()) {
    return base::InternalError("failed to derive write key from KDF: " +
                               key.status().message());
  }
  ASSIGN_OR_RETURN(std::string sealed,
                   base::AesGcmSeal(View(*key), nonce, data, etcd_key));
  // As upstream, the write's key serves the reads of this etcd key that
  // follow.
  source->derived_keys.Set(etcd_key, info, *key);

  v2::EncryptedObject object;
  object.set_encrypteddata(random_bytes + sealed);
  object.set_keyid(current->key_id);
  object.set_encrypteddeksource(current->encrypted_dek_source);
  for (const auto& [name, value] : current->annotations) {
    (*object.mutable_annotations())[name] = value;
  }
  object.set_encrypteddeksourcetype(v2::HKDF_SHA256_XNONCE_AES_GCM_SEED);
  std::string serialized;
  if (!object.SerializeToString(&serialized)) {
    return base::InternalError("failed to serialize the EncryptedObject");
  }
  return prefix + serialized;
}

base::StatusOr<std::shared_ptr<DekSource>> KmsV2Core::SourceFor(
    const v2::EncryptedObject& object) {
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = read_sources.find(object.encrypteddeksource());
    if (it != read_sources.end()) {
      ++stats.dek_cache_hits;
      return it->second;
    }
    ++stats.dek_cache_misses;
    ++stats.decrypt_calls;
  }
  const base::Time started = clock.Now();
  base::StatusOr<std::string> seed = client->Decrypt(
      random.Uuid(), object.encrypteddeksource(), object.keyid());
  {
    std::lock_guard<std::mutex> lock(mu);
    RecordCallLocked(kDecryptMethod, seed.status().code(), started);
  }
  if (!seed.ok()) {
    return base::Status(seed.status().code(), "failed to decrypt DEK, error: " +
                                                  seed.status().message());
  }
  const bool is_seed =
      object.encrypteddeksourcetype() == v2::HKDF_SHA256_XNONCE_AES_GCM_SEED;
  if (is_seed && seed->size() < kSeedSize) {
    return base::InvalidArgumentError("invalid seed length " +
                                      std::to_string(seed->size()) +
                                      " used for key generation");
  }
  if (!is_seed && seed->size() != base::kAes256KeySize) {
    return base::InvalidArgumentError("crypto/aes: invalid key size " +
                                      std::to_string(seed->size()));
  }
  auto source = std::make_shared<DekSource>(std::move(*seed), clock);
  std::lock_guard<std::mutex> lock(mu);
  // Another read may have unwrapped the same source meanwhile; keep one,
  // with its derived keys.
  return read_sources.try_emplace(object.encrypteddeksource(), source)
      .first->second;
}

void KmsV2Core::RecordCallLocked(const char* method, base::Code result,
                                 base::Time started) {
  Histogram*& cached = histograms_by_call[{method, result}];
  if (cached == nullptr) {
    cached = &stats.operations[{method, GrpcCodeName(result)}];
  }
  Histogram& histogram = *cached;
  // Upstream's buckets: 0.1 ms doubling 15 times, to about 1.6 s.
  if (histogram.bounds.empty()) {
    histogram.bounds = ExponentialBuckets(0.0001, 2, 15);
  }
  histogram.Observe(
      std::chrono::duration<double>(clock.Now() - started).count());
}

base::StatusOr<ReadResult> KmsV2Core::FromStorage(const std::string& stored,
                                                  const std::string& etcd_key) {
  if (!stored.starts_with(prefix)) {
    return base::InvalidArgumentError("no matching prefix found");
  }
  v2::EncryptedObject object;
  if (!object.ParseFromArray(stored.data() + prefix.size(),
                             static_cast<int>(stored.size() - prefix.size()))) {
    return base::InvalidArgumentError(
        "proto: cannot parse invalid wire-format data");
  }
  RETURN_IF_ERROR(ValidateEncryptedObject(object));

  // Reads need a current state too, as upstream's stateFunc; its key_id
  // decides staleness.
  bool stale = false;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (write_seed == nullptr) {
      return base::UnavailableError("got unexpected nil transformer");
    }
    stale = object.keyid() != write_seed->key_id;
  }

  ASSIGN_OR_RETURN(std::shared_ptr<DekSource> source, SourceFor(object));
  const bool is_seed =
      object.encrypteddeksourcetype() == v2::HKDF_SHA256_XNONCE_AES_GCM_SEED;
  base::StatusOr<std::string> data =
      is_seed ? OpenWithSeed(*source, object.encrypteddata(), etcd_key,
                             derived_key_cache_hits, derived_key_cache_misses)
              : OpenWithDek(source->secret, object.encrypteddata(), etcd_key);
  if (!data.ok()) return data.status();
  return ReadResult{std::move(*data), stale};
}

struct KmsV2Transformer::State {
  std::shared_ptr<KmsV2Core> core;
};

KmsV2Transformer::KmsV2Transformer(std::string name,
                                   std::shared_ptr<KmsClient> client,
                                   base::Clock& clock, base::Random& random)
    : state_(std::make_unique<State>()) {
  state_->core = std::make_shared<KmsV2Core>(std::move(name), std::move(client),
                                             clock, random);
  // Like upstream, probe once inline so a healthy KMS is usable at once,
  // then keep polling on the clock.
  base::Status primed = state_->core->Probe();
  state_->core->SchedulePoll(primed.ok() ? kHealthyPollInterval
                                         : kUnhealthyPollInterval);
}

KmsV2Transformer::~KmsV2Transformer() {
  KmsV2Core& core = *state_->core;
  std::lock_guard<std::mutex> lock(core.mu);
  core.stopped = true;
  if (core.poll_timer.has_value()) core.clock.Cancel(*core.poll_timer);
}

base::StatusOr<std::string> KmsV2Transformer::ToStorage(
    const std::string& data, const std::string& etcd_key) {
  return state_->core->ToStorage(data, etcd_key);
}

base::StatusOr<ReadResult> KmsV2Transformer::FromStorage(
    const std::string& stored, const std::string& etcd_key) {
  return state_->core->FromStorage(stored, etcd_key);
}

const std::string& KmsV2Transformer::name() const { return state_->core->name; }

std::string KmsV2Transformer::prefix() const { return state_->core->prefix; }

KmsV2Stats KmsV2Transformer::stats() const {
  const KmsV2Core& core = *state_->core;
  std::lock_guard<std::mutex> lock(core.mu);
  KmsV2Stats stats = core.stats;
  stats.derived_key_cache_hits = core.derived_key_cache_hits.load();
  stats.derived_key_cache_misses = core.derived_key_cache_misses.load();
  return stats;
}

void KmsV2Transformer::ClearCache() {
  KmsV2Core& core = *state_->core;
  std::lock_guard<std::mutex> lock(core.mu);
  core.read_sources.clear();
  if (core.write_seed != nullptr) core.write_seed->source->derived_keys.Clear();
}

base::Status KmsV2Transformer::ProbeNow() { return state_->core->Probe(); }

base::Status KmsV2Transformer::Health() const {
  std::lock_guard<std::mutex> lock(state_->core->mu);
  return state_->core->health;
}

std::string KmsV2Transformer::current_key_id() const {
  std::lock_guard<std::mutex> lock(state_->core->mu);
  const std::shared_ptr<const WriteSeed>& seed = state_->core->write_seed;
  return seed != nullptr ? seed->key_id : "";
}

TransformerChain::TransformerChain(std::vector<Provider> providers)
    : providers_(std::move(providers)) {}

base::StatusOr<std::string> TransformerChain::ToStorage(
    const std::string& data, const std::string& etcd_key) {
  if (providers_.empty()) {
    return base::FailedPreconditionError("no encryption providers configured");
  }
  return providers_.front().transformer->ToStorage(data, etcd_key);
}

// Follows upstream's prefixTransformers: a failed identity read is skipped
// silently, because identity listed first must let encrypted values reach
// the providers after it.
base::StatusOr<ReadResult> TransformerChain::FromStorage(
    const std::string& stored, const std::string& etcd_key) {
  std::vector<std::string> errors;
  base::Code code = base::Code::kInternal;
  for (size_t i = 0; i < providers_.size(); ++i) {
    const Provider& provider = providers_[i];
    if (!stored.starts_with(provider.prefix)) continue;
    base::StatusOr<ReadResult> result =
        provider.transformer->FromStorage(stored, etcd_key);
    if (!result.ok()) {
      if (provider.prefix.empty()) continue;
      errors.push_back(result.status().message());
      code = result.status().code();
      continue;
    }
    result->stale = result->stale || i != 0;
    return result;
  }
  if (!errors.empty()) {
    if (errors.size() > 1) code = base::Code::kInternal;
    return base::Status(code, AggregateMessage(errors));
  }
  return base::InvalidArgumentError("no matching prefix found");
}

std::shared_ptr<Transformer> NewIdentityTransformer() {
  return std::make_shared<IdentityTransformer>();
}

}  // namespace apiserver
