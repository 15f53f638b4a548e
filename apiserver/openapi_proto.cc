// EncodeOpenApiV2Protobuf: a swagger 2.0 JSON document in the protobuf wire
// form of gnostic's openapi_v2 messages (github.com/google/gnostic-models,
// openapiv2/OpenAPIv2.proto). Field numbers below are that file's.
#include <cstdint>
#include <string>

#include "apiserver/openapi.h"

namespace apiserver {
namespace {

using Json = nlohmann::json;

void AppendVarint(uint64_t value, std::string& out) {
  while (value >= 0x80) {
    out += static_cast<char>((value & 0x7f) | 0x80);
    value >>= 7;
  }
  out += static_cast<char>(value);
}

// Appends a length-delimited field (wire type 2).
void AppendBytes(uint32_t number, const std::string& bytes, std::string& out) {
  AppendVarint((static_cast<uint64_t>(number) << 3) | 2, out);
  AppendVarint(bytes.size(), out);
  out += bytes;
}

// Appends a string field unless it is empty, as proto3 omits defaults.
void AppendString(uint32_t number, const Json& object, const char* key,
                  std::string& out) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return;
  const std::string value = it->get<std::string>();
  if (!value.empty()) AppendBytes(number, value, out);
}

void AppendBool(uint32_t number, const Json& object, const char* key,
                std::string& out) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_boolean() || !it->get<bool>()) return;
  AppendVarint(static_cast<uint64_t>(number) << 3, out);
  AppendVarint(1, out);
}

void AppendStrings(uint32_t number, const Json& object, const char* key,
                   std::string& out) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_array()) return;
  for (const Json& value : *it) {
    if (value.is_string()) AppendBytes(number, value.get<std::string>(), out);
  }
}

// Any {yaml = 2}: JSON text is valid YAML, which gnostic's readers parse.
std::string EncodeAny(const Json& value) {
  std::string out;
  AppendBytes(
      2, value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
      out);
  return out;
}

// NamedAny {name = 1, value = 2} for every "x-" key of `object`.
void AppendVendorExtensions(uint32_t number, const Json& object,
                            std::string& out) {
  for (const auto& [key, value] : object.items()) {
    if (!key.starts_with("x-")) continue;
    std::string named;
    AppendBytes(1, key, named);
    AppendBytes(2, EncodeAny(value), named);
    AppendBytes(number, named, out);
  }
}

std::string EncodeSchema(const Json& schema);

// Properties and Definitions: repeated NamedSchema {name = 1, value = 2}.
std::string EncodeNamedSchemas(const Json& schemas) {
  std::string out;
  for (const auto& [name, schema] : schemas.items()) {
    std::string named;
    AppendBytes(1, name, named);
    AppendBytes(2, EncodeSchema(schema), named);
    AppendBytes(1, named, out);
  }
  return out;
}

std::string EncodeSchema(const Json& schema) {
  std::string out;
  AppendString(1, schema, "$ref", out);
  AppendString(2, schema, "format", out);
  AppendString(3, schema, "title", out);
  AppendString(4, schema, "description", out);
  if (schema.contains("default")) {
    AppendBytes(5, EncodeAny(schema["default"]), out);
  }
  AppendStrings(19, schema, "required", out);
  if (auto it = schema.find("enum"); it != schema.end() && it->is_array()) {
    for (const Json& value : *it) AppendBytes(20, EncodeAny(value), out);
  }
  if (auto it = schema.find("additionalProperties");
      it != schema.end() && it->is_object()) {
    // AdditionalPropertiesItem {schema = 1}.
    std::string item;
    AppendBytes(1, EncodeSchema(*it), item);
    AppendBytes(21, item, out);
  }
  if (auto it = schema.find("type"); it != schema.end() && it->is_string()) {
    // TypeItem {repeated value = 1}.
    std::string item;
    AppendBytes(1, it->get<std::string>(), item);
    AppendBytes(22, item, out);
  }
  if (auto it = schema.find("items"); it != schema.end() && it->is_object()) {
    // ItemsItem {repeated schema = 1}.
    std::string item;
    AppendBytes(1, EncodeSchema(*it), item);
    AppendBytes(23, item, out);
  }
  if (auto it = schema.find("allOf"); it != schema.end() && it->is_array()) {
    for (const Json& part : *it) AppendBytes(24, EncodeSchema(part), out);
  }
  if (auto it = schema.find("properties");
      it != schema.end() && it->is_object()) {
    AppendBytes(25, EncodeNamedSchemas(*it), out);
  }
  AppendVendorExtensions(31, schema, out);
  return out;
}

// ParametersItem {parameter = 1}: Parameter {body_parameter = 1 |
// non_body_parameter = 2}.
std::string EncodeParameter(const Json& parameter) {
  const std::string in = parameter.value("in", "");
  std::string inner;
  if (in == "body") {
    // BodyParameter {description 1, name 2, in 3, required 4, schema 5}.
    AppendString(1, parameter, "description", inner);
    AppendString(2, parameter, "name", inner);
    AppendString(3, parameter, "in", inner);
    AppendBool(4, parameter, "required", inner);
    AppendBytes(5, EncodeSchema(parameter.value("schema", Json::object())),
                inner);
    std::string wrapped;
    AppendBytes(1, inner, wrapped);
    inner = wrapped;
  } else {
    // QueryParameterSubSchema {required 1, in 2, description 3, name 4,
    // type 6, unique_items 20} or PathParameterSubSchema {required 1, in 2,
    // description 3, name 4, type 5, unique_items 19}, inside
    // NonBodyParameter {query = 3 | path = 4}.
    const bool path = in == "path";
    AppendBool(1, parameter, "required", inner);
    AppendString(2, parameter, "in", inner);
    AppendString(3, parameter, "description", inner);
    AppendString(4, parameter, "name", inner);
    AppendString(path ? 5 : 6, parameter, "type", inner);
    AppendBool(path ? 19 : 20, parameter, "uniqueItems", inner);
    std::string non_body;
    AppendBytes(path ? 4 : 3, inner, non_body);
    inner.clear();
    AppendBytes(2, non_body, inner);
  }
  std::string item;
  AppendBytes(1, inner, item);
  return item;
}

// Responses {repeated NamedResponseValue response_code = 1}, where
// ResponseValue {response = 1}: Response {description 1, schema 2}, and
// schema is SchemaItem {schema = 1}.
std::string EncodeResponses(const Json& responses) {
  std::string out;
  for (const auto& [code, response] : responses.items()) {
    std::string body;
    AppendString(1, response, "description", body);
    if (response.contains("schema")) {
      std::string schema_item;
      AppendBytes(1, EncodeSchema(response["schema"]), schema_item);
      AppendBytes(2, schema_item, body);
    }
    std::string value;
    AppendBytes(1, body, value);
    std::string named;
    AppendBytes(1, code, named);
    AppendBytes(2, value, named);
    AppendBytes(1, named, out);
  }
  return out;
}

// Operation {tags 1, description 3, operation_id 5, produces 6, consumes 7,
// parameters 8, responses 9, schemes 10, vendor_extension 13}.
std::string EncodeOperation(const Json& operation) {
  std::string out;
  AppendStrings(1, operation, "tags", out);
  AppendString(3, operation, "description", out);
  AppendString(5, operation, "operationId", out);
  AppendStrings(6, operation, "produces", out);
  AppendStrings(7, operation, "consumes", out);
  for (const Json& parameter : operation.value("parameters", Json::array())) {
    AppendBytes(8, EncodeParameter(parameter), out);
  }
  if (operation.contains("responses")) {
    AppendBytes(9, EncodeResponses(operation["responses"]), out);
  }
  AppendStrings(10, operation, "schemes", out);
  AppendVendorExtensions(13, operation, out);
  return out;
}

// PathItem {get 2, put 3, post 4, delete 5, patch 8, parameters 9}.
std::string EncodePathItem(const Json& item) {
  static const std::pair<const char*, uint32_t> kMethods[] = {
      {"get", 2}, {"put", 3}, {"post", 4}, {"delete", 5}, {"patch", 8}};
  std::string out;
  for (const auto& [method, number] : kMethods) {
    if (item.contains(method)) {
      AppendBytes(number, EncodeOperation(item[method]), out);
    }
  }
  for (const Json& parameter : item.value("parameters", Json::array())) {
    AppendBytes(9, EncodeParameter(parameter), out);
  }
  return out;
}

// Paths {repeated NamedPathItem path = 2}.
std::string EncodePaths(const Json& paths) {
  std::string out;
  for (const auto& [path, item] : paths.items()) {
    std::string named;
    AppendBytes(1, path, named);
    AppendBytes(2, EncodePathItem(item), named);
    AppendBytes(2, named, out);
  }
  return out;
}

}  // namespace

// Document {swagger 1, info 2, paths 8, definitions 9}, Info {title 1,
// version 2}.
std::string EncodeOpenApiV2Protobuf(const Json& document) {
  std::string out;
  AppendString(1, document, "swagger", out);
  if (auto info = document.find("info"); info != document.end()) {
    std::string encoded;
    AppendString(1, *info, "title", encoded);
    AppendString(2, *info, "version", encoded);
    AppendBytes(2, encoded, out);
  }
  if (auto paths = document.find("paths"); paths != document.end()) {
    AppendBytes(8, EncodePaths(*paths), out);
  }
  if (auto definitions = document.find("definitions");
      definitions != document.end()) {
    AppendBytes(9, EncodeNamedSchemas(*definitions), out);
  }
  return out;
}

}  // namespace apiserver
