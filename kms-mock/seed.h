// Seed files: KMS instances and keys to create when a service starts, in
// YAML:
//
//   instances:
//     - id: inst-demo             # optional; a random UUID when absent
//       name: demo
//       type: key-protect         # key-protect (default) or hpcs
//       keys:
//         - id: crk-demo          # optional; a random UUID when absent
//           name: cluster-root-key
//           description: root key of cluster c1   # optional
//           extractable: false    # optional; true makes a standard key
//           payload: <base64>     # optional; 16, 24 or 32 bytes
//           expiration: 2027-01-01T00:00:00Z      # optional, RFC 3339
//           dual_auth_delete: false               # optional
//           versions:             # optional: versions after the first,
//             - payload: <base64> # oldest first; {} generates the
//             - {}                # material (imported keys need payloads)
//           state: Active         # optional: Active, Suspended,
//                                 # Deactivated or Destroyed
//           registrations:        # optional
//             - crn: crn:v1:bluemix:public:containers-kubernetes:...
//               prevent_key_deletion: true        # optional, default true
//
// A key reaches its state through the lifecycle at seeding time: Suspended
// by a disable, Destroyed by a delete (after setKeyForDeletion for a dual
// authorization key), so the 30-second guards and the 4-hour purge delay
// run from then. A Deactivated key is created as if its expiration had
// passed, and its expiration may then lie in the past. A Destroyed key
// cannot have registrations.
//
// The whole file is validated before anything is created. Seeding is
// idempotent for entries with ids: an instance or key whose id exists is
// left as it is, so a persistent service can be seeded on every start.
// Keys without an id are created only together with their instance.
#ifndef KMS_MOCK_SEED_H_
#define KMS_MOCK_SEED_H_

#include <string>

#include "base/status.h"
#include "kms-mock/kms.h"

namespace kms {

// Fails with kInvalidArgument naming the first malformed entry, e.g.
// "instances[0].keys[1].payload: not valid base64", or with the service's
// error when a create fails.
base::Status ApplySeed(KeyService& service, const std::string& yaml_text);
// Like ApplySeed on the file's contents; kNotFound when it cannot be read.
base::Status LoadSeedFile(KeyService& service, const std::string& path);

}  // namespace kms

#endif  // KMS_MOCK_SEED_H_
