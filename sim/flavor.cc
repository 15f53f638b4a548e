#include "sim/flavor.h"

namespace sim {

std::string_view InfrastructureName(Infrastructure infrastructure) {
  return infrastructure == Infrastructure::kVpc ? "vpc" : "classic";
}

const std::vector<Flavor>& Flavors() {
  static const auto* kFlavors = new std::vector<Flavor>{
      {"u3c.2x4", Infrastructure::kClassic, false, false, 2, 4},
      {"b3c.4x16", Infrastructure::kClassic, false, false, 4, 16},
      {"b3c.16x64", Infrastructure::kClassic, false, false, 16, 64},
      {"m3c.8x64", Infrastructure::kClassic, false, false, 8, 64},
      {"mb4c.20x64", Infrastructure::kClassic, true, false, 20, 64},
      {"md4c.16x64.4x4tb", Infrastructure::kClassic, true, false, 16, 64},
      {"mb2c.4x32", Infrastructure::kClassic, true, true, 4, 32},
      {"ms2c.4x32.1.9tb.ssd", Infrastructure::kClassic, true, true, 4, 32},
      {"cx2.2x4", Infrastructure::kVpc, false, false, 2, 4},
      {"bx2.4x16", Infrastructure::kVpc, false, false, 4, 16},
      {"mx2.8x64", Infrastructure::kVpc, false, false, 8, 64},
  };
  return *kFlavors;
}

base::StatusOr<Flavor> FindFlavor(const std::string& name,
                                  Infrastructure infrastructure) {
  std::string offered;
  for (const Flavor& flavor : Flavors()) {
    if (flavor.infrastructure != infrastructure) continue;
    if (flavor.name == name) return flavor;
    offered += (offered.empty() ? "" : ", ") + flavor.name;
  }
  return base::InvalidArgumentError(
      "flavor \"" + name + "\" is not offered on " +
      std::string(InfrastructureName(infrastructure)) +
      " infrastructure; choose one of " + offered);
}

const std::string& DefaultFlavor(Infrastructure infrastructure) {
  static const std::string kClassic = "b3c.4x16";
  static const std::string kVpc = "bx2.4x16";
  return infrastructure == Infrastructure::kVpc ? kVpc : kClassic;
}

std::string SgxFlavorNames() {
  std::string names;
  for (const Flavor& flavor : Flavors()) {
    if (flavor.sgx) names += (names.empty() ? "" : ", ") + flavor.name;
  }
  return names;
}

}  // namespace sim
