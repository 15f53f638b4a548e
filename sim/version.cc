#include "sim/version.h"

#include <regex>

namespace sim {

base::StatusOr<Version> Version::Parse(const std::string& text) {
  static const std::regex kPattern(R"((\d+)\.(\d+)(?:\.(\d+))?(?:_(\d+))?)");
  std::smatch match;
  if (!std::regex_match(text, match, kPattern)) {
    return base::InvalidArgumentError(
        "invalid cluster version \"" + text +
        "\": expected MAJOR.MINOR[.PATCH][_BUILD], for example 1.19.16_1540");
  }
  Version version;
  version.major = std::stoi(match[1]);
  version.minor = std::stoi(match[2]);
  if (match[3].matched) version.patch = std::stoi(match[3]);
  if (match[4].matched) version.build = std::stoi(match[4]);
  return version;
}

std::string Version::ToString() const {
  std::string out = std::to_string(major) + "." + std::to_string(minor) + "." +
                    std::to_string(patch);
  if (build != 0) out += "_" + std::to_string(build);
  return out;
}

namespace {

// 1.17 needs a manual rewrite, 1.18.8_1525 registers its root key and 1.19
// reports key health; 1.20 and 1.21 behave as 1.19.
constexpr int kFirstMinor = 17;
constexpr int kLastMinor = 21;

}  // namespace

base::Status ValidateSupportedVersion(const Version& version) {
  if (version.major == 1 && version.minor >= kFirstMinor &&
      version.minor <= kLastMinor) {
    return base::OkStatus();
  }
  std::string minors;
  for (int minor = kFirstMinor; minor <= kLastMinor; ++minor) {
    if (!minors.empty()) minors += minor == kLastMinor ? " and " : ", ";
    minors += "1." + std::to_string(minor);
  }
  return base::InvalidArgumentError(
      "unsupported cluster version " + version.ToString() +
      ": the simulated service offers Kubernetes " + minors +
      " (any patch and fix pack), for example 1.19.16_1540");
}

Features FeaturesOf(const Version& version) {
  Features features;
  features.rewrites_existing_secrets = version >= Version{1, 18, 0, 0};
  features.registers_root_key = version >= Version{1, 18, 8, 1525};
  features.reports_key_health = version >= Version{1, 19, 0, 0};
  return features;
}

}  // namespace sim
