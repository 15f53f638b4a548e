// Decoding of request bodies as kube-apiserver's serializers do: JSON with
// duplicate-field detection, YAML through JSON, Kubernetes protobuf, the
// apiVersion and kind checks, and the fieldValidation directive.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <set>
#include <stdexcept>
#include <string_view>

#include "apiserver/api_internal.h"
#include "apiserver/protobuf_codec.h"
#include "apiserver/validation.h"
#include "base/json_depth.h"

namespace apiserver {
namespace {

// The scheme that upstream's decoder names in "no kind is registered".
constexpr char kSchemeName[] =
    "k8s.io/kubernetes/pkg/api/legacyscheme/scheme.go:30";

// Kinds registered in core/v1 besides the served ones: a body of one of
// these fails conversion instead of lookup.
constexpr const char* kOtherCoreKinds[] = {
    "Binding",
    "ComponentStatus",
    "ConfigMapList",
    "Endpoints",
    "Event",
    "LimitRange",
    "List",
    "NamespaceList",
    "Node",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Pod",
    "PodTemplate",
    "ReplicationController",
    "ResourceQuota",
    "SecretList",
    "Service",
    "ServiceAccount",
};

// The media type of a Content-Type header, without parameters.
std::string MediaType(const ApiRequest& request) {
  auto header = request.headers.find("content-type");
  if (header == request.headers.end()) return "";
  std::string type = Lower(header->second.substr(0, header->second.find(';')));
  while (!type.empty() && type.back() == ' ') type.pop_back();
  return type;
}

// Go's quoting of one character in encoding/json syntax errors.
std::string QuoteChar(char c) {
  if (c == '\'') return "'\\''";
  if (c == '"') return "'\"'";
  if (std::isprint(static_cast<unsigned char>(c))) {
    return std::string("'") + c + "'";
  }
  char escaped[16];
  std::snprintf(escaped, sizeof(escaped), "'\\x%02x'",
                static_cast<unsigned char>(c));
  return escaped;
}

// Rewrites an nlohmann::json parse error in encoding/json's words.
// NOTE: the context after "invalid character" is inferred from nlohmann's
// message and matches Go for common mistakes only.
std::string GoSyntaxError(std::string_view text,
                          const Json::parse_error& error) {
  const std::string message = error.what();
  if (error.byte == 0 || error.byte > text.size() ||
      message.find("unexpected end of input") != std::string::npos) {
    return "unexpected end of JSON input";
  }
  const size_t position = error.byte - 1;
  // A misspelled null, true or false names the literal and the expected
  // character, as Go's scanner does.
  if (message.find("invalid literal") != std::string::npos) {
    size_t start = position;
    while (start > 0 &&
           std::isalpha(static_cast<unsigned char>(text[start - 1]))) {
      --start;
    }
    for (std::string_view literal : {"null", "true", "false"}) {
      const size_t offset = position - start;
      if (text[start] == literal[0] && offset > 0 && offset < literal.size() &&
          text.substr(start, offset) == literal.substr(0, offset)) {
        return "invalid character " + QuoteChar(text[position]) +
               " in literal " + std::string(literal) + " (expecting " +
               QuoteChar(literal[offset]) + ")";
      }
    }
  }
  std::string context = "looking for beginning of value";
  if (message.find("expected end of input") != std::string::npos) {
    context = "after top-level value";
  } else if (message.find("parsing object key") != std::string::npos) {
    context = "looking for beginning of object key string";
  } else if (message.find("parsing object separator") != std::string::npos) {
    context = "after object key";
  } else if (message.find("parsing object") != std::string::npos) {
    context = "after object key:value pair";
  } else if (message.find("parsing array") != std::string::npos) {
    context = "after array element";
  }
  return "invalid character " + QuoteChar(text[position]) + " " + context;
}

// Tracks the object keys seen at each level of a parse to find duplicates.
class DuplicateFinder {
 public:
  bool OnEvent(int depth, Json::parse_event_t event, const Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
        frames_.push_back({true, {}, "", 0});
        break;
      case Json::parse_event_t::array_start:
        frames_.push_back({false, {}, "", 0});
        break;
      case Json::parse_event_t::key: {
        Frame& top = frames_.back();
        top.key = parsed.get<std::string>();
        if (!top.keys.insert(top.key).second) duplicates_.push_back(Path());
        break;
      }
      case Json::parse_event_t::object_end:
      case Json::parse_event_t::array_end:
        frames_.pop_back();
        NextElement();
        break;
      case Json::parse_event_t::value:
        NextElement();
        break;
    }
    return true;
  }

  std::vector<std::string> duplicates() const { return duplicates_; }

 private:
  struct Frame {
    bool object;
    std::set<std::string> keys;
    std::string key;
    size_t index;
  };

  void NextElement() {
    if (!frames_.empty() && !frames_.back().object) ++frames_.back().index;
  }

  std::string Path() const {
    std::string path;
    for (const Frame& frame : frames_) {
      if (frame.object) {
        path += (path.empty() ? "" : ".") + frame.key;
      } else {
        path += "[" + std::to_string(frame.index) + "]";
      }
    }
    return path;
  }

  std::vector<Frame> frames_;
  std::vector<std::string> duplicates_;
};

// YAML 1.1 numbers, matched in one pass: std::regex recurses once per
// character, so a long scalar in a request body would overflow the stack.
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Skips characters while `accept` holds; returns where it stopped.
template <typename Pred>
size_t SkipWhile(std::string_view text, size_t i, Pred accept) {
  while (i < text.size() && accept(text[i])) ++i;
  return i;
}

size_t SkipSign(std::string_view text) {
  return !text.empty() && (text[0] == '-' || text[0] == '+') ? 1 : 0;
}

bool IsDigitOrUnderscore(char c) { return IsDigit(c) || c == '_'; }

// [-+]?(0|[1-9][0-9_]*)
bool IsYamlInteger(std::string_view text) {
  size_t i = SkipSign(text);
  if (i == text.size()) return false;
  if (text[i] == '0') return i + 1 == text.size();
  if (!IsDigit(text[i])) return false;
  return SkipWhile(text, i + 1, IsDigitOrUnderscore) == text.size();
}

// [-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?
bool IsYamlFloat(std::string_view text) {
  size_t i = SkipSign(text);
  if (i == text.size()) return false;
  if (text[i] == '.') {
    size_t end = SkipWhile(text, i + 1, IsDigit);
    if (end == i + 1) return false;
    i = end;
  } else if (IsDigit(text[i])) {
    i = SkipWhile(text, i + 1, IsDigitOrUnderscore);
    if (i < text.size() && text[i] == '.') {
      i = SkipWhile(text, i + 1, IsDigitOrUnderscore);
    }
  } else {
    return false;
  }
  if (i == text.size()) return true;
  if (text[i] != 'e' && text[i] != 'E') return false;
  ++i;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) ++i;
  size_t end = SkipWhile(text, i, IsDigit);
  return end > i && end == text.size();
}

// Resolves a plain YAML scalar as go-yaml v2 (YAML 1.1) does.
Json ResolveScalar(const YAML::Node& node) {
  const std::string& text = node.Scalar();
  if (node.Tag() == "!") return text;  // quoted
  static const std::set<std::string> kNull = {"", "~", "null", "Null", "NULL"};
  static const std::set<std::string> kTrue = {
      "y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE"};
  static const std::set<std::string> kFalse = {"n",     "N",     "no",   "No",
                                               "NO",    "off",   "Off",  "OFF",
                                               "false", "False", "FALSE"};
  if (kNull.contains(text)) return nullptr;
  if (kTrue.contains(text)) return true;
  if (kFalse.contains(text)) return false;
  if (IsYamlInteger(text)) {
    std::string digits = text;
    std::erase(digits, '_');
    try {
      return std::stoll(digits);
    } catch (const std::out_of_range&) {
    }
  }
  // go-yaml keeps a number that does not fit a float64 as a string.
  if (IsYamlFloat(text)) {
    std::string digits = text;
    std::erase(digits, '_');
    try {
      return std::stod(digits);
    } catch (const std::out_of_range&) {
    }
  }
  return text;
}

Json YamlNodeToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return ResolveScalar(node);
    case YAML::NodeType::Sequence: {
      Json array = Json::array();
      for (const YAML::Node& item : node) array.push_back(YamlNodeToJson(item));
      return array;
    }
    case YAML::NodeType::Map: {
      Json object = Json::object();
      for (const auto& entry : node) {
        object[entry.first.Scalar()] = YamlNodeToJson(entry.second);
      }
      return object;
    }
    default:
      return nullptr;
  }
}

// Go's name for a JSON value's type in "cannot unmarshal" errors.
std::string GoJsonTypeName(const Json& value) {
  if (value.is_array()) return "array";
  if (value.is_string()) return "string";
  if (value.is_number()) return "number";
  if (value.is_boolean()) return "bool";
  return "object";
}

// upstream's summarizeData: a body that starts with '{' as text, any other
// as hex, cut at 30 bytes.
std::string SummarizeBody(std::string_view body) {
  constexpr size_t kMaxSummary = 30;
  if (body.empty()) return "<empty>";
  const std::string_view head = body.substr(0, kMaxSummary);
  const std::string suffix = body.size() > kMaxSummary ? " ..." : "";
  if (body.front() == '{') return std::string(head) + suffix;
  std::string hex;
  char digits[3];
  for (unsigned char c : head) {
    std::snprintf(digits, sizeof(digits), "%02x", c);
    hex += digits;
  }
  return hex + suffix;
}

// upstream's transformDecodeError when the body named no kind.
base::Status UnrecognizedObject(const Resource& resource,
                                const std::string& cause,
                                std::string_view body) {
  return base::InvalidArgumentError(
      "the object provided is unrecognized (must be of type " + resource.kind +
          "): " + cause + " (" + SummarizeBody(body) + ")",
      "BadRequest");
}

// upstream's transformDecodeError when the body named a kind.
base::Status CannotHandle(const std::string& kind,
                          const std::string& api_version,
                          const Resource& resource, const std::string& cause) {
  const std::string version = api_version.substr(
      api_version.find('/') == std::string::npos ? 0
                                                 : api_version.find('/') + 1);
  return base::InvalidArgumentError(kind + " in version " + GoQuote(version) +
                                        " cannot be handled as a " +
                                        resource.kind + ": " + cause,
                                    "BadRequest");
}

// Checks the apiVersion and kind of a decoded body and fills in missing
// ones from the request path, as upstream's decoder defaults them.
base::Status CheckTypeMeta(const Resource& resource, Json& object) {
  std::string kind = resource.kind;
  std::string api_version = "v1";
  if (object.contains("kind") && object["kind"].is_string() &&
      !object["kind"].get<std::string>().empty()) {
    kind = object["kind"].get<std::string>();
  }
  if (object.contains("apiVersion") && object["apiVersion"].is_string() &&
      !object["apiVersion"].get<std::string>().empty()) {
    api_version = object["apiVersion"].get<std::string>();
  }
  const bool core_kind =
      kind == "Secret" || kind == "ConfigMap" || kind == "Namespace" ||
      std::ranges::find(kOtherCoreKinds, kind) != std::end(kOtherCoreKinds);
  if (api_version != "v1" || !core_kind) {
    return CannotHandle(
        kind, api_version, resource,
        "no kind " + GoQuote(kind) + " is registered for version " +
            GoQuote(api_version) + " in scheme " + GoQuote(kSchemeName));
  }
  if (kind != resource.kind) {
    // NOTE: the cause follows apimachinery's Converter text; it has not
    // been compared with a running kube-apiserver.
    return CannotHandle(kind, api_version, resource,
                        "converting (k8s.io/api/core/v1)." + kind +
                            " to (k8s.io/kubernetes/pkg/apis/core)." +
                            resource.kind + ": unknown conversion");
  }
  object["kind"] = kind;
  object["apiVersion"] = api_version;
  return base::OkStatus();
}

std::string JoinErrors(const std::vector<std::string>& errors) {
  std::string joined;
  for (const std::string& error : errors) {
    joined += (joined.empty() ? "" : ", ") + error;
  }
  return joined;
}

}  // namespace

std::string WarningHeader(const std::string& message) {
  return "299 - " + GoQuote(message);
}

base::StatusOr<ParsedJson> ParseJsonText(std::string_view text) {
  if (base::JsonNestedDeeperThan(text)) {
    // The message of Go's encoding/json for such a document.
    return base::InvalidArgumentError("exceeded max depth", "BadRequest");
  }
  DuplicateFinder finder;
  ParsedJson parsed;
  try {
    parsed.value = Json::parse(
        text,
        [&finder](int depth, Json::parse_event_t event, Json& value) {
          return finder.OnEvent(depth, event, value);
        },
        /*allow_exceptions=*/true);
  } catch (const Json::parse_error& error) {
    return base::InvalidArgumentError(GoSyntaxError(text, error), "BadRequest");
  }
  parsed.duplicate_fields = finder.duplicates();
  return parsed;
}

namespace {

void CollectDuplicateKeys(const YAML::Node& node,
                          std::vector<std::string>& duplicates) {
  if (node.IsSequence()) {
    for (const YAML::Node& item : node) CollectDuplicateKeys(item, duplicates);
    return;
  }
  if (!node.IsMap()) return;
  std::set<std::string> seen;
  for (const auto& entry : node) {
    const std::string key = entry.first.Scalar();
    if (!seen.insert(key).second) {
      duplicates.push_back("line " +
                           std::to_string(entry.first.Mark().line + 1) +
                           ": key " + GoQuote(key) + " already set in map");
    }
    CollectDuplicateKeys(entry.second, duplicates);
  }
}

}  // namespace

std::vector<std::string> YamlDuplicateKeys(std::string_view text) {
  std::vector<std::string> duplicates;
  try {
    CollectDuplicateKeys(YAML::Load(std::string(text)), duplicates);
  } catch (const YAML::Exception&) {
    // Malformed YAML fails YamlToJson, which reports it.
  }
  return duplicates;
}

base::StatusOr<Json> YamlToJson(std::string_view text) {
  try {
    return YamlNodeToJson(YAML::Load(std::string(text)));
  } catch (const YAML::Exception& error) {
    return base::InvalidArgumentError(
        "error converting YAML to JSON: yaml: line " +
            std::to_string(error.mark.line + 1) + ": " + error.msg,
        "BadRequest");
  }
}

base::StatusOr<DecodedBody> DecodeObjectBody(const ApiRequest& request,
                                             const Resource& resource,
                                             FieldValidation validation) {
  const std::string media_type = MediaType(request);
  DecodedBody decoded;
  std::vector<std::string> duplicates;
  if (media_type == kProtobufContentType) {
    ASSIGN_OR_RETURN(decoded.object, DecodeKubernetesProtobuf(request.body));
  } else if (media_type == "application/yaml") {
    base::StatusOr<Json> converted = YamlToJson(request.body);
    if (!converted.ok()) {
      return UnrecognizedObject(resource, converted.status().message(),
                                request.body);
    }
    decoded.object = std::move(*converted);
  } else if (media_type.empty() || media_type == "application/json") {
    base::StatusOr<ParsedJson> parsed = ParseJsonText(request.body);
    if (!parsed.ok()) {
      return UnrecognizedObject(
          resource,
          "couldn't get version/kind; json parse error: " +
              parsed.status().message(),
          request.body);
    }
    decoded.object = std::move(parsed->value);
    duplicates = std::move(parsed->duplicate_fields);
  } else {
    return base::InvalidArgumentError(
        "the body of the request was in an unknown format - accepted media "
        "types include: application/json, application/yaml, "
        "application/vnd.kubernetes.protobuf",
        "UnsupportedMediaType");
  }

  if (!decoded.object.is_object()) {
    return UnrecognizedObject(
        resource,
        "couldn't get version/kind; json parse error: json: cannot unmarshal " +
            GoJsonTypeName(decoded.object) +
            " into Go value of type struct { APIVersion string "
            "\"json:\\\"apiVersion,omitempty\\\"\"; Kind string "
            "\"json:\\\"kind,omitempty\\\"\" }",
        request.body);
  }
  RETURN_IF_ERROR(CheckTypeMeta(resource, decoded.object));

  std::vector<std::string> field_errors;
  for (const std::string& field :
       UnknownFields(resource.kind, decoded.object)) {
    field_errors.push_back("unknown field " + GoQuote(field));
  }
  for (const std::string& field : duplicates) {
    field_errors.push_back("duplicate field " + GoQuote(field));
  }
  if (!field_errors.empty() && validation == FieldValidation::kStrict) {
    return CannotHandle(resource.kind, "v1", resource,
                        "strict decoding error: " + JoinErrors(field_errors));
  }
  if (validation == FieldValidation::kWarn) {
    decoded.warnings = std::move(field_errors);
  }
  PruneUnknownFields(resource.kind, decoded.object);
  return decoded;
}

}  // namespace apiserver
