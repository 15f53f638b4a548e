#include "app_config.h"

#include <utility>

namespace app {

AppConfig::AppConfig(SecretClient& client, std::string ns, std::string name)
    : client_(client), ns_(std::move(ns)), name_(std::move(name)) {}

std::expected<void, std::string> AppConfig::Save(const Settings& settings) {
  auto written = client_.Write(ns_, name_, settings);
  if (!written) return written;
  settings_ = settings;
  last_error_.clear();
  return {};
}

bool AppConfig::Reload() {
  auto read = client_.Read(ns_, name_);
  if (!read) {
    last_error_ =
        "reading Secret " + ns_ + "/" + name_ + " failed: " + read.error();
    return false;
  }
  settings_ = std::move(*read);
  last_error_.clear();
  return true;
}

std::optional<std::string> AppConfig::Get(const std::string& key) const {
  if (!settings_) return std::nullopt;
  auto found = settings_->find(key);
  if (found == settings_->end()) return std::nullopt;
  return found->second;
}

}  // namespace app
