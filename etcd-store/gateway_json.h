// Internal: the JSON form of etcd 3.4's v3 gateway (grpc-gateway v1 with
// jsonpb): requests are read by proto field name or its lowerCamelCase JSON
// name, int64 as string or number, bytes as standard base64 and enums by
// name or number (gateway_decode.cc). Responses are written in proto field
// order with int64 as strings, bytes as base64, enums by name and zero
// values omitted (gateway_json.cc).
#ifndef ETCD_STORE_GATEWAY_JSON_H_
#define ETCD_STORE_GATEWAY_JSON_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "etcd-store/go_json.h"
#include "etcd-store/store.h"

namespace etcd::gateway_internal {

// The identity fields of a top-level response header.
struct HeaderIds {
  uint64_t cluster_id = 0;
  uint64_t member_id = 0;
  uint64_t raft_term = 0;
};

// Parses a request body into a message object; an empty body is an empty
// message. Errors carry Go's encoding/json messages.
base::StatusOr<JsonValue> ParseBody(std::string_view body);
// Removes the first complete JSON message from `pending` and returns it.
// Returns nullopt when `pending` contains no complete message yet; once
// `body_done`, a partial message is an error.
base::StatusOr<std::optional<JsonValue>> TakeMessage(std::string& pending,
                                                     bool body_done);

base::StatusOr<RangeRequest> DecodeRangeRequest(const JsonValue& json);
base::StatusOr<PutRequest> DecodePutRequest(const JsonValue& json);
base::StatusOr<DeleteRangeRequest> DecodeDeleteRangeRequest(
    const JsonValue& json);
base::StatusOr<TxnRequest> DecodeTxnRequest(const JsonValue& json);
// Returns the revision of a CompactionRequest.
base::StatusOr<int64_t> DecodeCompactionRequest(const JsonValue& json);
base::StatusOr<LeaseGrantRequest> DecodeLeaseGrantRequest(
    const JsonValue& json);
// Returns the ID of a LeaseRevokeRequest or LeaseKeepAliveRequest.
base::StatusOr<int64_t> DecodeLeaseId(const JsonValue& json);
base::StatusOr<LeaseTimeToLiveRequest> DecodeLeaseTimeToLiveRequest(
    const JsonValue& json);

// One message of the watch stream.
struct WatchStreamRequest {
  enum class Kind { kNone, kCreate, kCancel, kProgress };
  Kind kind = Kind::kNone;
  WatchRequest create;
  // The id a create request asks for (0: the next free one), or the id of
  // the watch that a cancel request ends.
  int64_t watch_id = 0;
};
base::StatusOr<WatchStreamRequest> DecodeWatchRequest(const JsonValue& json);

std::string EncodeRangeResponse(const RangeResponse& response,
                                const HeaderIds& ids);
std::string EncodePutResponse(const PutResponse& response,
                              const HeaderIds& ids);
std::string EncodeDeleteRangeResponse(const DeleteRangeResponse& response,
                                      const HeaderIds& ids);
std::string EncodeTxnResponse(const TxnResponse& response,
                              const HeaderIds& ids);
std::string EncodeCompactionResponse(const CompactionResponse& response,
                                     const HeaderIds& ids);
std::string EncodeLeaseGrantResponse(const LeaseGrantResponse& response,
                                     const HeaderIds& ids);
std::string EncodeLeaseRevokeResponse(const LeaseRevokeResponse& response,
                                      const HeaderIds& ids);
std::string EncodeLeaseKeepAliveResponse(const LeaseKeepAliveResponse& response,
                                         const HeaderIds& ids);
std::string EncodeLeaseTimeToLiveResponse(
    const LeaseTimeToLiveResponse& response, const HeaderIds& ids);
std::string EncodeLeaseLeasesResponse(const LeaseLeasesResponse& response,
                                      const HeaderIds& ids);
std::string EncodeWatchResponse(const WatchResponse& response,
                                const HeaderIds& ids);
// Wraps one message of a streaming response: {"result":...}.
std::string EncodeStreamResult(const std::string& message);

// grpc-gateway v1's HTTPStatusFromCode.
int HttpStatusFromGrpcCode(int grpc_code);
// {"error":message,"message":message,"code":grpc_code}.
std::string EncodeError(std::string_view message, int grpc_code);

}  // namespace etcd::gateway_internal

#endif  // ETCD_STORE_GATEWAY_JSON_H_
