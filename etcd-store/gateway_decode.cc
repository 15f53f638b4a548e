// Request decoding of the etcd JSON gateway, following grpc-gateway v1 and
// golang/protobuf's jsonpb as etcd 3.4 uses them. json.Decoder reads the
// body. jsonpb then reads the fields of each message in proto field order
// and hands every scalar to json.Unmarshal, whose errors it returns.
#include <cctype>
#include <charconv>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "etcd-store/gateway_json.h"
#include "etcd-store/go_json.h"
#include "etcd-store/proto_enums_internal.h"

namespace etcd::gateway_internal {
namespace {

base::Status Invalid(std::string message) {
  return base::InvalidArgumentError(std::move(message));
}

// Go's UnmarshalTypeError message for `what` ("string", "number 1.5", ...).
base::Status TypeError(std::string_view what, std::string_view go_type) {
  return Invalid("json: cannot unmarshal " + std::string(what) +
                 " into Go value of type " + std::string(go_type));
}

base::Status TypeError(const JsonValue& value, std::string_view go_type) {
  return TypeError(value.KindName(), go_type);
}

std::string ToLowerCamel(std::string_view name) {
  std::string out;
  bool upper = false;
  for (char c : name) {
    if (c == '_') {
      upper = true;
      continue;
    }
    out.push_back(upper ? static_cast<char>(std::toupper(c)) : c);
    upper = false;
  }
  return out;
}

// Finds a field by its proto name, else by its JSON name, as jsonpb does;
// null counts as absent.
const JsonValue* Lookup(const JsonValue& object, std::string_view name) {
  const JsonValue* value = object.Find(name);
  if (value == nullptr) value = object.Find(ToLowerCamel(name));
  if (value == nullptr || value->kind == JsonValue::Kind::kNull) {
    return nullptr;
  }
  return value;
}

// json.Unmarshal of a number literal into a Go integer type.
template <typename Int>
base::StatusOr<Int> NumberAs(const JsonValue& number,
                             std::string_view go_type) {
  Int result = 0;
  const std::string& raw = number.raw;
  auto [end, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), result);
  if (ec != std::errc() || end != raw.data() + raw.size()) {
    return TypeError("number " + raw, go_type);
  }
  return result;
}

base::StatusOr<int64_t> ReadInt64(const JsonValue& object,
                                  std::string_view name) {
  const JsonValue* value = Lookup(object, name);
  if (value == nullptr) return int64_t{0};
  if (value->kind == JsonValue::Kind::kNumber) {
    return NumberAs<int64_t>(*value, "int64");
  }
  if (value->kind != JsonValue::Kind::kString) {
    return TypeError(*value, "int64");
  }

  // jsonpb drops the quotes of the raw text and unmarshals what is left.
  std::string_view inner(value->raw);
  inner = inner.substr(1, inner.size() - 2);
  ASSIGN_OR_RETURN(JsonValue unquoted, ParseWholeValue(inner));
  if (unquoted.kind == JsonValue::Kind::kNull) return int64_t{0};
  if (unquoted.kind != JsonValue::Kind::kNumber) {
    return TypeError(unquoted, "int64");
  }
  return NumberAs<int64_t>(unquoted, "int64");
}

base::StatusOr<bool> ReadBool(const JsonValue& object, std::string_view name) {
  const JsonValue* value = Lookup(object, name);
  if (value == nullptr) return false;
  if (value->kind != JsonValue::Kind::kBool) return TypeError(*value, "bool");
  return value->boolean;
}

base::StatusOr<std::string> ReadBytes(const JsonValue& object,
                                      std::string_view name) {
  const JsonValue* value = Lookup(object, name);
  if (value == nullptr) return std::string();
  if (value->kind == JsonValue::Kind::kString) {
    return DecodeGoBase64(value->text);
  }
  if (value->kind != JsonValue::Kind::kArray) {
    return TypeError(*value, "[]uint8");
  }
  // Go also fills a []byte from an array of numbers.
  std::string bytes;
  for (const JsonValue& item : value->items) {
    if (item.kind == JsonValue::Kind::kNull) {
      bytes.push_back('\0');
      continue;
    }
    if (item.kind != JsonValue::Kind::kNumber) return TypeError(item, "uint8");
    ASSIGN_OR_RETURN(uint8_t byte, NumberAs<uint8_t>(item, "uint8"));
    bytes.push_back(static_cast<char>(byte));
  }
  return bytes;
}

// jsonpb's enum handling: a name, else whatever json.Unmarshal makes of the
// value as an int32. jsonpb looks names up without unquoting them, so an
// escaped name is unknown.
template <size_t N>
base::StatusOr<int> ReadEnumValue(const JsonValue& value,
                                  const std::array<std::string_view, N>& names,
                                  std::string_view go_type) {
  if (value.kind == JsonValue::Kind::kString) {
    std::string_view name(value.raw);
    name = name.substr(1, name.size() - 2);
    for (size_t i = 0; i < N; ++i) {
      if (names[i] == name) return static_cast<int>(i);
    }
    return Invalid("unknown value " + GoQuote(name) + " for enum " +
                   std::string(go_type));
  }
  if (value.kind != JsonValue::Kind::kNumber) return TypeError(value, go_type);
  return NumberAs<int32_t>(value, go_type);
}

template <size_t N>
base::StatusOr<int> ReadEnum(const JsonValue& object, std::string_view name,
                             const std::array<std::string_view, N>& names,
                             std::string_view go_type) {
  const JsonValue* value = Lookup(object, name);
  if (value == nullptr) return 0;
  return ReadEnumValue(*value, names, go_type);
}

constexpr std::string_view kMessageType = "map[string]json.RawMessage";

// Returns the nested message, or nullptr when absent.
base::StatusOr<const JsonValue*> ReadMessage(const JsonValue& object,
                                             std::string_view name) {
  const JsonValue* value = Lookup(object, name);
  if (value == nullptr) return value;
  if (!value->is_object()) return TypeError(*value, kMessageType);
  return value;
}

base::StatusOr<std::vector<const JsonValue*>> ReadRepeated(
    const JsonValue& object, std::string_view name) {
  std::vector<const JsonValue*> items;
  const JsonValue* value = Lookup(object, name);
  if (value == nullptr) return items;
  if (value->kind != JsonValue::Kind::kArray) {
    return TypeError(*value, "[]json.RawMessage");
  }
  for (const JsonValue& item : value->items) {
    if (!item.is_object()) return TypeError(item, kMessageType);
    items.push_back(&item);
  }
  return items;
}

using proto_enums::kCompareResults;
using proto_enums::kCompareTargets;
using proto_enums::kFilterTypes;
using proto_enums::kSortOrders;
using proto_enums::kSortTargets;

base::StatusOr<Compare> DecodeCompare(const JsonValue& object) {
  Compare compare;
  ASSIGN_OR_RETURN(int result, ReadEnum(object, "result", kCompareResults,
                                        "etcdserverpb.Compare_CompareResult"));
  ASSIGN_OR_RETURN(int target, ReadEnum(object, "target", kCompareTargets,
                                        "etcdserverpb.Compare_CompareTarget"));
  // Unknown numbers fall back to the zero value rather than crash.
  if (result < 0 || result > 3) result = 0;
  if (target < 0 || target > 4) target = 0;
  compare.result = static_cast<Compare::Result>(result);
  compare.target = static_cast<Compare::Target>(target);
  ASSIGN_OR_RETURN(compare.key, ReadBytes(object, "key"));
  ASSIGN_OR_RETURN(compare.range_end, ReadBytes(object, "range_end"));
  ASSIGN_OR_RETURN(compare.version, ReadInt64(object, "version"));
  ASSIGN_OR_RETURN(compare.create_revision,
                   ReadInt64(object, "create_revision"));
  ASSIGN_OR_RETURN(compare.mod_revision, ReadInt64(object, "mod_revision"));
  ASSIGN_OR_RETURN(compare.value, ReadBytes(object, "value"));
  ASSIGN_OR_RETURN(compare.lease, ReadInt64(object, "lease"));
  return compare;
}

base::StatusOr<std::vector<RequestOp>> DecodeRequestOps(const JsonValue& object,
                                                        std::string_view name) {
  ASSIGN_OR_RETURN(std::vector<const JsonValue*> items,
                   ReadRepeated(object, name));
  std::vector<RequestOp> ops;
  for (const JsonValue* item : items) {
    RequestOp op;
    ASSIGN_OR_RETURN(const JsonValue* range,
                     ReadMessage(*item, "request_range"));
    ASSIGN_OR_RETURN(const JsonValue* put, ReadMessage(*item, "request_put"));
    ASSIGN_OR_RETURN(const JsonValue* del,
                     ReadMessage(*item, "request_delete_range"));
    ASSIGN_OR_RETURN(const JsonValue* txn, ReadMessage(*item, "request_txn"));
    if (range != nullptr) {
      ASSIGN_OR_RETURN(op.request, DecodeRangeRequest(*range));
    } else if (put != nullptr) {
      ASSIGN_OR_RETURN(op.request, DecodePutRequest(*put));
    } else if (del != nullptr) {
      ASSIGN_OR_RETURN(op.request, DecodeDeleteRangeRequest(*del));
    } else if (txn != nullptr) {
      ASSIGN_OR_RETURN(TxnRequest nested, DecodeTxnRequest(*txn));
      op.request = std::make_shared<const TxnRequest>(std::move(nested));
    } else {
      // An empty RequestOp, which the store rejects as etcd does.
      op.request = std::shared_ptr<const TxnRequest>();
    }
    ops.push_back(std::move(op));
  }
  return ops;
}

// jsonpb unmarshals a message into map[string]json.RawMessage first, which
// takes null as an empty message and rejects every other non-object.
base::StatusOr<JsonValue> AsMessage(JsonValue value) {
  if (value.kind == JsonValue::Kind::kNull) {
    value.kind = JsonValue::Kind::kObject;
    return value;
  }
  if (!value.is_object()) return TypeError(value, kMessageType);
  return value;
}

}  // namespace

base::StatusOr<JsonValue> ParseBody(std::string_view body) {
  // Go's decoder reads one value and ignores the rest of the body.
  ASSIGN_OR_RETURN(DecodedValue decoded,
                   DecodeNextValue(body, /*at_end=*/true));
  if (!decoded.value) {
    // grpc-gateway takes an empty body as an empty message.
    JsonValue empty;
    empty.kind = JsonValue::Kind::kObject;
    return empty;
  }
  return AsMessage(std::move(*decoded.value));
}

base::StatusOr<std::optional<JsonValue>> TakeMessage(std::string& pending,
                                                     bool body_done) {
  ASSIGN_OR_RETURN(DecodedValue decoded, DecodeNextValue(pending, body_done));
  if (decoded.need_more) return std::optional<JsonValue>();
  pending.erase(0, decoded.consumed);
  if (!decoded.value) return std::optional<JsonValue>();
  ASSIGN_OR_RETURN(JsonValue message, AsMessage(std::move(*decoded.value)));
  return std::optional<JsonValue>(std::move(message));
}

base::StatusOr<RangeRequest> DecodeRangeRequest(const JsonValue& object) {
  RangeRequest request;
  ASSIGN_OR_RETURN(request.key, ReadBytes(object, "key"));
  ASSIGN_OR_RETURN(request.range_end, ReadBytes(object, "range_end"));
  ASSIGN_OR_RETURN(request.limit, ReadInt64(object, "limit"));
  ASSIGN_OR_RETURN(request.revision, ReadInt64(object, "revision"));
  ASSIGN_OR_RETURN(int order, ReadEnum(object, "sort_order", kSortOrders,
                                       "etcdserverpb.RangeRequest_SortOrder"));
  ASSIGN_OR_RETURN(int target,
                   ReadEnum(object, "sort_target", kSortTargets,
                            "etcdserverpb.RangeRequest_SortTarget"));
  request.sort_order = order >= 0 && order <= 2 ? static_cast<SortOrder>(order)
                                                : SortOrder::kNone;
  request.sort_target = target >= 0 && target <= 4
                            ? static_cast<SortTarget>(target)
                            : SortTarget::kKey;
  ASSIGN_OR_RETURN(request.serializable, ReadBool(object, "serializable"));
  ASSIGN_OR_RETURN(request.keys_only, ReadBool(object, "keys_only"));
  ASSIGN_OR_RETURN(request.count_only, ReadBool(object, "count_only"));
  ASSIGN_OR_RETURN(request.min_mod_revision,
                   ReadInt64(object, "min_mod_revision"));
  ASSIGN_OR_RETURN(request.max_mod_revision,
                   ReadInt64(object, "max_mod_revision"));
  ASSIGN_OR_RETURN(request.min_create_revision,
                   ReadInt64(object, "min_create_revision"));
  ASSIGN_OR_RETURN(request.max_create_revision,
                   ReadInt64(object, "max_create_revision"));
  return request;
}

base::StatusOr<PutRequest> DecodePutRequest(const JsonValue& object) {
  PutRequest request;
  ASSIGN_OR_RETURN(request.key, ReadBytes(object, "key"));
  ASSIGN_OR_RETURN(request.value, ReadBytes(object, "value"));
  ASSIGN_OR_RETURN(request.lease, ReadInt64(object, "lease"));
  ASSIGN_OR_RETURN(request.prev_kv, ReadBool(object, "prev_kv"));
  ASSIGN_OR_RETURN(request.ignore_value, ReadBool(object, "ignore_value"));
  ASSIGN_OR_RETURN(request.ignore_lease, ReadBool(object, "ignore_lease"));
  return request;
}

base::StatusOr<DeleteRangeRequest> DecodeDeleteRangeRequest(
    const JsonValue& object) {
  DeleteRangeRequest request;
  ASSIGN_OR_RETURN(request.key, ReadBytes(object, "key"));
  ASSIGN_OR_RETURN(request.range_end, ReadBytes(object, "range_end"));
  ASSIGN_OR_RETURN(request.prev_kv, ReadBool(object, "prev_kv"));
  return request;
}

base::StatusOr<TxnRequest> DecodeTxnRequest(const JsonValue& object) {
  TxnRequest request;
  ASSIGN_OR_RETURN(std::vector<const JsonValue*> compares,
                   ReadRepeated(object, "compare"));
  for (const JsonValue* item : compares) {
    ASSIGN_OR_RETURN(Compare compare, DecodeCompare(*item));
    request.compare.push_back(std::move(compare));
  }
  ASSIGN_OR_RETURN(request.success, DecodeRequestOps(object, "success"));
  ASSIGN_OR_RETURN(request.failure, DecodeRequestOps(object, "failure"));
  return request;
}

base::StatusOr<int64_t> DecodeCompactionRequest(const JsonValue& object) {
  ASSIGN_OR_RETURN(int64_t revision, ReadInt64(object, "revision"));
  // NOTE: "physical" is accepted and ignored: compaction here is always
  // durable when it returns.
  RETURN_IF_ERROR(ReadBool(object, "physical").status());
  return revision;
}

base::StatusOr<LeaseGrantRequest> DecodeLeaseGrantRequest(
    const JsonValue& object) {
  LeaseGrantRequest request;
  ASSIGN_OR_RETURN(request.ttl, ReadInt64(object, "TTL"));
  ASSIGN_OR_RETURN(request.id, ReadInt64(object, "ID"));
  return request;
}

base::StatusOr<int64_t> DecodeLeaseId(const JsonValue& object) {
  return ReadInt64(object, "ID");
}

base::StatusOr<LeaseTimeToLiveRequest> DecodeLeaseTimeToLiveRequest(
    const JsonValue& object) {
  LeaseTimeToLiveRequest request;
  ASSIGN_OR_RETURN(request.id, ReadInt64(object, "ID"));
  ASSIGN_OR_RETURN(request.keys, ReadBool(object, "keys"));
  return request;
}

base::StatusOr<WatchStreamRequest> DecodeWatchRequest(const JsonValue& object) {
  WatchStreamRequest request;
  ASSIGN_OR_RETURN(const JsonValue* create,
                   ReadMessage(object, "create_request"));
  ASSIGN_OR_RETURN(const JsonValue* cancel,
                   ReadMessage(object, "cancel_request"));
  ASSIGN_OR_RETURN(const JsonValue* progress,
                   ReadMessage(object, "progress_request"));
  if (create != nullptr) {
    request.kind = WatchStreamRequest::Kind::kCreate;
    WatchRequest& watch = request.create;
    ASSIGN_OR_RETURN(watch.key, ReadBytes(*create, "key"));
    ASSIGN_OR_RETURN(watch.range_end, ReadBytes(*create, "range_end"));
    ASSIGN_OR_RETURN(watch.start_revision,
                     ReadInt64(*create, "start_revision"));
    ASSIGN_OR_RETURN(watch.progress_notify,
                     ReadBool(*create, "progress_notify"));
    if (const JsonValue* filters = Lookup(*create, "filters")) {
      constexpr std::string_view kFilterType =
          "etcdserverpb.WatchCreateRequest_FilterType";
      if (filters->kind == JsonValue::Kind::kString) {
        // jsonpb reads a string as one enum name before it checks whether
        // the field is repeated.
        RETURN_IF_ERROR(
            ReadEnumValue(*filters, kFilterTypes, kFilterType).status());
        return Invalid("invalid target \"slice\" for enum " +
                       std::string(kFilterType));
      }
      if (filters->kind != JsonValue::Kind::kArray) {
        return TypeError(*filters, "[]json.RawMessage");
      }
      for (const JsonValue& filter : filters->items) {
        ASSIGN_OR_RETURN(int type,
                         ReadEnumValue(filter, kFilterTypes, kFilterType));
        if (type == 0) watch.filter_put = true;
        if (type == 1) watch.filter_delete = true;
      }
    }
    ASSIGN_OR_RETURN(watch.prev_kv, ReadBool(*create, "prev_kv"));
    ASSIGN_OR_RETURN(request.watch_id, ReadInt64(*create, "watch_id"));
    // NOTE: "fragment" is checked and ignored: responses are never split,
    // where etcd splits one that exceeds its request size limit.
    RETURN_IF_ERROR(ReadBool(*create, "fragment").status());
  } else if (cancel != nullptr) {
    request.kind = WatchStreamRequest::Kind::kCancel;
    ASSIGN_OR_RETURN(request.watch_id, ReadInt64(*cancel, "watch_id"));
  } else if (progress != nullptr) {
    request.kind = WatchStreamRequest::Kind::kProgress;
  }
  return request;
}

}  // namespace etcd::gateway_internal
