// Defaulting and validation of core/v1 objects with upstream's messages.
// Internal to the apiserver library.
//
// Each Validate function returns field errors formatted as upstream's
// field.Error prints them, for example `data[a b]: Invalid value: "a b": ...`
// or `data[tls.crt]: Required value`; InvalidError joins them into the
// Status of an Invalid object.
#ifndef APISERVER_VALIDATION_H_
#define APISERVER_VALIDATION_H_

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace apiserver {

// The largest total size of a Secret's or ConfigMap's values (1 MiB).
inline constexpr size_t kMaxDataSize = 1024 * 1024;

// `"<text>"` with Go's %q escapes.
std::string GoQuote(std::string_view text);

// Status kInvalidArgument, reason "Invalid":
// `<kind> "<name>" is invalid: <error>` or `... is invalid: [e1, e2]`.
// REQUIRES: !errors.empty().
base::Status InvalidError(const std::string& kind, const std::string& name,
                          const std::vector<std::string>& errors);

// Status kInvalidArgument, reason "BadRequest", for a body that does not
// decode as the kind: `<kind> in version "v1" cannot be handled as a <kind>:
// <cause>`.
base::Status DecodeError(const std::string& kind, const std::string& cause);

// Errors of a DNS-1123 subdomain (names of most objects) or label
// (namespace names); empty when valid.
std::vector<std::string> DnsSubdomainErrors(const std::string& value);
std::vector<std::string> DnsLabelErrors(const std::string& value);

// Checks the shape of metadata and of the kind's fields, then applies the
// defaults of kube-apiserver: a Secret's stringData merges into data
// (base64-encoded) and its type defaults to Opaque; a Namespace gets its
// finalizer, phase and name label. Fails with DecodeError on fields of the
// wrong JSON type or data values that are not base64.
base::Status NormalizeSecret(nlohmann::json& object);
base::Status NormalizeConfigMap(nlohmann::json& object);
base::Status NormalizeNamespace(nlohmann::json& object);

// Validation of a new object (metadata included) and of an update against
// the stored object.
std::vector<std::string> ValidateSecret(const nlohmann::json& object);
std::vector<std::string> ValidateSecretUpdate(const nlohmann::json& updated,
                                              const nlohmann::json& stored);
std::vector<std::string> ValidateConfigMap(const nlohmann::json& object);
std::vector<std::string> ValidateConfigMapUpdate(const nlohmann::json& updated,
                                                 const nlohmann::json& stored);
std::vector<std::string> ValidateNamespace(const nlohmann::json& object);

}  // namespace apiserver

#endif  // APISERVER_VALIDATION_H_
