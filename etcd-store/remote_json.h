// Internal: the client side of etcd 3.4's v3 JSON gateway, for the etcd
// Store. Encodes requests (int64 as strings, bytes as base64, enums by name)
// and decodes responses and error bodies back into the Store's types.
#ifndef ETCD_STORE_REMOTE_JSON_H_
#define ETCD_STORE_REMOTE_JSON_H_

#include <cstdint>
#include <string>

#include "base/status.h"
#include "etcd-store/store.h"

namespace etcd::remote_internal {

std::string EncodeRange(const RangeRequest& request);
std::string EncodePut(const PutRequest& request);
std::string EncodeDeleteRange(const DeleteRangeRequest& request);
std::string EncodeTxn(const TxnRequest& request);
// A physical compaction: etcd responds once the backend has compacted.
std::string EncodeCompaction(int64_t revision);
std::string EncodeLeaseGrant(const LeaseGrantRequest& request);
// {"ID":id}, the body of a revoke and of a keep-alive.
std::string EncodeLeaseId(int64_t id);
std::string EncodeLeaseTimeToLive(const LeaseTimeToLiveRequest& request);
// {"create_request":{...}}, the first message of a watch stream.
std::string EncodeWatchCreate(const WatchRequest& request);

// Each decoder fails with kInternal when the body is not the JSON it
// expects, which means the server is not an etcd 3.4 gateway.
base::StatusOr<RangeResponse> DecodeRange(const std::string& body);
base::StatusOr<PutResponse> DecodePut(const std::string& body);
base::StatusOr<DeleteRangeResponse> DecodeDeleteRange(const std::string& body);
base::StatusOr<TxnResponse> DecodeTxn(const std::string& body);
base::StatusOr<CompactionResponse> DecodeCompaction(const std::string& body);
base::StatusOr<LeaseGrantResponse> DecodeLeaseGrant(const std::string& body);
base::StatusOr<LeaseRevokeResponse> DecodeLeaseRevoke(const std::string& body);
// Takes the whole keep-alive stream body: one {"result":...} line.
base::StatusOr<LeaseKeepAliveResponse> DecodeLeaseKeepAlive(
    const std::string& body);
base::StatusOr<LeaseTimeToLiveResponse> DecodeLeaseTimeToLive(
    const std::string& body);
base::StatusOr<LeaseLeasesResponse> DecodeLeaseLeases(const std::string& body);
// Takes one line of a watch stream: {"result":{...}} or {"error":{...}}.
base::StatusOr<WatchResponse> DecodeWatchLine(const std::string& line);

// An etcd error, as the gateway reports it.
struct GatewayError {
  int grpc_code = 2;  // UNKNOWN
  std::string message;
};

// Reads {"error":...,"code":N,"message":...}. Bodies that are not JSON (a
// proxy's error page, say) become UNKNOWN with the HTTP status in the
// message.
GatewayError DecodeError(int http_status, const std::string& body);
// The Status the RocksDB Store would return for the same error: the gRPC
// code mapped to base::Code and etcd's message unchanged.
base::Status ErrorStatus(const GatewayError& error);

}  // namespace etcd::remote_internal

#endif  // ETCD_STORE_REMOTE_JSON_H_
