#include "etcd-store/remote_json.h"

#include <algorithm>
#include <charconv>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "base/crypto.h"
#include "etcd-store/proto_enums_internal.h"

namespace etcd::remote_internal {
namespace {

using json = nlohmann::json;
using proto_enums::kCompareResults;
using proto_enums::kCompareTargets;
using proto_enums::kSortOrders;
using proto_enums::kSortTargets;

// ---- Requests ----

std::string Int(int64_t value) { return std::to_string(value); }

std::string Bytes(const std::string& value) {
  return base::Base64Encode(value);
}

// Sets the fields that differ from their zero value, as the gateway does not
// need the rest.
void SetInt(json& object, const char* name, int64_t value) {
  if (value != 0) object[name] = Int(value);
}

void SetBool(json& object, const char* name, bool value) {
  if (value) object[name] = true;
}

void SetBytes(json& object, const char* name, const std::string& value) {
  if (!value.empty()) object[name] = Bytes(value);
}

// Returns the protobuf name of a Store enum value, which has the proto's
// number.
template <size_t N, typename Enum>
std::string Name(const std::array<std::string_view, N>& names, Enum value) {
  return std::string(names[static_cast<size_t>(value)]);
}

json RangeJson(const RangeRequest& request) {
  json object = json::object();
  SetBytes(object, "key", request.key);
  SetBytes(object, "range_end", request.range_end);
  SetInt(object, "limit", request.limit);
  SetInt(object, "revision", request.revision);
  if (request.sort_order != SortOrder::kNone) {
    object["sort_order"] = Name(kSortOrders, request.sort_order);
  }
  if (request.sort_target != SortTarget::kKey) {
    object["sort_target"] = Name(kSortTargets, request.sort_target);
  }
  SetBool(object, "serializable", request.serializable);
  SetBool(object, "keys_only", request.keys_only);
  SetBool(object, "count_only", request.count_only);
  SetInt(object, "min_mod_revision", request.min_mod_revision);
  SetInt(object, "max_mod_revision", request.max_mod_revision);
  SetInt(object, "min_create_revision", request.min_create_revision);
  SetInt(object, "max_create_revision", request.max_create_revision);
  return object;
}

json PutJson(const PutRequest& request) {
  json object = json::object();
  SetBytes(object, "key", request.key);
  SetBytes(object, "value", request.value);
  SetInt(object, "lease", request.lease);
  SetBool(object, "prev_kv", request.prev_kv);
  SetBool(object, "ignore_value", request.ignore_value);
  SetBool(object, "ignore_lease", request.ignore_lease);
  return object;
}

json DeleteRangeJson(const DeleteRangeRequest& request) {
  json object = json::object();
  SetBytes(object, "key", request.key);
  SetBytes(object, "range_end", request.range_end);
  SetBool(object, "prev_kv", request.prev_kv);
  return object;
}

json CompareJson(const Compare& compare) {
  json object = json::object();
  object["result"] = Name(kCompareResults, compare.result);
  object["target"] = Name(kCompareTargets, compare.target);
  SetBytes(object, "key", compare.key);
  SetBytes(object, "range_end", compare.range_end);
  // The operand is a oneof: always send the member the target reads, even
  // when it is zero.
  switch (compare.target) {
    case Compare::Target::kVersion:
      object["version"] = Int(compare.version);
      break;
    case Compare::Target::kCreate:
      object["create_revision"] = Int(compare.create_revision);
      break;
    case Compare::Target::kMod:
      object["mod_revision"] = Int(compare.mod_revision);
      break;
    case Compare::Target::kValue:
      object["value"] = Bytes(compare.value);
      break;
    case Compare::Target::kLease:
      object["lease"] = Int(compare.lease);
      break;
  }
  return object;
}

json TxnJson(const TxnRequest& request);

json OpsJson(const std::vector<RequestOp>& ops) {
  json array = json::array();
  for (const RequestOp& op : ops) {
    json item = json::object();
    if (const auto* range = std::get_if<RangeRequest>(&op.request)) {
      item["request_range"] = RangeJson(*range);
    } else if (const auto* put = std::get_if<PutRequest>(&op.request)) {
      item["request_put"] = PutJson(*put);
    } else if (const auto* del = std::get_if<DeleteRangeRequest>(&op.request)) {
      item["request_delete_range"] = DeleteRangeJson(*del);
    } else {
      const auto& txn = std::get<std::shared_ptr<const TxnRequest>>(op.request);
      // A null nested transaction is an empty RequestOp, as in etcd.
      if (txn != nullptr) item["request_txn"] = TxnJson(*txn);
    }
    array.push_back(std::move(item));
  }
  return array;
}

json TxnJson(const TxnRequest& request) {
  json object = json::object();
  if (!request.compare.empty()) {
    json compares = json::array();
    for (const Compare& compare : request.compare) {
      compares.push_back(CompareJson(compare));
    }
    object["compare"] = std::move(compares);
  }
  if (!request.success.empty()) object["success"] = OpsJson(request.success);
  if (!request.failure.empty()) object["failure"] = OpsJson(request.failure);
  return object;
}

// ---- Responses ----

base::Status Malformed(const std::string& what) {
  return base::InternalError("etcd-store: malformed etcd response: " + what);
}

base::StatusOr<json> Parse(const std::string& body) {
  json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return Malformed("not a JSON object: " + body.substr(0, 200));
  }
  return parsed;
}

base::StatusOr<int64_t> ReadInt(const json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return int64_t{0};
  if (it->is_number_integer()) return it->get<int64_t>();
  if (!it->is_string()) return Malformed(std::string(name) + " is no int64");
  const std::string& text = it->get_ref<const std::string&>();
  int64_t value = 0;
  auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return Malformed(std::string(name) + " is no int64: " + text);
  }
  return value;
}

bool ReadBool(const json& object, const char* name) {
  auto it = object.find(name);
  return it != object.end() && it->is_boolean() && it->get<bool>();
}

base::StatusOr<std::string> ReadBytes(const json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return std::string();
  if (!it->is_string()) return Malformed(std::string(name) + " is no string");
  base::StatusOr<std::string> decoded =
      base::Base64Decode(it->get_ref<const std::string&>());
  if (!decoded.ok()) return Malformed(std::string(name) + " is no base64");
  return decoded;
}

// Returns the nested object, or an empty one when absent.
const json& Child(const json& object, const char* name) {
  static const json kEmpty = json::object();
  auto it = object.find(name);
  if (it == object.end() || !it->is_object()) return kEmpty;
  return *it;
}

base::StatusOr<std::vector<const json*>> Items(const json& object,
                                               const char* name) {
  std::vector<const json*> items;
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return items;
  if (!it->is_array()) return Malformed(std::string(name) + " is no array");
  for (const json& item : *it) items.push_back(&item);
  return items;
}

base::StatusOr<ResponseHeader> ReadHeader(const json& object) {
  ResponseHeader header;
  ASSIGN_OR_RETURN(header.revision,
                   ReadInt(Child(object, "header"), "revision"));
  return header;
}

base::StatusOr<KeyValue> ReadKeyValue(const json& object) {
  KeyValue kv;
  ASSIGN_OR_RETURN(kv.key, ReadBytes(object, "key"));
  ASSIGN_OR_RETURN(kv.value, ReadBytes(object, "value"));
  ASSIGN_OR_RETURN(kv.create_revision, ReadInt(object, "create_revision"));
  ASSIGN_OR_RETURN(kv.mod_revision, ReadInt(object, "mod_revision"));
  ASSIGN_OR_RETURN(kv.version, ReadInt(object, "version"));
  ASSIGN_OR_RETURN(kv.lease, ReadInt(object, "lease"));
  return kv;
}

base::StatusOr<std::vector<KeyValue>> ReadKeyValues(const json& object,
                                                    const char* name) {
  std::vector<KeyValue> kvs;
  ASSIGN_OR_RETURN(std::vector<const json*> items, Items(object, name));
  for (const json* item : items) {
    ASSIGN_OR_RETURN(KeyValue kv, ReadKeyValue(*item));
    kvs.push_back(std::move(kv));
  }
  return kvs;
}

base::StatusOr<RangeResponse> RangeFrom(const json& object) {
  RangeResponse response;
  ASSIGN_OR_RETURN(response.header, ReadHeader(object));
  ASSIGN_OR_RETURN(response.kvs, ReadKeyValues(object, "kvs"));
  response.more = ReadBool(object, "more");
  ASSIGN_OR_RETURN(response.count, ReadInt(object, "count"));
  return response;
}

base::StatusOr<PutResponse> PutFrom(const json& object) {
  PutResponse response;
  ASSIGN_OR_RETURN(response.header, ReadHeader(object));
  if (auto it = object.find("prev_kv"); it != object.end() && it->is_object()) {
    ASSIGN_OR_RETURN(response.prev_kv, ReadKeyValue(*it));
  }
  return response;
}

base::StatusOr<DeleteRangeResponse> DeleteRangeFrom(const json& object) {
  DeleteRangeResponse response;
  ASSIGN_OR_RETURN(response.header, ReadHeader(object));
  ASSIGN_OR_RETURN(response.deleted, ReadInt(object, "deleted"));
  ASSIGN_OR_RETURN(response.prev_kvs, ReadKeyValues(object, "prev_kvs"));
  return response;
}

base::StatusOr<TxnResponse> TxnFrom(const json& object) {
  TxnResponse response;
  ASSIGN_OR_RETURN(response.header, ReadHeader(object));
  response.succeeded = ReadBool(object, "succeeded");
  ASSIGN_OR_RETURN(std::vector<const json*> items, Items(object, "responses"));
  for (const json* item : items) {
    ResponseOp op;
    if (item->contains("response_range")) {
      ASSIGN_OR_RETURN(op.response, RangeFrom((*item)["response_range"]));
    } else if (item->contains("response_put")) {
      ASSIGN_OR_RETURN(op.response, PutFrom((*item)["response_put"]));
    } else if (item->contains("response_delete_range")) {
      ASSIGN_OR_RETURN(op.response,
                       DeleteRangeFrom((*item)["response_delete_range"]));
    } else if (item->contains("response_txn")) {
      ASSIGN_OR_RETURN(TxnResponse nested, TxnFrom((*item)["response_txn"]));
      op.response = std::make_shared<const TxnResponse>(std::move(nested));
    } else {
      // The response to an empty RequestOp.
      op.response = std::shared_ptr<const TxnResponse>();
    }
    response.responses.push_back(std::move(op));
  }
  return response;
}

base::StatusOr<Event> EventFrom(const json& object) {
  Event event;
  auto type = object.find("type");
  bool is_delete =
      type != object.end() && ((type->is_string() && *type == "DELETE") ||
                               (type->is_number_integer() && *type == 1));
  event.type = is_delete ? Event::Type::kDelete : Event::Type::kPut;
  ASSIGN_OR_RETURN(event.kv, ReadKeyValue(Child(object, "kv")));
  if (auto it = object.find("prev_kv"); it != object.end() && it->is_object()) {
    ASSIGN_OR_RETURN(event.prev_kv, ReadKeyValue(*it));
  }
  return event;
}

// Unwraps the {"result":...} of a streaming response; a stream error comes
// as {"error":{...}}.
base::StatusOr<json> StreamResult(const std::string& line) {
  ASSIGN_OR_RETURN(json object, Parse(line));
  if (auto error = object.find("error");
      error != object.end() && error->is_object()) {
    return ErrorStatus(DecodeError(200, error->dump()));
  }
  auto result = object.find("result");
  if (result == object.end() || !result->is_object()) {
    return Malformed("stream line without a result: " + line.substr(0, 200));
  }
  return std::move(*result);
}

}  // namespace

std::string EncodeRange(const RangeRequest& request) {
  return RangeJson(request).dump(-1, ' ', false,
                                 nlohmann::json::error_handler_t::replace);
}

std::string EncodePut(const PutRequest& request) {
  return PutJson(request).dump(-1, ' ', false,
                               nlohmann::json::error_handler_t::replace);
}

std::string EncodeDeleteRange(const DeleteRangeRequest& request) {
  return DeleteRangeJson(request).dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string EncodeTxn(const TxnRequest& request) {
  return TxnJson(request).dump(-1, ' ', false,
                               nlohmann::json::error_handler_t::replace);
}

std::string EncodeCompaction(int64_t revision) {
  json object = json::object();
  SetInt(object, "revision", revision);
  object["physical"] = true;
  return object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string EncodeLeaseGrant(const LeaseGrantRequest& request) {
  json object = json::object();
  SetInt(object, "TTL", request.ttl);
  SetInt(object, "ID", request.id);
  return object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string EncodeLeaseId(int64_t id) {
  json object = json::object();
  SetInt(object, "ID", id);
  return object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string EncodeLeaseTimeToLive(const LeaseTimeToLiveRequest& request) {
  json object = json::object();
  SetInt(object, "ID", request.id);
  SetBool(object, "keys", request.keys);
  return object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string EncodeWatchCreate(const WatchRequest& request) {
  json create = json::object();
  SetBytes(create, "key", request.key);
  SetBytes(create, "range_end", request.range_end);
  SetInt(create, "start_revision", request.start_revision);
  SetBool(create, "progress_notify", request.progress_notify);
  SetBool(create, "prev_kv", request.prev_kv);
  json filters = json::array();
  if (request.filter_put) filters.push_back("NOPUT");
  if (request.filter_delete) filters.push_back("NODELETE");
  if (!filters.empty()) create["filters"] = std::move(filters);
  return json{{"create_request", std::move(create)}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
}

base::StatusOr<RangeResponse> DecodeRange(const std::string& body) {
  ASSIGN_OR_RETURN(json object, Parse(body));
  return RangeFrom(object);
}

base::StatusOr<PutResponse> DecodePut(const std::string& body) {
  ASSIGN_OR_RETURN(json object, Parse(body));
  return PutFrom(object);
}

base::StatusOr<DeleteRangeResponse> DecodeDeleteRange(const std::string& body) {
  ASSIGN_OR_RETURN(json object, Parse(body));
  return DeleteRangeFrom(object);
}

base::StatusOr<TxnResponse> DecodeTxn(const std::string& body) {
  ASSIGN_OR_RETURN(json object, Parse(body));
  return TxnFrom(object);
}

base::StatusOr<CompactionResponse> DecodeCompaction(const std::string& body) {
  ASSIGN_OR_RETURN(json object, Parse(body));
  CompactionResponse response;
  ASSIGN_OR_RETURN(response.header, ReadHeader(object));
  return response;
}

base::StatusOr<LeaseGrantResponse> DecodeLeaseGrant(const std::string& body) {
  ASSIGN_OR_RETURN(json object, Parse(body));
  LeaseGrantResponse response;
  ASSIGN_OR_RETURN(response.header, ReadHeader(object));
  ASSIGN_OR_RETURN(response.id, ReadInt(object, "ID"));
  ASSIGN_OR_RETURN(response.ttl, ReadInt(object, "TTL"));
  return response;
}

base::StatusOr<LeaseRevokeResponse> DecodeLeaseRevoke(const std::string& body) {
  ASSIGN_OR_RETURN(json object, Parse(body));
  LeaseRevokeResponse response;
  ASSIGN_OR_RETURN(response.header, ReadHeader(object));
  return response;
}

base::StatusOr<LeaseKeepAliveResponse> DecodeLeaseKeepAlive(
    const std::string& body) {
  ASSIGN_OR_RETURN(json object, StreamResult(body.substr(0, body.find('\n'))));
  LeaseKeepAliveResponse response;
  ASSIGN_OR_RETURN(response.header, ReadHeader(object));
  ASSIGN_OR_RETURN(response.id, ReadInt(object, "ID"));
  ASSIGN_OR_RETURN(response.ttl, ReadInt(object, "TTL"));
  return response;
}

base::StatusOr<LeaseTimeToLiveResponse> DecodeLeaseTimeToLive(
    const std::string& body) {
  ASSIGN_OR_RETURN(json object, Parse(body));
  LeaseTimeToLiveResponse response;
  ASSIGN_OR_RETURN(response.header, ReadHeader(object));
  ASSIGN_OR_RETURN(response.id, ReadInt(object, "ID"));
  ASSIGN_OR_RETURN(response.ttl, ReadInt(object, "TTL"));
  ASSIGN_OR_RETURN(response.granted_ttl, ReadInt(object, "grantedTTL"));
  ASSIGN_OR_RETURN(std::vector<const json*> keys, Items(object, "keys"));
  for (const json* key : keys) {
    if (!key->is_string()) return Malformed("lease key is no string");
    base::StatusOr<std::string> decoded =
        base::Base64Decode(key->get_ref<const std::string&>());
    if (!decoded.ok()) return Malformed("lease key is no base64");
    response.keys.push_back(std::move(*decoded));
  }
  // etcd lists the keys in Go map order; the Store promises sorted keys.
  std::sort(response.keys.begin(), response.keys.end());
  return response;
}

base::StatusOr<LeaseLeasesResponse> DecodeLeaseLeases(const std::string& body) {
  ASSIGN_OR_RETURN(json object, Parse(body));
  LeaseLeasesResponse response;
  ASSIGN_OR_RETURN(response.header, ReadHeader(object));
  ASSIGN_OR_RETURN(std::vector<const json*> leases, Items(object, "leases"));
  for (const json* lease : leases) {
    ASSIGN_OR_RETURN(int64_t id, ReadInt(*lease, "ID"));
    response.ids.push_back(id);
  }
  std::sort(response.ids.begin(), response.ids.end());
  return response;
}

base::StatusOr<WatchResponse> DecodeWatchLine(const std::string& line) {
  ASSIGN_OR_RETURN(json object, StreamResult(line));
  WatchResponse response;
  ASSIGN_OR_RETURN(response.header, ReadHeader(object));
  ASSIGN_OR_RETURN(response.watch_id, ReadInt(object, "watch_id"));
  response.created = ReadBool(object, "created");
  response.canceled = ReadBool(object, "canceled");
  ASSIGN_OR_RETURN(response.compact_revision,
                   ReadInt(object, "compact_revision"));
  ASSIGN_OR_RETURN(std::vector<const json*> events, Items(object, "events"));
  for (const json* item : events) {
    ASSIGN_OR_RETURN(Event event, EventFrom(*item));
    response.events.push_back(std::move(event));
  }
  return response;
}

GatewayError DecodeError(int http_status, const std::string& body) {
  json object = json::parse(body, nullptr, /*allow_exceptions=*/false);
  GatewayError error;
  if (object.is_object()) {
    auto code = object.find("code");
    if (code != object.end() && code->is_number_integer()) {
      error.grpc_code = code->get<int>();
    }
    for (const char* name : {"message", "error"}) {
      auto text = object.find(name);
      if (text != object.end() && text->is_string() &&
          !text->get_ref<const std::string&>().empty()) {
        error.message = text->get<std::string>();
        break;
      }
    }
  }
  if (error.message.empty()) {
    error.message = "etcd-store: etcd returned HTTP " +
                    std::to_string(http_status) + ": " + body.substr(0, 200);
  }
  return error;
}

base::Status ErrorStatus(const GatewayError& error) {
  base::Code code = base::CodeFromGrpcNumber(error.grpc_code);
  if (code == base::Code::kOk) code = base::Code::kInternal;
  return base::Status(code, error.message);
}

}  // namespace etcd::remote_internal
