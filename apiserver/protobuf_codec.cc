#include "apiserver/protobuf_codec.h"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/crypto.h"

namespace apiserver {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kMagic("k8s\0", 4);

enum WireType { kVarint = 0, kFixed64 = 1, kBytes = 2, kFixed32 = 5 };

struct Field {
  uint32_t number = 0;
  WireType type = kVarint;
  uint64_t varint = 0;
  std::string_view bytes;
};

std::optional<uint64_t> ReadVarint(std::string_view& input) {
  uint64_t value = 0;
  for (int shift = 0; shift < 64 && !input.empty(); shift += 7) {
    const auto byte = static_cast<uint8_t>(input.front());
    input.remove_prefix(1);
    value |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return value;
  }
  return std::nullopt;
}

// Splits one message into its fields, in wire order.
std::optional<std::vector<Field>> ReadFields(std::string_view input) {
  std::vector<Field> fields;
  while (!input.empty()) {
    std::optional<uint64_t> tag = ReadVarint(input);
    if (!tag.has_value()) return std::nullopt;
    Field field;
    field.number = static_cast<uint32_t>(*tag >> 3);
    field.type = static_cast<WireType>(*tag & 7);
    switch (field.type) {
      case kVarint: {
        std::optional<uint64_t> value = ReadVarint(input);
        if (!value.has_value()) return std::nullopt;
        field.varint = *value;
        break;
      }
      case kFixed64:
      case kFixed32: {
        const size_t size = field.type == kFixed64 ? 8 : 4;
        if (input.size() < size) return std::nullopt;
        input.remove_prefix(size);
        break;
      }
      case kBytes: {
        std::optional<uint64_t> size = ReadVarint(input);
        if (!size.has_value() || *size > input.size()) return std::nullopt;
        field.bytes = input.substr(0, *size);
        input.remove_prefix(*size);
        break;
      }
      default:
        return std::nullopt;
    }
    fields.push_back(field);
  }
  return fields;
}

base::Status Malformed(const std::string& what) {
  return base::InvalidArgumentError(
      "failed to decode the protobuf request body: " + what, "BadRequest");
}

// Reads a map<string, string|bytes> entry: key is field 1, value field 2.
base::Status AddMapEntry(std::string_view entry, bool base64, Json& map) {
  std::optional<std::vector<Field>> fields = ReadFields(entry);
  if (!fields.has_value()) return Malformed("invalid map entry");
  std::string key;
  std::string value;
  for (const Field& field : *fields) {
    if (field.number == 1) key = field.bytes;
    if (field.number == 2) value = field.bytes;
  }
  map[key] = base64 ? base::Base64Encode(value) : value;
  return base::OkStatus();
}

// metav1.Time: seconds (1) and nanos (2); RFC 3339 at second precision.
std::optional<std::string> DecodeTime(std::string_view bytes) {
  std::optional<std::vector<Field>> fields = ReadFields(bytes);
  if (!fields.has_value()) return std::nullopt;
  int64_t seconds = 0;
  for (const Field& field : *fields) {
    if (field.number == 1) seconds = static_cast<int64_t>(field.varint);
  }
  if (seconds == 0) return std::nullopt;
  return base::FormatRfc3339(base::Time(std::chrono::seconds(seconds)));
}

base::StatusOr<Json> DecodeObjectMeta(std::string_view bytes) {
  std::optional<std::vector<Field>> fields = ReadFields(bytes);
  if (!fields.has_value()) return Malformed("invalid metadata");
  Json metadata = Json::object();
  static const std::map<uint32_t, const char*> kStrings = {
      {1, "name"}, {2, "generateName"},    {3, "namespace"},
      {5, "uid"},  {6, "resourceVersion"},
  };
  for (const Field& field : *fields) {
    auto name = kStrings.find(field.number);
    if (name != kStrings.end() && !field.bytes.empty()) {
      metadata[name->second] = field.bytes;
    } else if (field.number == 8 && field.type == kBytes) {
      if (auto time = DecodeTime(field.bytes)) {
        metadata["creationTimestamp"] = *time;
      }
    } else if (field.number == 11 || field.number == 12) {
      Json& map = metadata[field.number == 11 ? "labels" : "annotations"];
      RETURN_IF_ERROR(AddMapEntry(field.bytes, false, map));
    } else if (field.number == 14) {
      metadata["finalizers"].push_back(std::string(field.bytes));
    }
  }
  return metadata;
}

base::StatusOr<Json> DecodeObject(const std::string& kind,
                                  std::string_view raw) {
  std::optional<std::vector<Field>> fields = ReadFields(raw);
  if (!fields.has_value()) return Malformed("invalid " + kind);
  Json object = {{"apiVersion", "v1"}, {"kind", kind}};
  for (const Field& field : *fields) {
    if (field.number == 1) {
      ASSIGN_OR_RETURN(object["metadata"], DecodeObjectMeta(field.bytes));
      continue;
    }
    if (kind == "Secret") {
      if (field.number == 2) {
        RETURN_IF_ERROR(AddMapEntry(field.bytes, true, object["data"]));
      } else if (field.number == 3 && !field.bytes.empty()) {
        object["type"] = field.bytes;
      } else if (field.number == 4) {
        RETURN_IF_ERROR(AddMapEntry(field.bytes, false, object["stringData"]));
      } else if (field.number == 5) {
        object["immutable"] = field.varint != 0;
      }
    } else if (kind == "ConfigMap") {
      if (field.number == 2) {
        RETURN_IF_ERROR(AddMapEntry(field.bytes, false, object["data"]));
      } else if (field.number == 3) {
        RETURN_IF_ERROR(AddMapEntry(field.bytes, true, object["binaryData"]));
      } else if (field.number == 4) {
        object["immutable"] = field.varint != 0;
      }
    } else if (kind == "Namespace" && field.number == 2) {
      std::optional<std::vector<Field>> spec = ReadFields(field.bytes);
      if (!spec.has_value()) return Malformed("invalid spec");
      for (const Field& finalizer : *spec) {
        if (finalizer.number == 1) {
          object["spec"]["finalizers"].push_back(std::string(finalizer.bytes));
        }
      }
    }
  }
  return object;
}

}  // namespace

base::StatusOr<Json> DecodeKubernetesProtobuf(std::string_view body) {
  if (!body.starts_with(kMagic)) {
    return Malformed("the body does not start with the \"k8s\\x00\" prefix");
  }
  body.remove_prefix(kMagic.size());
  std::optional<std::vector<Field>> unknown = ReadFields(body);
  if (!unknown.has_value()) return Malformed("invalid runtime.Unknown");
  std::string api_version;
  std::string kind;
  std::string_view raw;
  for (const Field& field : *unknown) {
    if (field.number == 1) {
      std::optional<std::vector<Field>> type_meta = ReadFields(field.bytes);
      if (!type_meta.has_value()) return Malformed("invalid TypeMeta");
      for (const Field& part : *type_meta) {
        if (part.number == 1) api_version = part.bytes;
        if (part.number == 2) kind = part.bytes;
      }
    } else if (field.number == 2) {
      raw = field.bytes;
    }
  }
  if (api_version != "v1" ||
      (kind != "Secret" && kind != "ConfigMap" && kind != "Namespace")) {
    return Malformed("unsupported object " + api_version + "/" + kind);
  }
  return DecodeObject(kind, raw);
}

}  // namespace apiserver
