#include "etcd-store/request_size.h"

#include <memory>
#include <string>
#include <variant>

#include "etcd-store/request_check.h"

namespace etcd::gateway_internal {
namespace {

size_t VarintSize(uint64_t value) {
  size_t size = 1;
  while (value >= 0x80) {
    value >>= 7;
    ++size;
  }
  return size;
}

size_t TagSize(int field) {
  return VarintSize(static_cast<uint64_t>(field) << 3);
}

// A scalar field, left out when zero as proto3 does.
size_t IntField(int field, int64_t value) {
  if (value == 0) return 0;
  return TagSize(field) + VarintSize(static_cast<uint64_t>(value));
}

size_t BoolField(int field, bool value) {
  return value ? TagSize(field) + 1 : 0;
}

size_t BytesField(int field, const std::string& value) {
  if (value.empty()) return 0;
  return TagSize(field) + VarintSize(value.size()) + value.size();
}

// A set message field, written even when empty.
size_t MessageField(int field, size_t size) {
  return TagSize(field) + VarintSize(size) + size;
}

size_t CompareSize(const Compare& compare) {
  // The proto enum numbers: EQUAL 0, GREATER 1, LESS 2, NOT_EQUAL 3 and
  // VERSION 0, CREATE 1, MOD 2, VALUE 3, LEASE 4.
  int result = 0;
  switch (compare.result) {
    case Compare::Result::kEqual:
      result = 0;
      break;
    case Compare::Result::kGreater:
      result = 1;
      break;
    case Compare::Result::kLess:
      result = 2;
      break;
    case Compare::Result::kNotEqual:
      result = 3;
      break;
  }
  size_t size = IntField(1, result);
  size += IntField(2, static_cast<int>(compare.target));
  size += BytesField(3, compare.key);
  // The operand is a oneof member, written even when zero. NOTE: this
  // counts the member that the target reads; a request that set another
  // member encodes that one instead.
  switch (compare.target) {
    case Compare::Target::kVersion:
      size += TagSize(4) + VarintSize(static_cast<uint64_t>(compare.version));
      break;
    case Compare::Target::kCreate:
      size += TagSize(5) +
              VarintSize(static_cast<uint64_t>(compare.create_revision));
      break;
    case Compare::Target::kMod:
      size +=
          TagSize(6) + VarintSize(static_cast<uint64_t>(compare.mod_revision));
      break;
    case Compare::Target::kValue:
      size +=
          TagSize(7) + VarintSize(compare.value.size()) + compare.value.size();
      break;
    case Compare::Target::kLease:
      size += TagSize(8) + VarintSize(static_cast<uint64_t>(compare.lease));
      break;
  }
  size += BytesField(64, compare.range_end);
  return size;
}

size_t OpSize(const RequestOp& op) {
  if (const auto* range = std::get_if<RangeRequest>(&op.request)) {
    return MessageField(1, ProtoSize(*range));
  }
  if (const auto* put = std::get_if<PutRequest>(&op.request)) {
    return MessageField(2, ProtoSize(*put));
  }
  if (const auto* del = std::get_if<DeleteRangeRequest>(&op.request)) {
    return MessageField(3, ProtoSize(*del));
  }
  const auto& txn = std::get<std::shared_ptr<const TxnRequest>>(op.request);
  if (txn == nullptr) return 0;
  return MessageField(4, ProtoSize(*txn));
}

base::Status CheckGrpcLimit(size_t size) {
  if (size <= kMaxGrpcMessageBytes) return base::OkStatus();
  return base::Status(base::Code::kResourceExhausted,
                      "grpc: received message larger than max (" +
                          std::to_string(size) + " vs. " +
                          std::to_string(kMaxGrpcMessageBytes) + ")");
}

// The size of the raft proposal that carries a request of `size` bytes in
// InternalRaftRequest field `field`, with a RequestHeader (field 100) that
// holds only the request id.
size_t ProposalSize(int field, size_t size, uint64_t member_id) {
  // etcd's idutil generator puts the member id's low 16 bits on top of the
  // 64-bit id.
  uint64_t top = member_id & 0xFFFF;
  size_t id_bits = 48;
  while (top != 0) {
    top >>= 1;
    ++id_bits;
  }
  size_t id_size = (id_bits + 6) / 7;
  size_t header = MessageField(100, TagSize(1) + id_size);
  return header + MessageField(field, size);
}

base::Status CheckProposalLimit(int field, size_t size, uint64_t member_id) {
  if (ProposalSize(field, size, member_id) <= kMaxRequestBytes) {
    return base::OkStatus();
  }
  return base::InvalidArgumentError("etcdserver: request is too large");
}

// InternalRaftRequest field numbers.
constexpr int kRaftPut = 4;
constexpr int kRaftDeleteRange = 5;
constexpr int kRaftTxn = 6;

}  // namespace

size_t ProtoSize(const RangeRequest& request) {
  return BytesField(1, request.key) + BytesField(2, request.range_end) +
         IntField(3, request.limit) + IntField(4, request.revision) +
         IntField(5, static_cast<int>(request.sort_order)) +
         IntField(6, static_cast<int>(request.sort_target)) +
         BoolField(7, request.serializable) + BoolField(8, request.keys_only) +
         BoolField(9, request.count_only) +
         IntField(10, request.min_mod_revision) +
         IntField(11, request.max_mod_revision) +
         IntField(12, request.min_create_revision) +
         IntField(13, request.max_create_revision);
}

size_t ProtoSize(const PutRequest& request) {
  return BytesField(1, request.key) + BytesField(2, request.value) +
         IntField(3, request.lease) + BoolField(4, request.prev_kv) +
         BoolField(5, request.ignore_value) +
         BoolField(6, request.ignore_lease);
}

size_t ProtoSize(const DeleteRangeRequest& request) {
  return BytesField(1, request.key) + BytesField(2, request.range_end) +
         BoolField(3, request.prev_kv);
}

size_t ProtoSize(const TxnRequest& request) {
  size_t size = 0;
  for (const Compare& compare : request.compare) {
    size += MessageField(1, CompareSize(compare));
  }
  for (const RequestOp& op : request.success) {
    size += MessageField(2, OpSize(op));
  }
  for (const RequestOp& op : request.failure) {
    size += MessageField(3, OpSize(op));
  }
  return size;
}

base::Status AdmitRange(const RangeRequest& request) {
  return CheckGrpcLimit(ProtoSize(request));
}

base::Status AdmitPut(const PutRequest& request, uint64_t member_id) {
  size_t size = ProtoSize(request);
  RETURN_IF_ERROR(CheckGrpcLimit(size));
  RETURN_IF_ERROR(CheckPutRequest(request));
  return CheckProposalLimit(kRaftPut, size, member_id);
}

base::Status AdmitDeleteRange(const DeleteRangeRequest& request,
                              uint64_t member_id) {
  size_t size = ProtoSize(request);
  RETURN_IF_ERROR(CheckGrpcLimit(size));
  RETURN_IF_ERROR(CheckDeleteRangeRequest(request));
  return CheckProposalLimit(kRaftDeleteRange, size, member_id);
}

base::Status AdmitTxn(const TxnRequest& request, uint64_t member_id) {
  size_t size = ProtoSize(request);
  RETURN_IF_ERROR(CheckGrpcLimit(size));
  RETURN_IF_ERROR(CheckTxnRequest(request));
  // etcd serves a read-only transaction without a raft proposal.
  if (IsReadOnlyTxn(request)) return base::OkStatus();
  return CheckProposalLimit(kRaftTxn, size, member_id);
}

}  // namespace etcd::gateway_internal
