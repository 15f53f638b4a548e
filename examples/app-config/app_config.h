// AppConfig: an application's settings, stored as the data of one
// Kubernetes Secret and cached in memory.
//
// Reload reads the Secret again. When the read fails (the API server is
// unreachable, or cannot decrypt the Secret), the application keeps serving
// the last settings it read and reports itself degraded until a later
// Reload succeeds.
//
// Not thread-safe.
#ifndef APP_CONFIG_H_
#define APP_CONFIG_H_

#include <expected>
#include <map>
#include <optional>
#include <string>

namespace app {

using Settings = std::map<std::string, std::string>;

// The part of the Kubernetes API that AppConfig uses. Errors are the API's
// messages.
class SecretClient {
 public:
  virtual ~SecretClient() = default;
  // Returns the decoded data of Secret `ns`/`name`.
  virtual std::expected<Settings, std::string> Read(
      const std::string& ns, const std::string& name) = 0;
  // Creates the Secret, or replaces the data of an existing one.
  virtual std::expected<void, std::string> Write(const std::string& ns,
                                                 const std::string& name,
                                                 const Settings& data) = 0;
};

class AppConfig {
 public:
  // `client` must outlive the AppConfig.
  AppConfig(SecretClient& client, std::string ns, std::string name);

  // Writes `settings` to the Secret and caches them. Fails with the API's
  // error and leaves the cache as it was.
  std::expected<void, std::string> Save(const Settings& settings);
  // Reads the Secret. Returns false, keeping the cached settings, when the
  // read fails.
  bool Reload();

  // The cached value of `key`; nullopt before the first successful Save or
  // Reload, or when the settings have no such key.
  std::optional<std::string> Get(const std::string& key) const;
  // True from a failed Reload until the next successful Save or Reload.
  bool degraded() const { return !last_error_.empty(); }
  // The error of the last failed Reload; empty when not degraded.
  const std::string& last_error() const { return last_error_; }

 private:
  SecretClient& client_;
  const std::string ns_;
  const std::string name_;
  std::optional<Settings> settings_;
  std::string last_error_;
};

}  // namespace app

#endif  // APP_CONFIG_H_
