// EncryptionConfigReloader: the automatic reload of an EncryptionConfiguration
// file on a clock timer.
#include <spdlog/spdlog.h>

#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <utility>

#include "apiserver/encryption_config.h"
#include "base/crypto.h"

namespace apiserver {

// Shared with the timer's callback, which keeps only a weak pointer, so a
// callback that runs while the reloader is destroyed finds it gone.
struct EncryptionConfigReloader::Core
    : std::enable_shared_from_this<EncryptionConfigReloader::Core> {
  Core(std::string path, KmsClientFactory kms_clients, base::Clock& clock,
       base::Random& random, OnChange on_change, base::Duration interval)
      : path(std::move(path)),
        kms_clients(std::move(kms_clients)),
        clock(clock),
        random(random),
        on_change(std::move(on_change)),
        interval(interval) {}

  base::StatusOr<std::string> ReadFile() const;
  // Parses `text` and checks the health of its KMS providers.
  base::StatusOr<std::shared_ptr<const EncryptionConfig>> Load(
      const std::string& text) const;
  base::Status Check();
  void Schedule();

  // Constant after construction.
  const std::string path;
  const KmsClientFactory kms_clients;
  base::Clock& clock;
  base::Random& random;
  const OnChange on_change;
  const base::Duration interval;

  // Serializes checks, which read the file and call the KMS without mu.
  std::mutex check_mu;

  mutable std::mutex mu;
  std::shared_ptr<const EncryptionConfig> config;  // guarded by mu
  Stats stats;                                     // guarded by mu
  std::optional<base::Clock::TimerId> timer;       // guarded by mu
  bool stopped = false;                            // guarded by mu
};

base::StatusOr<std::string> EncryptionConfigReloader::Core::ReadFile() const {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return base::NotFoundError("failed to read encryption configuration " +
                               path);
  }
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

base::StatusOr<std::shared_ptr<const EncryptionConfig>>
EncryptionConfigReloader::Core::Load(const std::string& text) const {
  ASSIGN_OR_RETURN(EncryptionConfig parsed,
                   ParseEncryptionConfig(text, kms_clients, clock, random));
  // Each KMS v2 provider probed its KMS once when it was created.
  for (const auto& [name, provider] : parsed.kms_providers) {
    base::Status health = provider->Health();
    if (!health.ok()) {
      return base::UnavailableError(
          "health check for new transformers failed: " + health.message());
    }
  }
  return std::make_shared<const EncryptionConfig>(std::move(parsed));
}

base::Status EncryptionConfigReloader::Core::Check() {
  std::lock_guard<std::mutex> check_lock(check_mu);
  base::StatusOr<std::string> text = ReadFile();
  std::string hash;
  base::StatusOr<std::shared_ptr<const EncryptionConfig>> loaded =
      text.status();
  if (text.ok()) {
    hash = base::Sha256Hex(*text);
    {
      std::lock_guard<std::mutex> lock(mu);
      if (hash == stats.hash) return base::OkStatus();
    }
    loaded = Load(*text);
  }

  if (!loaded.ok()) {
    {
      std::lock_guard<std::mutex> lock(mu);
      ++stats.failures;
      stats.last_error = loaded.status().message();
    }
    spdlog::error("apiserver: failed to reload encryption configuration {}: {}",
                  path, loaded.status().message());
    return loaded.status();
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    config = *loaded;
    ++stats.successes;
    stats.hash = hash;
    stats.last_error.clear();
  }
  spdlog::info("apiserver: reloaded encryption configuration {}", path);
  if (on_change) on_change(*loaded);
  return base::OkStatus();
}

void EncryptionConfigReloader::Core::Schedule() {
  std::weak_ptr<Core> weak = weak_from_this();
  std::lock_guard<std::mutex> lock(mu);
  if (stopped) return;
  timer = clock.ScheduleAfter(interval, [weak] {
    std::shared_ptr<Core> core = weak.lock();
    if (!core) return;
    {
      std::lock_guard<std::mutex> lock(core->mu);
      if (core->stopped) return;
      core->timer.reset();
    }
    // Check logs and counts a failure itself.
    (void)core->Check();
    core->Schedule();
  });
}

base::StatusOr<std::unique_ptr<EncryptionConfigReloader>>
EncryptionConfigReloader::Start(std::string path, KmsClientFactory kms_clients,
                                base::Clock& clock, base::Random& random,
                                OnChange on_change, base::Duration interval) {
  auto core =
      std::make_shared<Core>(std::move(path), std::move(kms_clients), clock,
                             random, std::move(on_change), interval);
  ASSIGN_OR_RETURN(std::string text, core->ReadFile());
  ASSIGN_OR_RETURN(
      EncryptionConfig parsed,
      ParseEncryptionConfig(text, core->kms_clients, clock, random));
  core->config = std::make_shared<const EncryptionConfig>(std::move(parsed));
  core->stats.hash = base::Sha256Hex(text);
  core->Schedule();
  return std::unique_ptr<EncryptionConfigReloader>(
      new EncryptionConfigReloader(std::move(core)));
}

EncryptionConfigReloader::EncryptionConfigReloader(std::shared_ptr<Core> core)
    : core_(std::move(core)) {}

EncryptionConfigReloader::~EncryptionConfigReloader() {
  std::lock_guard<std::mutex> lock(core_->mu);
  core_->stopped = true;
  if (core_->timer.has_value()) core_->clock.Cancel(*core_->timer);
}

std::shared_ptr<const EncryptionConfig> EncryptionConfigReloader::current()
    const {
  std::lock_guard<std::mutex> lock(core_->mu);
  return core_->config;
}

base::Status EncryptionConfigReloader::CheckNow() { return core_->Check(); }

EncryptionConfigReloader::Stats EncryptionConfigReloader::stats() const {
  std::lock_guard<std::mutex> lock(core_->mu);
  return core_->stats;
}

}  // namespace apiserver
