#include "etcd-store/gateway_json.h"

#include <array>
#include <cstdio>
#include <memory>
#include <sstream>
#include <string>
#include <utility>

#include "base/crypto.h"
#include "etcd-store/proto_enums_internal.h"

namespace etcd::gateway_internal {
namespace {

using proto_enums::kEventTypes;

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
  ObjectWriter& String(std::string_view name, std::string_view value) {
    if (!value.empty()) Key(name) += Quote(value);
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
      .String("cancel_reason", response.cancel_reason)
      .Repeated("events", events)
      .Finish();
}

std::string EncodeStreamResult(const std::string& message) {
  return "{\"result\":" + message + "}";
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
