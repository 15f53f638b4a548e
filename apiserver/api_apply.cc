// Server-side apply (PATCH with application/apply-patch+yaml) and the
// parameters that every write takes: fieldManager, fieldValidation and
// force.
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "apiserver/api_internal.h"
#include "apiserver/validation.h"

namespace apiserver {
namespace {

// Upstream's FieldManagerMaxLength, in bytes.
constexpr size_t kMaxFieldManagerLength = 128;

// One code point of UTF-8 text, and the bytes it took. An invalid byte
// reads as U+FFFD, one byte long, as Go's range over a string does.
struct Rune {
  uint32_t code_point;
  size_t size;
};

Rune DecodeRune(std::string_view text, size_t at) {
  constexpr Rune kInvalid{0xFFFD, 1};
  const auto byte = [&text](size_t i) {
    return static_cast<unsigned char>(text[i]);
  };
  const unsigned char first = byte(at);
  if (first < 0x80) return {first, 1};

  size_t size = 0;
  uint32_t code_point = 0;
  uint32_t minimum = 0;
  if ((first & 0xE0) == 0xC0) {
    size = 2;
    code_point = first & 0x1F;
    minimum = 0x80;
  } else if ((first & 0xF0) == 0xE0) {
    size = 3;
    code_point = first & 0x0F;
    minimum = 0x800;
  } else if ((first & 0xF8) == 0xF0) {
    size = 4;
    code_point = first & 0x07;
    minimum = 0x10000;
  } else {
    return kInvalid;
  }
  if (at + size > text.size()) return kInvalid;

  for (size_t i = 1; i < size; ++i) {
    if ((byte(at + i) & 0xC0) != 0x80) return kInvalid;
    code_point = (code_point << 6) | (byte(at + i) & 0x3F);
  }
  if (code_point < minimum || code_point > 0x10FFFF ||
      (code_point >= 0xD800 && code_point <= 0xDFFF)) {
    return kInvalid;
  }
  return {code_point, size};
}

std::string EncodeRune(uint32_t code_point) {
  std::string out;
  if (code_point < 0x80) {
    out += static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    out += static_cast<char>(0xC0 | (code_point >> 6));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else if (code_point < 0x10000) {
    out += static_cast<char>(0xE0 | (code_point >> 12));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (code_point >> 18));
    out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  }
  return out;
}

// Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and
// the ASCII space.
// NOTE: outside ASCII this rejects the control, format, separator,
// private-use and noncharacter ranges only; Go also rejects unassigned
// code points, which this accepts.
bool IsPrint(uint32_t c) {
  if (c < 0x80) return c >= 0x20 && c != 0x7F;
  const std::pair<uint32_t, uint32_t> kNotPrintable[] = {
      {0x80, 0xA0},       {0xAD, 0xAD},       {0x600, 0x605},
      {0x61C, 0x61C},     {0x6DD, 0x6DD},     {0x70F, 0x70F},
      {0x1680, 0x1680},   {0x180E, 0x180E},   {0x2000, 0x200F},
      {0x2028, 0x202F},   {0x205F, 0x206F},   {0x3000, 0x3000},
      {0xD800, 0xF8FF},   {0xFEFF, 0xFEFF},   {0xFFF9, 0xFFFB},
      {0xFFFE, 0xFFFF},   {0x110BD, 0x110BD}, {0x1D173, 0x1D17A},
      {0xE0000, 0xE0FFF}, {0xF0000, 0x10FFFF}};
  for (const auto& [low, high] : kNotPrintable) {
    if (c >= low && c <= high) return false;
  }
  return true;
}

// "U+0001", as Go's %U prints a code point.
std::string CodePointName(uint32_t code_point) {
  char name[16];
  std::snprintf(name, sizeof(name), "U+%04X", code_point);
  return name;
}

// The product of a User-Agent: the text before the first '/', without
// characters that are not printable, cut at 128 bytes, as upstream's
// prefixFromUserAgent.
std::string ManagerFromUserAgent(std::string_view user_agent) {
  const std::string_view product = user_agent.substr(0, user_agent.find('/'));
  std::string manager;
  for (size_t at = 0; at < product.size();) {
    const Rune rune = DecodeRune(product, at);
    at += rune.size;
    if (!IsPrint(rune.code_point)) continue;
    const std::string encoded = EncodeRune(rune.code_point);
    if (manager.size() + encoded.size() > kMaxFieldManagerLength) break;
    manager += encoded;
  }
  return manager;
}

void CheckFieldManager(const std::string& manager,
                       std::vector<FieldError>& errors) {
  if (manager.size() > kMaxFieldManagerLength) {
    errors.push_back(FieldTooLong("fieldManager", kMaxFieldManagerLength));
  }
  for (size_t at = 0; at < manager.size();) {
    const Rune rune = DecodeRune(manager, at);
    if (!IsPrint(rune.code_point)) {
      errors.push_back(
          FieldInvalid("fieldManager", manager,
                       "invalid character " + CodePointName(rune.code_point) +
                           " (at position " + std::to_string(at) + ")"));
    }
    at += rune.size;
  }
}

// The kind of options whose errors upstream reports for `verb`.
std::string OptionsKind(WriteVerb verb) {
  switch (verb) {
    case WriteVerb::kCreate:
      return "CreateOptions";
    case WriteVerb::kUpdate:
      return "UpdateOptions";
    case WriteVerb::kPatch:
    case WriteVerb::kApply:
      return "PatchOptions";
  }
  return "";
}

}  // namespace

bool ParseDryRun(const std::vector<std::string>& values,
                 std::vector<FieldError>& errors) {
  std::string go_value = "[]string{";
  bool all_known = true;
  for (size_t i = 0; i < values.size(); ++i) {
    go_value += (i == 0 ? "" : ", ") + GoQuote(values[i]);
    all_known = all_known && values[i] == "All";
  }
  go_value += "}";
  if (!all_known) {
    errors.push_back(FieldNotSupported("dryRun", go_value, {"All"}));
  }
  return all_known && !values.empty();
}

base::StatusOr<WriteParameters> ParseWriteParameters(
    const ApiRequest& request, const Query& query, WriteVerb verb,
    bool field_validation_enabled) {
  WriteParameters parameters;
  std::vector<FieldError> errors;
  const bool has_force = query.contains("force");
  const std::string manager = QueryValue(query, "fieldManager");
  if (verb == WriteVerb::kPatch && has_force) {
    errors.push_back(
        FieldForbidden("force", "may not be specified for non-apply patch"));
  }
  if (verb == WriteVerb::kApply && manager.empty()) {
    errors.push_back(
        FieldRequired("fieldManager", "is required for apply patch"));
  }
  CheckFieldManager(manager, errors);
  if (query.contains("dryRun")) {
    parameters.dry_run = ParseDryRun(QueryValues(request, "dryRun"), errors);
  }

  // Only "0" and "false" (in any case) turn force off, as upstream's query
  // parameter conversion of a bool.
  const std::string force = QueryValue(query, "force");
  parameters.force = has_force && force != "0" && Lower(force) != "false";

  const std::string validation = QueryValue(query, "fieldValidation");
  if (!field_validation_enabled) {
    parameters.validation = FieldValidation::kIgnore;
  } else if (validation.empty() || validation == "Warn") {
    parameters.validation = FieldValidation::kWarn;
  } else if (validation == "Ignore") {
    parameters.validation = FieldValidation::kIgnore;
  } else if (validation == "Strict") {
    parameters.validation = FieldValidation::kStrict;
  } else {
    errors.push_back(FieldNotSupported("fieldValidation", GoQuote(validation),
                                       {"", "Ignore", "Strict", "Warn"}));
  }
  if (!errors.empty()) {
    return InvalidError(OptionsKind(verb) + ".meta.k8s.io", "", errors);
  }

  parameters.field_manager = manager;
  if (manager.empty()) {
    auto user_agent = request.headers.find("user-agent");
    parameters.field_manager = ManagerFromUserAgent(
        user_agent == request.headers.end() ? "" : user_agent->second);
  }
  return parameters;
}

ApiResponse ApiHandler::Apply(const ApiRequest& request, const Route& route) {
  const Resource& resource = *route.resource;
  base::StatusOr<WriteParameters> parameters =
      ParseWriteParameters(request, route.query, WriteVerb::kApply,
                           options_.server_side_field_validation);
  if (!parameters.ok()) return FailureResponse(parameters.status());

  // The body is YAML. kubectl sends JSON, which YAML includes.
  base::StatusOr<Json> config = YamlToJson(request.body);
  if (config.ok() && !config->is_object() && !config->is_null()) {
    const std::string type = config->is_array()     ? "array"
                             : config->is_string()  ? "string"
                             : config->is_boolean() ? "bool"
                                                    : "number";
    config = base::InvalidArgumentError(
        "json: cannot unmarshal " + type +
        " into Go value of type map[string]interface {}");
  }
  if (!config.ok()) {
    return FailureResponse(base::InvalidArgumentError(
        "error decoding YAML: " + config.status().message(), "BadRequest"));
  }
  if (config->is_null()) *config = Json::object();

  // Duplicate keys are what strict decoding of an apply body can find:
  // unknown fields already fail the apply itself.
  // NOTE: upstream runs this check after merging, so an apply that both
  // conflicts and repeats a key reports the conflict there and the
  // duplicate here.
  std::vector<std::string> duplicates;
  if (parameters->validation != FieldValidation::kIgnore) {
    duplicates = YamlDuplicateKeys(request.body);
  }
  std::string duplicate_error;
  if (!duplicates.empty()) {
    duplicate_error = "error converting YAML to JSON: yaml: unmarshal errors:";
    for (const std::string& duplicate : duplicates) {
      duplicate_error += "\n  " + duplicate;
    }
  }
  if (!duplicate_error.empty() &&
      parameters->validation == FieldValidation::kStrict) {
    return FailureResponse(base::InvalidArgumentError(
        "error strict decoding YAML: " + duplicate_error, "BadRequest"));
  }

  ApplyOptions options;
  options.field_manager = parameters->field_manager;
  options.force = parameters->force;
  options.dry_run = parameters->dry_run;
  base::StatusOr<ApplyResult> applied =
      registry_.Apply(resource, route.ns, route.name, *config, options);
  if (!applied.ok()) {
    return FailureResponse(applied.status(), &resource, route.name);
  }
  ApiResponse response =
      JsonResponse(applied->created ? 201 : 200, applied->object);
  if (!duplicate_error.empty()) {
    response.headers.emplace_back("Warning", WarningHeader(duplicate_error));
  }
  return response;
}

}  // namespace apiserver
