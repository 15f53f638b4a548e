// Defaulting and validation of core/v1 objects with upstream's messages.
// Internal to the apiserver library.
//
// Each Validate function returns field errors as upstream's field.Error
// contains them, printed for example as `data[a b]: Invalid value: "a b": ...`
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

// One field error, as upstream's field.Error.
struct FieldError {
  // upstream's ErrorType, which a StatusCause carries as its reason:
  // "FieldValueRequired", "FieldValueInvalid", "FieldValueForbidden",
  // "FieldValueTooLong" or "FieldValueNotSupported".
  std::string type;
  // The field path as field.Path prints it: "metadata.name", "data[a b]",
  // or "[]" for the whole object.
  std::string field;
  // ErrorBody(): the message without the field, such as
  // `Invalid value: "a b": <detail>`.
  std::string body;

  // Error(): `<field>: <body>`.
  std::string ToString() const { return field + ": " + body; }
};

// The constructors of upstream's field package. `value` of FieldInvalid is
// a string, which the message quotes; `go_value` of FieldNotSupported is
// already in Go's %#v form, such as `[]string{"x"}`.
FieldError FieldRequired(const std::string& field,
                         const std::string& detail = "");
FieldError FieldInvalid(const std::string& field, const std::string& value,
                        const std::string& detail);
FieldError FieldForbidden(const std::string& field, const std::string& detail);
FieldError FieldTooLong(const std::string& field, size_t max_bytes);
FieldError FieldNotSupported(const std::string& field,
                             const std::string& go_value,
                             const std::vector<std::string>& supported);

// Payload type of a failed Status whose v1 StatusDetails, as a JSON
// object, the HTTP layer sends as they are instead of deriving them from
// the reason (see FailureStatus in api_status.h).
inline constexpr char kStatusDetailsPayload[] =
    "k8s.io/apimachinery/pkg/apis/meta/v1.StatusDetails";

// Status kInvalidArgument, reason "Invalid", as upstream's NewInvalid:
// `<kind> "<name>" is invalid: <error>` or `... is invalid: [e1, e2]`
// (repeated messages once), with a kStatusDetailsPayload of the name, the
// kind and its group ("Secret"; "CreateOptions" in "meta.k8s.io" for
// "CreateOptions.meta.k8s.io"), and one StatusCause per error.
// REQUIRES: !errors.empty().
base::Status InvalidError(const std::string& kind, const std::string& name,
                          const std::vector<FieldError>& errors);

// Status kInvalidArgument, reason "BadRequest", for a body that does not
// decode as the kind: `<kind> in version "v1" cannot be handled as a <kind>:
// <cause>`.
base::Status DecodeError(const std::string& kind, const std::string& cause);

// Errors of a DNS-1123 subdomain (names of most objects) or label
// (namespace names); empty when valid.
std::vector<std::string> DnsSubdomainErrors(const std::string& value);
std::vector<std::string> DnsLabelErrors(const std::string& value);
// Errors of a label key (a qualified name with an optional DNS subdomain
// prefix) and of a label value, as upstream's IsQualifiedName and
// IsValidLabelValue. Both are empty for a valid value.
std::vector<std::string> QualifiedNameErrors(const std::string& value);
std::vector<std::string> LabelValueErrors(const std::string& value);

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
std::vector<FieldError> ValidateSecret(const nlohmann::json& object);
std::vector<FieldError> ValidateSecretUpdate(const nlohmann::json& updated,
                                             const nlohmann::json& stored);
std::vector<FieldError> ValidateConfigMap(const nlohmann::json& object);
std::vector<FieldError> ValidateConfigMapUpdate(const nlohmann::json& updated,
                                                const nlohmann::json& stored);
std::vector<FieldError> ValidateNamespace(const nlohmann::json& object);

}  // namespace apiserver

#endif  // APISERVER_VALIDATION_H_
