// Kubernetes versions of the managed service, as "1.19.16_1540", "1.18.8_1525"
// or "1.17", and the KMS features each one has.
#ifndef SIM_VERSION_H_
#define SIM_VERSION_H_

#include <compare>
#include <string>

#include "base/status.h"

namespace sim {

struct Version {
  int major = 1;
  int minor = 0;
  int patch = 0;
  int build = 0;  // the managed-service fix pack after '_', e.g. 1525

  // Parses "MAJOR.MINOR[.PATCH][_BUILD]".
  static base::StatusOr<Version> Parse(const std::string& text);
  std::string ToString() const;

  friend auto operator<=>(const Version&, const Version&) = default;
};

// What a version can do with a KMS provider.
struct Features {
  // Existing Secrets are encrypted by the cluster after enablement; 1.17
  // needs a manual rewrite.
  bool rewrites_existing_secrets = false;
  // 1.18.8_1525+: the cluster registers its root key with the KMS (which
  // then refuses to delete it unless forced), receives key events, and
  // follows a rotation done inside the KMS.
  bool registers_root_key = false;
  // 1.19+: root key changes are detected within minutes and reported in
  // the cluster's health.
  bool reports_key_health = false;
};

Features FeaturesOf(const Version& version);

// Returns OK for a version whose KMS behaviour the model describes: major
// 1, minor 17 to 21, any patch and fix pack. Otherwise kInvalidArgument
// listing those minor versions.
base::Status ValidateSupportedVersion(const Version& version);

}  // namespace sim

#endif  // SIM_VERSION_H_
