// Checks of the names that users give to KMS instances, keys and other
// resources through the sandbox's control API and `ks`. Each name ends up
// in tables, logs and recorded scenarios, so no name may contain a control
// character. Functions only, thread-safe.
#ifndef SIM_NAMES_H_
#define SIM_NAMES_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "base/status.h"

namespace sim {

// Key Protect's rule for key names: "Length must be within 2 - 90
// characters (inclusive)" (IBM Cloud docs, Key Protect, "Creating standard
// keys").
inline constexpr size_t kMinKeyNameLength = 2;
inline constexpr size_t kMaxKeyNameLength = 90;
// The model's rule for KMS instance names, which the simulated service
// chooses itself.
inline constexpr size_t kMaxInstanceNameLength = 90;

// Returns OK for 2 to 90 characters (UTF-8 code points) without control
// characters, else kInvalidArgument naming the rule.
base::Status ValidateKeyName(std::string_view name);
// Returns OK for 1 to 90 characters without control characters, else
// kInvalidArgument naming the rule.
base::Status ValidateInstanceName(std::string_view name);
// Returns kInvalidArgument when `value`, the value of `field`, contains a
// control character (U+0000 to U+001F, U+007F to U+009F).
base::Status RejectControlCharacters(std::string_view field,
                                     std::string_view value);

// Returns `value` in double quotes for an error message: control
// characters as \xNN, and cut after 40 characters with the full length
// added, so that a message never carries a line break or megabytes.
std::string QuoteForMessage(std::string_view value);

}  // namespace sim

#endif  // SIM_NAMES_H_
