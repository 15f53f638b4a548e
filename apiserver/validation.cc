#include "apiserver/validation.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <string_view>

#include "base/crypto.h"

namespace apiserver {
namespace {

using Json = nlohmann::json;

constexpr size_t kMaxSubdomainLength = 253;
constexpr size_t kMaxLabelLength = 63;
constexpr size_t kMaxAnnotationsSize = 256 * 1024;

// Texts of k8s.io/apimachinery/pkg/util/validation.
constexpr char kSubdomainMessage[] =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
    "characters, '-' or '.', and must start and end with an alphanumeric "
    "character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
constexpr char kLabelMessage[] =
    "a lowercase RFC 1123 label must consist of lower case alphanumeric "
    "characters or '-', and must start and end with an alphanumeric "
    "character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
constexpr char kConfigKeyMessage[] =
    "a valid config key must consist of alphanumeric characters, '-', '_' or "
    "'.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for "
    "validation is '[-._a-zA-Z0-9]+')";
constexpr char kQualifiedNameMessage[] =
    "name part must consist of alphanumeric characters, '-', '_' or '.', and "
    "must start and end with an alphanumeric character (e.g. 'MyName',  or "
    "'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
constexpr char kLabelValueMessage[] =
    "a valid label must be an empty string or consist of alphanumeric "
    "characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', "
    "regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?"
    "[A-Za-z0-9])?')";
constexpr char kImmutableMessage[] =
    "field is immutable when `immutable` is set";

// The patterns of k8s.io/apimachinery/pkg/util/validation, checked in one
// pass. std::regex matches by recursion, one stack frame per character, so
// a long name sent by a client would overflow the stack.
bool IsLowerAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool IsAlnum(char c) { return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z'); }

// [a-z0-9]([-a-z0-9]*[a-z0-9])?
bool MatchesLabel(std::string_view value) {
  if (value.empty() || !IsLowerAlnum(value.front()) ||
      !IsLowerAlnum(value.back())) {
    return false;
  }
  for (char c : value) {
    if (!IsLowerAlnum(c) && c != '-') return false;
  }
  return true;
}

// [a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*
bool MatchesSubdomain(std::string_view value) {
  size_t start = 0;
  while (true) {
    size_t dot = value.find('.', start);
    if (!MatchesLabel(value.substr(start, dot - start))) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// [-._a-zA-Z0-9]+
bool MatchesConfigKey(std::string_view value) {
  if (value.empty()) return false;
  for (char c : value) {
    if (!IsAlnum(c) && c != '-' && c != '.' && c != '_') return false;
  }
  return true;
}

// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]
bool MatchesQualifiedName(std::string_view value) {
  if (value.empty() || !IsAlnum(value.front()) || !IsAlnum(value.back())) {
    return false;
  }
  for (char c : value) {
    if (!IsAlnum(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

std::string MaxLengthMessage(size_t max) {
  return "must be no more than " + std::to_string(max) + " characters";
}

// Go's name for a JSON value's type in encoding/json errors.
std::string GoJsonType(const Json& value) {
  if (value.is_string()) return "string";
  if (value.is_number()) return "number";
  if (value.is_boolean()) return "bool";
  if (value.is_array()) return "array";
  if (value.is_object()) return "object";
  return "null";
}

base::Status FieldTypeError(const std::string& kind, const Json& value,
                            const std::string& field,
                            const std::string& go_type) {
  return DecodeError(kind, "json: cannot unmarshal " + GoJsonType(value) +
                               " into Go struct field " + field + " of type " +
                               go_type);
}

// Checks that object[name], when present and not null, is a JSON object
// whose values are strings.
base::Status CheckStringMap(const std::string& kind, const Json& object,
                            const std::string& name,
                            const std::string& go_field) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return base::OkStatus();
  if (!it->is_object()) {
    return FieldTypeError(kind, *it, go_field, "map[string]string");
  }
  for (const auto& [key, value] : it->items()) {
    if (!value.is_string() && !value.is_null()) {
      return FieldTypeError(kind, value, go_field, "string");
    }
  }
  return base::OkStatus();
}

// Checks that metadata.managedFields, when present, is a list of entries
// whose text fields are strings, as upstream's ManagedFieldsEntry decodes.
// fieldsV1 takes any JSON there, as upstream keeps it raw.
base::Status CheckManagedFieldsShape(const std::string& kind,
                                     const Json& metadata) {
  auto entries = metadata.find("managedFields");
  if (entries == metadata.end() || entries->is_null()) return base::OkStatus();
  const std::string field = kind + ".metadata.managedFields";
  if (!entries->is_array()) {
    return FieldTypeError(kind, *entries, field, "[]v1.ManagedFieldsEntry");
  }
  for (const Json& entry : *entries) {
    if (!entry.is_object()) {
      return FieldTypeError(kind, entry, field, "v1.ManagedFieldsEntry");
    }
    for (const char* name : {"manager", "operation", "apiVersion", "time",
                             "fieldsType", "subresource"}) {
      auto it = entry.find(name);
      if (it != entry.end() && !it->is_string() && !it->is_null()) {
        return FieldTypeError(kind, *it, field + "." + name, "string");
      }
    }
  }
  return base::OkStatus();
}

base::Status CheckMetadataShape(const std::string& kind, Json& object) {
  if (!object.is_object()) {
    return DecodeError(kind, "json: cannot unmarshal " + GoJsonType(object) +
                                 " into Go value of type v1." + kind);
  }
  Json& metadata = object["metadata"];
  if (metadata.is_null()) metadata = Json::object();
  if (!metadata.is_object()) {
    return FieldTypeError(kind, metadata, kind + ".metadata", "v1.ObjectMeta");
  }
  for (const char* field : {"name", "generateName", "namespace", "uid",
                            "resourceVersion", "creationTimestamp"}) {
    auto it = metadata.find(field);
    if (it != metadata.end() && !it->is_string() && !it->is_null()) {
      return FieldTypeError(kind, *it, kind + ".metadata." + std::string(field),
                            "string");
    }
  }
  RETURN_IF_ERROR(
      CheckStringMap(kind, metadata, "labels", kind + ".metadata.labels"));
  RETURN_IF_ERROR(CheckStringMap(kind, metadata, "annotations",
                                 kind + ".metadata.annotations"));
  return CheckManagedFieldsShape(kind, metadata);
}

// Returns the offset at which Go's base64.StdEncoding reports input as
// corrupt, or nullopt when it decodes. `text` has no line breaks.
// NOTE: offsets follow Go for characters outside the alphabet and for a
// truncated last quantum; for misplaced padding they may differ by a byte.
std::optional<size_t> Base64ErrorOffset(std::string_view text) {
  auto in_alphabet = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/';
  };
  for (size_t i = 0; i < text.size(); ++i) {
    if (in_alphabet(text[i])) continue;
    if (text[i] != '=') return i;
    // Padding may only fill the last two places of the final quantum.
    const size_t place = i % 4;
    if (place < 2) return i;
    if (place == 2 && (i + 1 >= text.size() || text[i + 1] != '=')) return i;
    const size_t end = place == 2 ? i + 2 : i + 1;
    if (end != text.size()) return end;
    return std::nullopt;
  }
  if (text.size() % 4 != 0) return text.size() - text.size() % 4;
  return std::nullopt;
}

size_t Base64DecodedSize(std::string_view text) {
  size_t padding = 0;
  while (padding < text.size() && text[text.size() - 1 - padding] == '=') {
    ++padding;
  }
  return text.size() / 4 * 3 - padding;
}

// Checks that every value of object[field] is base64 and drops the line
// breaks that Go's decoder skips, so stored values are canonical.
base::Status CheckBase64Values(const std::string& kind, Json& object,
                               const std::string& field) {
  auto it = object.find(field);
  if (it == object.end()) return base::OkStatus();
  for (auto& [key, value] : it->items()) {
    if (value.is_null()) {
      value = "";
      continue;
    }
    std::string text = value.get<std::string>();
    std::erase_if(text, [](char c) { return c == '\r' || c == '\n'; });
    if (std::optional<size_t> offset = Base64ErrorOffset(text)) {
      return DecodeError(
          kind, "illegal base64 data at input byte " + std::to_string(*offset));
    }
    value = text;
  }
  return base::OkStatus();
}

void ValidateLabelsAndAnnotations(const Json& metadata,
                                  std::vector<FieldError>& errors) {
  if (auto labels = metadata.find("labels");
      labels != metadata.end() && labels->is_object()) {
    for (const auto& [key, value] : labels->items()) {
      for (const std::string& error : QualifiedNameErrors(key)) {
        errors.push_back(FieldInvalid("metadata.labels", key, error));
      }
      const std::string text =
          value.is_string() ? value.get<std::string>() : "";
      if (text.size() > kMaxLabelLength) {
        errors.push_back(FieldInvalid("metadata.labels", text,
                                      MaxLengthMessage(kMaxLabelLength)));
      }
      if (!text.empty() && !MatchesQualifiedName(text)) {
        errors.push_back(
            FieldInvalid("metadata.labels", text, kLabelValueMessage));
      }
    }
  }
  if (auto annotations = metadata.find("annotations");
      annotations != metadata.end() && annotations->is_object()) {
    size_t total = 0;
    for (const auto& [key, value] : annotations->items()) {
      for (const std::string& error : QualifiedNameErrors(key)) {
        errors.push_back(FieldInvalid("metadata.annotations", key, error));
      }
      total += key.size();
      if (value.is_string()) total += value.get<std::string>().size();
    }
    if (total > kMaxAnnotationsSize) {
      errors.push_back(
          FieldTooLong("metadata.annotations", kMaxAnnotationsSize));
    }
  }
}

std::string StringField(const Json& object, const char* name) {
  auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

// Upstream's ValidateObjectMeta: name, namespace, labels and annotations.
std::vector<FieldError> ValidateMetadata(
    const Json& object, bool namespaced,
    std::vector<std::string> (*name_errors)(const std::string&)) {
  std::vector<FieldError> errors;
  const Json& metadata = object.at("metadata");
  const std::string name = StringField(metadata, "name");
  if (name.empty()) {
    errors.push_back(
        FieldRequired("metadata.name", "name or generateName is required"));
  }
  for (const std::string& error :
       name.empty() ? std::vector<std::string>{} : name_errors(name)) {
    errors.push_back(FieldInvalid("metadata.name", name, error));
  }
  const std::string ns = StringField(metadata, "namespace");
  if (namespaced && ns.empty()) {
    errors.push_back(FieldRequired("metadata.namespace"));
  } else if (namespaced) {
    for (const std::string& error : DnsLabelErrors(ns)) {
      errors.push_back(FieldInvalid("metadata.namespace", ns, error));
    }
  } else if (!ns.empty()) {
    errors.push_back(
        FieldForbidden("metadata.namespace", "not allowed on this type"));
  }
  ValidateLabelsAndAnnotations(metadata, errors);
  return errors;
}

void ValidateConfigKeys(const Json& object, const std::string& field,
                        std::vector<FieldError>& errors) {
  auto it = object.find(field);
  if (it == object.end() || !it->is_object()) return;
  for (const auto& [key, value] : it->items()) {
    const std::string path = field + "[" + key + "]";
    if (key.size() > kMaxSubdomainLength) {
      errors.push_back(
          FieldInvalid(path, key, MaxLengthMessage(kMaxSubdomainLength)));
    }
    if (!MatchesConfigKey(key)) {
      errors.push_back(FieldInvalid(path, key, kConfigKeyMessage));
    }
    if (key == ".") {
      errors.push_back(FieldInvalid(path, key, "must not be '.'"));
    } else if (key == "..") {
      errors.push_back(FieldInvalid(path, key, "must not be '..'"));
    } else if (key.starts_with("..")) {
      errors.push_back(FieldInvalid(path, key, "must not start with '..'"));
    }
  }
}

bool HasKey(const Json& object, const std::string& field,
            const std::string& key) {
  auto it = object.find(field);
  return it != object.end() && it->is_object() && it->contains(key);
}

// Decoded bytes of data[key] of a validated Secret; empty when absent.
std::string DecodedData(const Json& secret, const std::string& key) {
  if (!HasKey(secret, "data", key)) return "";
  base::StatusOr<std::string> decoded =
      base::Base64Decode(secret["data"][key].get<std::string>());
  return decoded.ok() ? *decoded : "";
}

// Type-specific keys, as upstream's ValidateSecret switch on the type.
void ValidateSecretType(const Json& secret, std::vector<FieldError>& errors) {
  const std::string type = StringField(secret, "type");
  auto require = [&](const std::string& key) {
    if (HasKey(secret, "data", key)) return true;
    errors.push_back(FieldRequired("data[" + key + "]"));
    return false;
  };
  auto require_json = [&](const std::string& key) {
    if (!require(key)) return;
    if (!Json::accept(DecodedData(secret, key))) {
      errors.push_back(FieldInvalid("data[" + key + "]",
                                    "<secret contents redacted>",
                                    "invalid character in JSON"));
    }
  };

  if (type == "kubernetes.io/service-account-token") {
    const Json& metadata = secret.at("metadata");
    const std::string account =
        metadata.contains("annotations") && metadata["annotations"].is_object()
            ? StringField(metadata["annotations"],
                          "kubernetes.io/service-account.name")
            : "";
    if (account.empty()) {
      errors.push_back(FieldRequired(
          "metadata.annotations[kubernetes.io/service-account.name]"));
    }
  } else if (type == "kubernetes.io/dockercfg") {
    require_json(".dockercfg");
  } else if (type == "kubernetes.io/dockerconfigjson") {
    require_json(".dockerconfigjson");
  } else if (type == "kubernetes.io/basic-auth") {
    if (!HasKey(secret, "data", "username") &&
        !HasKey(secret, "data", "password")) {
      errors.push_back(FieldRequired("data[username]"));
      errors.push_back(FieldRequired("data[password]"));
    }
  } else if (type == "kubernetes.io/ssh-auth") {
    if (DecodedData(secret, "ssh-privatekey").empty()) {
      errors.push_back(FieldRequired("data[ssh-privatekey]"));
    }
  } else if (type == "kubernetes.io/tls") {
    require("tls.crt");
    require("tls.key");
  }
}

size_t TotalBase64Size(const Json& object, const std::string& field) {
  size_t total = 0;
  auto it = object.find(field);
  if (it == object.end() || !it->is_object()) return 0;
  for (const auto& [key, value] : it->items()) {
    total += Base64DecodedSize(value.get<std::string>());
  }
  return total;
}

bool IsImmutable(const Json& object) {
  auto it = object.find("immutable");
  return it != object.end() && it->is_boolean() && it->get<bool>();
}

Json FieldOrNull(const Json& object, const std::string& field) {
  auto it = object.find(field);
  if (it == object.end() || (it->is_object() && it->empty())) return nullptr;
  return *it;
}

void ValidateImmutableUpdate(const Json& updated, const Json& stored,
                             const std::vector<std::string>& fields,
                             std::vector<FieldError>& errors) {
  if (!IsImmutable(stored)) return;
  if (!IsImmutable(updated)) {
    errors.push_back(FieldForbidden("immutable", kImmutableMessage));
  }
  for (const std::string& field : fields) {
    if (FieldOrNull(updated, field) != FieldOrNull(stored, field)) {
      errors.push_back(FieldForbidden(field, kImmutableMessage));
    }
  }
}

}  // namespace

std::string GoQuote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (byte < 0x20 || byte == 0x7f) {
          char escaped[8];
          std::snprintf(escaped, sizeof(escaped), "\\x%02x", byte);
          out += escaped;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

FieldError FieldRequired(const std::string& field, const std::string& detail) {
  return {"FieldValueRequired", field,
          "Required value" + (detail.empty() ? "" : ": " + detail)};
}

FieldError FieldInvalid(const std::string& field, const std::string& value,
                        const std::string& detail) {
  return {"FieldValueInvalid", field,
          "Invalid value: " + GoQuote(value) + ": " + detail};
}

FieldError FieldForbidden(const std::string& field, const std::string& detail) {
  return {"FieldValueForbidden", field, "Forbidden: " + detail};
}

// Upstream's text as of Kubernetes 1.32; 1.33 words it "must have at most
// <n> bytes".
FieldError FieldTooLong(const std::string& field, size_t max_bytes) {
  return {"FieldValueTooLong", field,
          "Too long: may not be more than " + std::to_string(max_bytes) +
              (max_bytes == 1 ? " byte" : " bytes")};
}

FieldError FieldNotSupported(const std::string& field,
                             const std::string& go_value,
                             const std::vector<std::string>& supported) {
  std::string body = "Unsupported value: " + go_value;
  for (size_t i = 0; i < supported.size(); ++i) {
    body += (i == 0 ? ": supported values: " : ", ") + GoQuote(supported[i]);
  }
  return {"FieldValueNotSupported", field, body};
}

base::Status InvalidError(const std::string& kind, const std::string& name,
                          const std::vector<FieldError>& errors) {
  // As upstream's ErrorList.ToAggregate, a repeated message shows once.
  std::vector<std::string> messages;
  Json causes = Json::array();
  for (const FieldError& error : errors) {
    const std::string message = error.ToString();
    if (std::find(messages.begin(), messages.end(), message) ==
        messages.end()) {
      messages.push_back(message);
    }
    causes.push_back({{"reason", error.type},
                      {"message", error.body},
                      {"field", error.field}});
  }
  std::string joined = messages.front();
  if (messages.size() > 1) {
    joined = "[";
    for (size_t i = 0; i < messages.size(); ++i) {
      joined += (i > 0 ? ", " : "") + messages[i];
    }
    joined += "]";
  }
  base::Status status = base::InvalidArgumentError(
      kind + " " + GoQuote(name) + " is invalid: " + joined, "Invalid");

  Json details = {{"causes", std::move(causes)}};
  const size_t dot = kind.find('.');
  details["kind"] = kind.substr(0, dot);
  if (dot != std::string::npos) details["group"] = kind.substr(dot + 1);
  if (!name.empty()) details["name"] = name;
  status.SetPayload(
      kStatusDetailsPayload,
      details.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  return status;
}

base::Status DecodeError(const std::string& kind, const std::string& cause) {
  return base::InvalidArgumentError(kind +
                                        " in version \"v1\" cannot be "
                                        "handled as a " +
                                        kind + ": " + cause,
                                    "BadRequest");
}

std::vector<std::string> DnsSubdomainErrors(const std::string& value) {
  std::vector<std::string> errors;
  if (value.size() > kMaxSubdomainLength) {
    errors.push_back(MaxLengthMessage(kMaxSubdomainLength));
  }
  if (!MatchesSubdomain(value)) {
    errors.push_back(kSubdomainMessage);
  }
  return errors;
}

std::vector<std::string> DnsLabelErrors(const std::string& value) {
  std::vector<std::string> errors;
  if (value.size() > kMaxLabelLength) {
    errors.push_back(MaxLengthMessage(kMaxLabelLength));
  }
  if (!MatchesLabel(value)) errors.push_back(kLabelMessage);
  return errors;
}

std::vector<std::string> QualifiedNameErrors(const std::string& value) {
  std::vector<std::string> errors;
  std::string name = value;
  const size_t slash = value.find('/');
  if (slash != std::string::npos) {
    const std::string prefix = value.substr(0, slash);
    name = value.substr(slash + 1);
    if (prefix.empty()) {
      errors.push_back("prefix part must be non-empty");
    } else {
      for (const std::string& error : DnsSubdomainErrors(prefix)) {
        errors.push_back("prefix part " + error);
      }
    }
  }
  if (name.empty()) {
    errors.push_back("name part must be non-empty");
  } else if (name.size() > kMaxLabelLength) {
    errors.push_back("name part " + MaxLengthMessage(kMaxLabelLength));
  }
  if (!name.empty() && !MatchesQualifiedName(name)) {
    errors.push_back(kQualifiedNameMessage);
  }
  return errors;
}

std::vector<std::string> LabelValueErrors(const std::string& value) {
  std::vector<std::string> errors;
  if (value.size() > kMaxLabelLength) {
    errors.push_back(MaxLengthMessage(kMaxLabelLength));
  }
  if (!value.empty() && !MatchesQualifiedName(value)) {
    errors.push_back(kLabelValueMessage);
  }
  return errors;
}

base::Status NormalizeSecret(Json& object) {
  const std::string kind = "Secret";
  RETURN_IF_ERROR(CheckMetadataShape(kind, object));
  RETURN_IF_ERROR(CheckStringMap(kind, object, "data", "Secret.data"));
  RETURN_IF_ERROR(
      CheckStringMap(kind, object, "stringData", "Secret.stringData"));
  if (auto type = object.find("type");
      type != object.end() && !type->is_string() && !type->is_null()) {
    return FieldTypeError(kind, *type, "Secret.type", "v1.SecretType");
  }
  if (auto immutable = object.find("immutable"); immutable != object.end() &&
                                                 !immutable->is_boolean() &&
                                                 !immutable->is_null()) {
    return FieldTypeError(kind, *immutable, "Secret.immutable", "bool");
  }
  RETURN_IF_ERROR(CheckBase64Values(kind, object, "data"));

  // stringData is write-only: its entries replace those of data.
  if (auto string_data = object.find("stringData");
      string_data != object.end()) {
    if (string_data->is_object()) {
      for (const auto& [key, value] : string_data->items()) {
        object["data"][key] = base::Base64Encode(
            value.is_string() ? value.get<std::string>() : "");
      }
    }
    object.erase("stringData");
  }
  if (object.contains("data") &&
      (object["data"].is_null() || object["data"].empty())) {
    object.erase("data");
  }
  if (StringField(object, "type").empty()) object["type"] = "Opaque";
  if (object.contains("immutable") && object["immutable"].is_null()) {
    object.erase("immutable");
  }
  return base::OkStatus();
}

base::Status NormalizeConfigMap(Json& object) {
  const std::string kind = "ConfigMap";
  RETURN_IF_ERROR(CheckMetadataShape(kind, object));
  RETURN_IF_ERROR(CheckStringMap(kind, object, "data", "ConfigMap.data"));
  RETURN_IF_ERROR(
      CheckStringMap(kind, object, "binaryData", "ConfigMap.binaryData"));
  if (auto immutable = object.find("immutable"); immutable != object.end() &&
                                                 !immutable->is_boolean() &&
                                                 !immutable->is_null()) {
    return FieldTypeError(kind, *immutable, "ConfigMap.immutable", "bool");
  }
  RETURN_IF_ERROR(CheckBase64Values(kind, object, "binaryData"));
  if (auto data = object.find("data"); data != object.end()) {
    for (auto& [key, value] : data->items()) {
      if (value.is_null()) value = "";
    }
  }
  for (const char* field : {"data", "binaryData", "immutable"}) {
    if (object.contains(field) &&
        (object[field].is_null() ||
         (object[field].is_object() && object[field].empty()))) {
      object.erase(field);
    }
  }
  return base::OkStatus();
}

base::Status NormalizeNamespace(Json& object) {
  const std::string kind = "Namespace";
  RETURN_IF_ERROR(CheckMetadataShape(kind, object));
  Json& spec = object["spec"];
  if (spec.is_null()) spec = Json::object();
  if (!spec.is_object()) {
    return FieldTypeError(kind, spec, "Namespace.spec", "v1.NamespaceSpec");
  }
  if (!spec.contains("finalizers") || spec["finalizers"].is_null()) {
    spec["finalizers"] = Json::array({"kubernetes"});
  }
  object["status"] = {{"phase", "Active"}};
  Json& metadata = object["metadata"];
  const std::string name = StringField(metadata, "name");
  if (!name.empty()) {
    metadata["labels"]["kubernetes.io/metadata.name"] = name;
  }
  return base::OkStatus();
}

std::vector<FieldError> ValidateSecret(const Json& object) {
  std::vector<FieldError> errors =
      ValidateMetadata(object, true, &DnsSubdomainErrors);
  ValidateConfigKeys(object, "data", errors);
  if (TotalBase64Size(object, "data") > kMaxDataSize) {
    errors.push_back(FieldTooLong("data", kMaxDataSize));
  }
  ValidateSecretType(object, errors);
  return errors;
}

std::vector<FieldError> ValidateSecretUpdate(const Json& updated,
                                             const Json& stored) {
  std::vector<FieldError> errors = ValidateSecret(updated);
  const std::string type = StringField(updated, "type");
  if (type != StringField(stored, "type")) {
    errors.push_back(FieldInvalid("type", type, "field is immutable"));
  }
  ValidateImmutableUpdate(updated, stored, {"data"}, errors);
  return errors;
}

std::vector<FieldError> ValidateConfigMap(const Json& object) {
  std::vector<FieldError> errors =
      ValidateMetadata(object, true, &DnsSubdomainErrors);
  ValidateConfigKeys(object, "data", errors);
  ValidateConfigKeys(object, "binaryData", errors);
  size_t total = TotalBase64Size(object, "binaryData");
  if (auto data = object.find("data"); data != object.end()) {
    for (const auto& [key, value] : data->items()) {
      if (HasKey(object, "binaryData", key)) {
        errors.push_back(
            FieldInvalid("data[" + key + "]", key,
                         "duplicate of key present in binaryData"));
      }
      total += value.get<std::string>().size();
    }
  }
  // Upstream reports the whole object as field.NewPath(""), which prints
  // as "[]".
  if (total > kMaxDataSize) errors.push_back(FieldTooLong("[]", kMaxDataSize));
  return errors;
}

std::vector<FieldError> ValidateConfigMapUpdate(const Json& updated,
                                                const Json& stored) {
  std::vector<FieldError> errors = ValidateConfigMap(updated);
  ValidateImmutableUpdate(updated, stored, {"data", "binaryData"}, errors);
  return errors;
}

std::vector<FieldError> ValidateNamespace(const Json& object) {
  return ValidateMetadata(object, false, &DnsLabelErrors);
}

}  // namespace apiserver
