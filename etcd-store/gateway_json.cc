#include "etcd-store/gateway_json.h"

#include <charconv>
#include <cstdio>
#include <memory>
#include <sstream>
#include <string>
#include <utility>

#include "base/crypto.h"

namespace etcd::gateway_internal {
namespace {

using json = nlohmann::json;

// ---- Decoding ----

base::Status Invalid(std::string message) {
  return base::InvalidArgumentError(std::move(message));
}

std::string JsonKind(const json& value) {
  if (value.is_string()) return "string";
  if (value.is_number()) return "number";
  if (value.is_boolean()) return "bool";
  if (value.is_array()) return "array";
  return "object";
}

// Go's encoding/json message for a value of the wrong JSON type.
base::Status TypeError(const json& value, std::string_view go_type) {
  return Invalid("json: cannot unmarshal " + JsonKind(value) +
                 " into Go value of type " + std::string(go_type));
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

// Finds a field by its proto name or its JSON name; null counts as absent.
const json* Lookup(const json& object, std::string_view name) {
  auto it = object.find(std::string(name));
  if (it == object.end()) it = object.find(ToLowerCamel(name));
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

// Go's base64.StdEncoding.Decode, including where it reports an error.
base::StatusOr<std::string> DecodeGoBase64(std::string_view text) {
  auto error = [](size_t at) {
    return Invalid("illegal base64 data at input byte " + std::to_string(at));
  };
  base::StatusOr<std::string> decoded = base::Base64Decode(text);
  if (decoded.ok()) return decoded;
  // Locate the error as Go does: the first invalid character, or the start
  // of an incomplete final quantum.
  constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '=') {
      size_t in_quantum = i % 4;
      if (in_quantum < 2) return error(i);
      if (in_quantum == 2 && (i + 1 >= text.size() || text[i + 1] != '=')) {
        return error(i + 1 >= text.size() ? i : i + 1);
      }
      if (i + (in_quantum == 2 ? 2 : 1) < text.size()) {
        return error(i + (in_quantum == 2 ? 2 : 1));
      }
      break;
    }
    if (kAlphabet.find(text[i]) == std::string_view::npos) return error(i);
  }
  return error(text.size() - text.size() % 4);
}

base::StatusOr<int64_t> ReadInt64(const json& object, std::string_view name) {
  const json* value = Lookup(object, name);
  if (value == nullptr) return int64_t{0};
  if (value->is_number_integer()) return value->get<int64_t>();
  if (value->is_number_float()) {
    double d = value->get<double>();
    if (d == static_cast<double>(static_cast<int64_t>(d))) {
      return static_cast<int64_t>(d);
    }
    return TypeError(*value, "int64");
  }
  if (!value->is_string()) return TypeError(*value, "int64");

  // jsonpb parses the quoted text as a JSON number.
  const std::string& text = value->get_ref<const std::string&>();
  if (text.empty()) return Invalid("unexpected end of JSON input");
  int64_t result = 0;
  auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), result);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return Invalid(std::string("invalid character '") + text[0] +
                   "' looking for beginning of value");
  }
  return result;
}

base::StatusOr<bool> ReadBool(const json& object, std::string_view name) {
  const json* value = Lookup(object, name);
  if (value == nullptr) return false;
  if (!value->is_boolean()) return TypeError(*value, "bool");
  return value->get<bool>();
}

base::StatusOr<std::string> ReadBytes(const json& object,
                                      std::string_view name) {
  const json* value = Lookup(object, name);
  if (value == nullptr) return std::string();
  if (!value->is_string()) return TypeError(*value, "[]uint8");
  return DecodeGoBase64(value->get_ref<const std::string&>());
}

template <size_t N>
base::StatusOr<int> ReadEnum(const json& object, std::string_view name,
                             const std::array<std::string_view, N>& names,
                             std::string_view go_type) {
  const json* value = Lookup(object, name);
  if (value == nullptr) return 0;
  if (value->is_number_integer()) return value->get<int>();
  if (value->is_string()) {
    const std::string& text = value->get_ref<const std::string&>();
    for (size_t i = 0; i < N; ++i) {
      if (names[i] == text) return static_cast<int>(i);
    }
    return Invalid("unknown value \"" + text + "\" for enum " +
                   std::string(go_type));
  }
  return TypeError(*value, go_type);
}

// Returns the nested message, or nullptr when absent.
base::StatusOr<const json*> ReadMessage(const json& object,
                                        std::string_view name) {
  const json* value = Lookup(object, name);
  if (value == nullptr) return static_cast<const json*>(nullptr);
  if (!value->is_object()) {
    return TypeError(*value, "map[string]json.RawMessage");
  }
  return value;
}

base::StatusOr<std::vector<const json*>> ReadRepeated(const json& object,
                                                      std::string_view name) {
  std::vector<const json*> items;
  const json* value = Lookup(object, name);
  if (value == nullptr) return items;
  if (!value->is_array()) return TypeError(*value, "[]json.RawMessage");
  for (const json& item : *value) {
    if (!item.is_object()) return TypeError(item, "map[string]json.RawMessage");
    items.push_back(&item);
  }
  return items;
}

constexpr std::array<std::string_view, 3> kSortOrders = {"NONE", "ASCEND",
                                                         "DESCEND"};
constexpr std::array<std::string_view, 5> kSortTargets = {
    "KEY", "VERSION", "CREATE", "MOD", "VALUE"};
constexpr std::array<std::string_view, 4> kCompareResults = {
    "EQUAL", "GREATER", "LESS", "NOT_EQUAL"};
constexpr std::array<std::string_view, 5> kCompareTargets = {
    "VERSION", "CREATE", "MOD", "VALUE", "LEASE"};
constexpr std::array<std::string_view, 2> kFilterTypes = {"NOPUT", "NODELETE"};
constexpr std::array<std::string_view, 2> kEventTypes = {"PUT", "DELETE"};

base::StatusOr<Compare> DecodeCompare(const json& object) {
  Compare compare;
  ASSIGN_OR_RETURN(int result, ReadEnum(object, "result", kCompareResults,
                                        "etcdserverpb.Compare_CompareResult"));
  ASSIGN_OR_RETURN(int target, ReadEnum(object, "target", kCompareTargets,
                                        "etcdserverpb.Compare_CompareTarget"));
  // Unknown numbers fall back to the zero value rather than crash.
  if (result < 0 || result > 3) result = 0;
  if (target < 0 || target > 4) target = 0;
  // The proto enum order differs from Compare::Result's.
  constexpr Compare::Result kResults[] = {
      Compare::Result::kEqual, Compare::Result::kGreater,
      Compare::Result::kLess, Compare::Result::kNotEqual};
  constexpr Compare::Target kTargets[] = {
      Compare::Target::kVersion, Compare::Target::kCreate,
      Compare::Target::kMod, Compare::Target::kValue, Compare::Target::kLease};
  compare.result = kResults[result];
  compare.target = kTargets[target];
  ASSIGN_OR_RETURN(compare.key, ReadBytes(object, "key"));
  ASSIGN_OR_RETURN(compare.range_end, ReadBytes(object, "range_end"));
  ASSIGN_OR_RETURN(compare.version, ReadInt64(object, "version"));
  ASSIGN_OR_RETURN(compare.create_revision,
                   ReadInt64(object, "create_revision"));
  ASSIGN_OR_RETURN(compare.mod_revision, ReadInt64(object, "mod_revision"));
  ASSIGN_OR_RETURN(compare.lease, ReadInt64(object, "lease"));
  ASSIGN_OR_RETURN(compare.value, ReadBytes(object, "value"));
  return compare;
}

base::StatusOr<std::vector<RequestOp>> DecodeRequestOps(const json& object,
                                                        std::string_view name) {
  ASSIGN_OR_RETURN(std::vector<const json*> items, ReadRepeated(object, name));
  std::vector<RequestOp> ops;
  for (const json* item : items) {
    RequestOp op;
    ASSIGN_OR_RETURN(const json* range, ReadMessage(*item, "request_range"));
    ASSIGN_OR_RETURN(const json* put, ReadMessage(*item, "request_put"));
    ASSIGN_OR_RETURN(const json* del,
                     ReadMessage(*item, "request_delete_range"));
    ASSIGN_OR_RETURN(const json* txn, ReadMessage(*item, "request_txn"));
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
      // NOTE: etcd passes an empty RequestOp to its server, which ignores
      // it; a null nested transaction has the same effect here.
      op.request = std::shared_ptr<const TxnRequest>();
    }
    ops.push_back(std::move(op));
  }
  return ops;
}

// ---- Encoding ----

// Quotes a string as Go's encoding/json does, escaping HTML characters.
std::string Quote(std::string_view text) {
  std::string out = "\"";
  for (unsigned char c : text) {
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
        if (c < 0x20 || c == '<' || c == '>' || c == '&') {
          char buffer[8];
          std::snprintf(buffer, sizeof(buffer), "\\u%04x", c);
          out += buffer;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out += '"';
  return out;
}

// Writes one JSON object in field order, leaving out zero values.
class ObjectWriter {
 public:
  ObjectWriter& Int(std::string_view name, int64_t value) {
    if (value != 0) Key(name) += '"' + std::to_string(value) + '"';
    return *this;
  }
  ObjectWriter& Uint(std::string_view name, uint64_t value) {
    if (value != 0) Key(name) += '"' + std::to_string(value) + '"';
    return *this;
  }
  ObjectWriter& Bool(std::string_view name, bool value) {
    if (value) Key(name) += "true";
    return *this;
  }
  ObjectWriter& Bytes(std::string_view name, std::string_view value) {
    if (!value.empty()) Key(name) += Quote(base::Base64Encode(value));
    return *this;
  }
  ObjectWriter& Enum(std::string_view name, int value,
                     std::string_view value_name) {
    if (value != 0) Key(name) += Quote(value_name);
    return *this;
  }
  // A set message field: written even when empty.
  ObjectWriter& Message(std::string_view name, const std::string& message) {
    Key(name) += message;
    return *this;
  }
  ObjectWriter& Repeated(std::string_view name,
                         const std::vector<std::string>& items) {
    if (items.empty()) return *this;
    std::string& out = Key(name);
    out += '[';
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0) out += ',';
      out += items[i];
    }
    out += ']';
    return *this;
  }
  std::string Finish() const { return '{' + body_ + '}'; }

 private:
  std::string& Key(std::string_view name) {
    if (!body_.empty()) body_ += ',';
    body_ += '"';
    body_ += name;
    body_ += "\":";
    return body_;
  }

  std::string body_;
};

// A top-level header carries the cluster identity; headers of responses
// nested in a transaction carry only the revision.
std::string EncodeHeader(const ResponseHeader& header, const HeaderIds* ids) {
  ObjectWriter writer;
  if (ids != nullptr) {
    writer.Uint("cluster_id", ids->cluster_id)
        .Uint("member_id", ids->member_id);
  }
  writer.Int("revision", header.revision);
  if (ids != nullptr) writer.Uint("raft_term", ids->raft_term);
  return writer.Finish();
}

std::string EncodeKeyValue(const KeyValue& kv) {
  return ObjectWriter()
      .Bytes("key", kv.key)
      .Int("create_revision", kv.create_revision)
      .Int("mod_revision", kv.mod_revision)
      .Int("version", kv.version)
      .Bytes("value", kv.value)
      .Int("lease", kv.lease)
      .Finish();
}

std::vector<std::string> EncodeKeyValues(const std::vector<KeyValue>& kvs) {
  std::vector<std::string> items;
  for (const KeyValue& kv : kvs) items.push_back(EncodeKeyValue(kv));
  return items;
}

std::string RangeBody(const RangeResponse& response, const HeaderIds* ids) {
  return ObjectWriter()
      .Message("header", EncodeHeader(response.header, ids))
      .Repeated("kvs", EncodeKeyValues(response.kvs))
      .Bool("more", response.more)
      .Int("count", response.count)
      .Finish();
}

std::string PutBody(const PutResponse& response, const HeaderIds* ids) {
  ObjectWriter writer;
  writer.Message("header", EncodeHeader(response.header, ids));
  if (response.prev_kv) {
    writer.Message("prev_kv", EncodeKeyValue(*response.prev_kv));
  }
  return writer.Finish();
}

std::string DeleteRangeBody(const DeleteRangeResponse& response,
                            const HeaderIds* ids) {
  return ObjectWriter()
      .Message("header", EncodeHeader(response.header, ids))
      .Int("deleted", response.deleted)
      .Repeated("prev_kvs", EncodeKeyValues(response.prev_kvs))
      .Finish();
}

std::string TxnBody(const TxnResponse& response, const HeaderIds* ids) {
  std::vector<std::string> ops;
  for (const ResponseOp& op : response.responses) {
    ObjectWriter writer;
    if (const auto* range = std::get_if<RangeResponse>(&op.response)) {
      writer.Message("response_range", RangeBody(*range, nullptr));
    } else if (const auto* put = std::get_if<PutResponse>(&op.response)) {
      writer.Message("response_put", PutBody(*put, nullptr));
    } else if (const auto* del =
                   std::get_if<DeleteRangeResponse>(&op.response)) {
      writer.Message("response_delete_range", DeleteRangeBody(*del, nullptr));
    } else {
      const auto& txn =
          std::get<std::shared_ptr<const TxnResponse>>(op.response);
      if (txn != nullptr)
        writer.Message("response_txn", TxnBody(*txn, nullptr));
    }
    ops.push_back(writer.Finish());
  }
  return ObjectWriter()
      .Message("header", EncodeHeader(response.header, ids))
      .Bool("succeeded", response.succeeded)
      .Repeated("responses", ops)
      .Finish();
}

std::string EncodeEvent(const Event& event) {
  int type = event.type == Event::Type::kPut ? 0 : 1;
  ObjectWriter writer;
  writer.Enum("type", type, kEventTypes[type])
      .Message("kv", EncodeKeyValue(event.kv));
  if (event.prev_kv) writer.Message("prev_kv", EncodeKeyValue(*event.prev_kv));
  return writer.Finish();
}

}  // namespace

base::StatusOr<json> ParseBody(std::string_view body) {
  ASSIGN_OR_RETURN(std::vector<json> messages, ParseStream(body));
  if (messages.empty()) return json::object();
  // NOTE: Go's decoder reads one value and ignores the rest of the body;
  // so does this.
  return std::move(messages.front());
}

base::StatusOr<std::vector<json>> ParseStream(std::string_view body) {
  std::vector<json> messages;
  std::string pending(body);
  while (true) {
    ASSIGN_OR_RETURN(std::optional<json> message,
                     TakeMessage(pending, /*body_done=*/true));
    if (!message) return messages;
    messages.push_back(std::move(*message));
  }
}

base::StatusOr<std::optional<json>> TakeMessage(std::string& pending,
                                                bool body_done) {
  size_t start = pending.find_first_not_of(" \t\r\n");
  if (start == std::string::npos) {
    pending.clear();
    return std::optional<json>();
  }
  pending.erase(0, start);

  std::istringstream in(pending);
  json message;
  try {
    in >> message;
  } catch (const json::parse_error& error) {
    // NOTE: Go words its syntax errors by context; this reproduces only
    // the common "invalid character" and "unexpected end" forms.
    size_t at = error.byte == 0 ? 0 : error.byte - 1;
    if (at >= pending.size()) {
      if (!body_done) return std::optional<json>();
      return Invalid("unexpected end of JSON input");
    }
    return Invalid(std::string("invalid character '") + pending[at] +
                   "' looking for beginning of value");
  }
  std::streamoff consumed = in.tellg();
  if (consumed < 0) consumed = static_cast<std::streamoff>(pending.size());
  pending.erase(0, static_cast<size_t>(consumed));
  if (!message.is_object()) {
    return TypeError(message, "map[string]json.RawMessage");
  }
  return std::optional<json>(std::move(message));
}

base::StatusOr<RangeRequest> DecodeRangeRequest(const json& object) {
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

base::StatusOr<PutRequest> DecodePutRequest(const json& object) {
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
    const json& object) {
  DeleteRangeRequest request;
  ASSIGN_OR_RETURN(request.key, ReadBytes(object, "key"));
  ASSIGN_OR_RETURN(request.range_end, ReadBytes(object, "range_end"));
  ASSIGN_OR_RETURN(request.prev_kv, ReadBool(object, "prev_kv"));
  return request;
}

base::StatusOr<TxnRequest> DecodeTxnRequest(const json& object) {
  TxnRequest request;
  ASSIGN_OR_RETURN(std::vector<const json*> compares,
                   ReadRepeated(object, "compare"));
  for (const json* item : compares) {
    ASSIGN_OR_RETURN(Compare compare, DecodeCompare(*item));
    request.compare.push_back(std::move(compare));
  }
  ASSIGN_OR_RETURN(request.success, DecodeRequestOps(object, "success"));
  ASSIGN_OR_RETURN(request.failure, DecodeRequestOps(object, "failure"));
  return request;
}

base::StatusOr<int64_t> DecodeCompactionRequest(const json& object) {
  // NOTE: "physical" is accepted and ignored: compaction here is always
  // durable when it returns.
  RETURN_IF_ERROR(ReadBool(object, "physical").status());
  return ReadInt64(object, "revision");
}

base::StatusOr<LeaseGrantRequest> DecodeLeaseGrantRequest(const json& object) {
  LeaseGrantRequest request;
  ASSIGN_OR_RETURN(request.ttl, ReadInt64(object, "TTL"));
  ASSIGN_OR_RETURN(request.id, ReadInt64(object, "ID"));
  return request;
}

base::StatusOr<int64_t> DecodeLeaseId(const json& object) {
  return ReadInt64(object, "ID");
}

base::StatusOr<LeaseTimeToLiveRequest> DecodeLeaseTimeToLiveRequest(
    const json& object) {
  LeaseTimeToLiveRequest request;
  ASSIGN_OR_RETURN(request.id, ReadInt64(object, "ID"));
  ASSIGN_OR_RETURN(request.keys, ReadBool(object, "keys"));
  return request;
}

base::StatusOr<WatchStreamRequest> DecodeWatchRequest(const json& object) {
  WatchStreamRequest request;
  ASSIGN_OR_RETURN(const json* create, ReadMessage(object, "create_request"));
  ASSIGN_OR_RETURN(const json* cancel, ReadMessage(object, "cancel_request"));
  ASSIGN_OR_RETURN(const json* progress,
                   ReadMessage(object, "progress_request"));
  if (create != nullptr) {
    request.kind = WatchStreamRequest::Kind::kCreate;
    WatchRequest& watch = request.create;
    ASSIGN_OR_RETURN(watch.key, ReadBytes(*create, "key"));
    ASSIGN_OR_RETURN(watch.range_end, ReadBytes(*create, "range_end"));
    ASSIGN_OR_RETURN(watch.start_revision,
                     ReadInt64(*create, "start_revision"));
    ASSIGN_OR_RETURN(watch.prev_kv, ReadBool(*create, "prev_kv"));
    if (const json* filters = Lookup(*create, "filters")) {
      if (!filters->is_array()) {
        return TypeError(*filters,
                         "[]etcdserverpb.WatchCreateRequest_FilterType");
      }
      for (const json& filter : *filters) {
        json holder = {{"f", filter}};
        ASSIGN_OR_RETURN(
            int type, ReadEnum(holder, "f", kFilterTypes,
                               "etcdserverpb.WatchCreateRequest_FilterType"));
        if (type == 0) watch.filter_put = true;
        if (type == 1) watch.filter_delete = true;
      }
    }
  } else if (cancel != nullptr) {
    request.kind = WatchStreamRequest::Kind::kCancel;
    ASSIGN_OR_RETURN(request.watch_id, ReadInt64(*cancel, "watch_id"));
  } else if (progress != nullptr) {
    request.kind = WatchStreamRequest::Kind::kProgress;
  }
  return request;
}

std::string EncodeRangeResponse(const RangeResponse& response,
                                const HeaderIds& ids) {
  return RangeBody(response, &ids);
}

std::string EncodePutResponse(const PutResponse& response,
                              const HeaderIds& ids) {
  return PutBody(response, &ids);
}

std::string EncodeDeleteRangeResponse(const DeleteRangeResponse& response,
                                      const HeaderIds& ids) {
  return DeleteRangeBody(response, &ids);
}

std::string EncodeTxnResponse(const TxnResponse& response,
                              const HeaderIds& ids) {
  return TxnBody(response, &ids);
}

std::string EncodeCompactionResponse(const CompactionResponse& response,
                                     const HeaderIds& ids) {
  return ObjectWriter()
      .Message("header", EncodeHeader(response.header, &ids))
      .Finish();
}

std::string EncodeLeaseGrantResponse(const LeaseGrantResponse& response,
                                     const HeaderIds& ids) {
  return ObjectWriter()
      .Message("header", EncodeHeader(response.header, &ids))
      .Int("ID", response.id)
      .Int("TTL", response.ttl)
      .Finish();
}

std::string EncodeLeaseRevokeResponse(const LeaseRevokeResponse& response,
                                      const HeaderIds& ids) {
  return ObjectWriter()
      .Message("header", EncodeHeader(response.header, &ids))
      .Finish();
}

std::string EncodeLeaseKeepAliveResponse(const LeaseKeepAliveResponse& response,
                                         const HeaderIds& ids) {
  return ObjectWriter()
      .Message("header", EncodeHeader(response.header, &ids))
      .Int("ID", response.id)
      .Int("TTL", response.ttl)
      .Finish();
}

std::string EncodeLeaseTimeToLiveResponse(
    const LeaseTimeToLiveResponse& response, const HeaderIds& ids) {
  std::vector<std::string> keys;
  for (const std::string& key : response.keys) {
    keys.push_back(Quote(base::Base64Encode(key)));
  }
  return ObjectWriter()
      .Message("header", EncodeHeader(response.header, &ids))
      .Int("ID", response.id)
      .Int("TTL", response.ttl)
      .Int("grantedTTL", response.granted_ttl)
      .Repeated("keys", keys)
      .Finish();
}

std::string EncodeLeaseLeasesResponse(const LeaseLeasesResponse& response,
                                      const HeaderIds& ids) {
  std::vector<std::string> leases;
  for (int64_t id : response.ids) {
    leases.push_back(ObjectWriter().Int("ID", id).Finish());
  }
  return ObjectWriter()
      .Message("header", EncodeHeader(response.header, &ids))
      .Repeated("leases", leases)
      .Finish();
}

std::string EncodeWatchResponse(const WatchResponse& response,
                                const HeaderIds& ids) {
  std::vector<std::string> events;
  for (const Event& event : response.events) {
    events.push_back(EncodeEvent(event));
  }
  return ObjectWriter()
      .Message("header", EncodeHeader(response.header, &ids))
      .Int("watch_id", response.watch_id)
      .Bool("created", response.created)
      .Bool("canceled", response.canceled)
      .Int("compact_revision", response.compact_revision)
      .Repeated("events", events)
      .Finish();
}

std::string EncodeStreamResult(const std::string& message) {
  return "{\"result\":" + message + "}";
}

int GrpcCode(base::Code code) {
  switch (code) {
    case base::Code::kOk:
      return 0;
    case base::Code::kCancelled:
      return 1;
    case base::Code::kInvalidArgument:
      return 3;
    case base::Code::kDeadlineExceeded:
      return 4;
    case base::Code::kNotFound:
      return 5;
    case base::Code::kAlreadyExists:
      return 6;
    case base::Code::kPermissionDenied:
      return 7;
    case base::Code::kResourceExhausted:
      return 8;
    case base::Code::kFailedPrecondition:
      return 9;
    case base::Code::kAborted:
      return 10;
    case base::Code::kOutOfRange:
      return 11;
    case base::Code::kUnimplemented:
      return 12;
    case base::Code::kInternal:
      return 13;
    case base::Code::kUnavailable:
      return 14;
    case base::Code::kDataLoss:
      return 15;
    case base::Code::kUnauthenticated:
      return 16;
  }
  return 2;  // UNKNOWN
}

int HttpStatusFromGrpcCode(int grpc_code) {
  switch (grpc_code) {
    case 0:
      return 200;
    case 1:
      return 408;
    case 3:
    case 11:
      return 400;
    case 4:
      return 504;
    case 5:
      return 404;
    case 6:
    case 10:
      return 409;
    case 7:
      return 403;
    case 8:
      return 429;
    case 9:
      return 412;
    case 12:
      return 501;
    case 14:
      return 503;
    case 16:
      return 401;
    default:
      return 500;
  }
}

std::string EncodeError(std::string_view message, int grpc_code) {
  std::string quoted = Quote(message);
  return "{\"error\":" + quoted + ",\"message\":" + quoted +
         ",\"code\":" + std::to_string(grpc_code) + "}";
}

}  // namespace etcd::gateway_internal
