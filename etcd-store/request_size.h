// Internal: etcd 3.4's request size limits, which the JSON gateway applies
// before a request reaches the store. Both limits count the request's
// protobuf encoding, so this file computes encoded sizes.
//
// Each Admit function fails as etcd would, in etcd's order: gRPC rejects a
// message over --max-request-bytes plus 512 KiB (kResourceExhausted,
// "grpc: received message larger than max (N vs. M)"); then etcd validates
// the request (request_check.h); then a write whose raft proposal exceeds
// --max-request-bytes fails with "etcdserver: request is too large".
#ifndef ETCD_STORE_REQUEST_SIZE_H_
#define ETCD_STORE_REQUEST_SIZE_H_

#include <cstddef>
#include <cstdint>

#include "base/status.h"
#include "etcd-store/store.h"

namespace etcd::gateway_internal {

// etcd's default --max-request-bytes (1.5 MiB).
inline constexpr size_t kMaxRequestBytes = 1536 * 1024;
// etcd's gRPC receive limit: --max-request-bytes plus 512 KiB.
inline constexpr size_t kMaxGrpcMessageBytes = kMaxRequestBytes + 512 * 1024;

size_t ProtoSize(const RangeRequest& request);
size_t ProtoSize(const PutRequest& request);
size_t ProtoSize(const DeleteRangeRequest& request);
size_t ProtoSize(const TxnRequest& request);

// `member_id` is the id the gateway reports: etcd's raft request ids start
// with its low 16 bits, which decides how many bytes an id takes.
base::Status AdmitRange(const RangeRequest& request);
base::Status AdmitPut(const PutRequest& request, uint64_t member_id);
base::Status AdmitDeleteRange(const DeleteRangeRequest& request,
                              uint64_t member_id);
base::Status AdmitTxn(const TxnRequest& request, uint64_t member_id);

}  // namespace etcd::gateway_internal

#endif  // ETCD_STORE_REQUEST_SIZE_H_
