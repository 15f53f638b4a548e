// Worker node flavors of the managed service: machine types per
// infrastructure, with whether they are bare metal and SGX-capable (the
// hardware that Data Shield needs).
//
// The catalogue is this simulator's choice: a small set of flavor names in
// the managed service's naming scheme. Classic offers virtual flavors
// (u3c.2x4, b3c.4x16, b3c.16x64, m3c.8x64), bare metal flavors (mb4c.20x64,
// md4c.16x64.4x4tb) and bare metal flavors with SGX (mb2c.4x32,
// ms2c.4x32.1.9tb.ssd). VPC offers virtual flavors only (cx2.2x4, bx2.4x16,
// mx2.8x64).
#ifndef SIM_FLAVOR_H_
#define SIM_FLAVOR_H_

#include <string>
#include <vector>

#include "base/status.h"

namespace sim {

enum class Infrastructure { kClassic, kVpc };

// "classic" or "vpc".
std::string_view InfrastructureName(Infrastructure infrastructure);

struct Flavor {
  std::string name;
  Infrastructure infrastructure = Infrastructure::kClassic;
  bool bare_metal = false;
  bool sgx = false;  // SGX-capable, so Data Shield can run on it
  int cores = 0;
  int memory_gb = 0;
};

// Every flavor, classic first.
const std::vector<Flavor>& Flavors();
// Looks up a flavor of `infrastructure`. Fails with kInvalidArgument for a
// name it does not offer, listing the names it does.
base::StatusOr<Flavor> FindFlavor(const std::string& name,
                                  Infrastructure infrastructure);
// b3c.4x16 on classic, bx2.4x16 on VPC.
const std::string& DefaultFlavor(Infrastructure infrastructure);
// The names of the SGX-capable flavors, comma-separated, for messages.
std::string SgxFlavorNames();

}  // namespace sim

#endif  // SIM_FLAVOR_H_
