#include "etcd-store/request_check.h"

#include <algorithm>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "etcd-store/errors.h"

namespace etcd {
namespace {

// Compares keys as etcd's adt.StringAffineComparable does: the empty string
// is the upper end of the key space.
int CompareAffine(const std::string& a, const std::string& b) {
  if (a.empty()) return b.empty() ? 0 : 1;
  if (b.empty()) return -1;
  return a.compare(b) < 0 ? -1 : (a == b ? 0 : 1);
}

// A half-open key interval [begin, end) as etcd's duplicate-key check builds
// it. NOTE: etcd 3.4 builds a delete with range_end "\0" as the interval
// [key, "\0"), which is empty for every key, so such a delete never
// conflicts with a put. This check copies that behaviour.
struct Interval {
  std::string begin;
  std::string end;
};

Interval Point(const std::string& key) { return {key, key + '\0'}; }

bool Overlaps(const Interval& a, const Interval& b) {
  if (CompareAffine(a.begin, b.begin) < 0 && CompareAffine(a.end, b.begin) <= 0)
    return false;
  if (CompareAffine(a.begin, b.end) >= 0) return false;
  return true;
}

bool AnyOverlaps(const std::vector<Interval>& dels, const std::string& key) {
  Interval point = Point(key);
  for (const Interval& del : dels) {
    if (Overlaps(point, del)) return true;
  }
  return false;
}

struct Writes {
  std::set<std::string> puts;
  std::vector<Interval> dels;
};

// Follows etcd 3.4's checkIntervals: the puts of one branch, including the
// branches of nested transactions, must be distinct and must not fall in any
// of its deletes. The two branches of a nested transaction may put the same
// key because only one of them runs.
base::StatusOr<Writes> CheckIntervals(const std::vector<RequestOp>& ops) {
  Writes writes;
  for (const RequestOp& op : ops) {
    const auto* del = std::get_if<DeleteRangeRequest>(&op.request);
    if (del == nullptr) continue;
    writes.dels.push_back(del->range_end.empty()
                              ? Point(del->key)
                              : Interval{del->key, del->range_end});
  }

  for (const RequestOp& op : ops) {
    const auto* txn =
        std::get_if<std::shared_ptr<const TxnRequest>>(&op.request);
    if (txn == nullptr || *txn == nullptr) continue;
    ASSIGN_OR_RETURN(Writes then_writes, CheckIntervals((*txn)->success));
    ASSIGN_OR_RETURN(Writes else_writes, CheckIntervals((*txn)->failure));
    for (const std::string& key : then_writes.puts) {
      if (writes.puts.contains(key) || AnyOverlaps(writes.dels, key)) {
        return ErrDuplicateKey();
      }
      writes.puts.insert(key);
    }
    for (const std::string& key : else_writes.puts) {
      if (writes.puts.contains(key) && !then_writes.puts.contains(key)) {
        return ErrDuplicateKey();
      }
      if (AnyOverlaps(writes.dels, key)) return ErrDuplicateKey();
      writes.puts.insert(key);
    }
    writes.dels.insert(writes.dels.end(), then_writes.dels.begin(),
                       then_writes.dels.end());
    writes.dels.insert(writes.dels.end(), else_writes.dels.begin(),
                       else_writes.dels.end());
  }

  for (const RequestOp& op : ops) {
    const auto* put = std::get_if<PutRequest>(&op.request);
    if (put == nullptr) continue;
    if (writes.puts.contains(put->key) || AnyOverlaps(writes.dels, put->key)) {
      return ErrDuplicateKey();
    }
    writes.puts.insert(put->key);
  }
  return writes;
}

base::Status CheckTxnOps(const TxnRequest& request, int max_ops);

base::Status CheckRequestOp(const RequestOp& op, int max_ops) {
  if (const auto* range = std::get_if<RangeRequest>(&op.request)) {
    return CheckRangeRequest(*range);
  }
  if (const auto* put = std::get_if<PutRequest>(&op.request)) {
    return CheckPutRequest(*put);
  }
  if (const auto* del = std::get_if<DeleteRangeRequest>(&op.request)) {
    return CheckDeleteRangeRequest(*del);
  }
  const auto& txn = std::get<std::shared_ptr<const TxnRequest>>(op.request);
  // etcd 3.4 rejects an empty RequestOp with this (odd) error.
  if (txn == nullptr) return ErrKeyNotFound();
  return CheckTxnOps(*txn, max_ops);
}

// Follows etcd 3.4's checkTxnRequest, including how it passes a shrinking
// operation budget to nested transactions.
base::Status CheckTxnOps(const TxnRequest& request, int max_ops) {
  size_t count = std::max(
      {request.compare.size(), request.success.size(), request.failure.size()});
  if (count > static_cast<size_t>(max_ops)) return ErrTooManyOps();
  for (const Compare& compare : request.compare) {
    if (compare.key.empty()) return ErrEmptyKey();
  }
  int budget = max_ops - static_cast<int>(count);
  for (const RequestOp& op : request.success) {
    RETURN_IF_ERROR(CheckRequestOp(op, budget));
  }
  for (const RequestOp& op : request.failure) {
    RETURN_IF_ERROR(CheckRequestOp(op, budget));
  }
  return base::OkStatus();
}

bool IsReadOnlyOps(const std::vector<RequestOp>& ops) {
  for (const RequestOp& op : ops) {
    if (std::holds_alternative<PutRequest>(op.request) ||
        std::holds_alternative<DeleteRangeRequest>(op.request)) {
      return false;
    }
    const auto* txn =
        std::get_if<std::shared_ptr<const TxnRequest>>(&op.request);
    if (txn != nullptr && *txn != nullptr && !IsReadOnlyTxn(**txn)) {
      return false;
    }
  }
  return true;
}

}  // namespace

base::Status CheckRangeRequest(const RangeRequest& request) {
  if (request.key.empty()) return ErrEmptyKey();
  return base::OkStatus();
}

base::Status CheckPutRequest(const PutRequest& request) {
  if (request.key.empty()) return ErrEmptyKey();
  if (request.ignore_value && !request.value.empty()) {
    return ErrValueProvided();
  }
  if (request.ignore_lease && request.lease != 0) return ErrLeaseProvided();
  return base::OkStatus();
}

base::Status CheckDeleteRangeRequest(const DeleteRangeRequest& request) {
  if (request.key.empty()) return ErrEmptyKey();
  return base::OkStatus();
}

base::Status CheckTxnRequest(const TxnRequest& request) {
  RETURN_IF_ERROR(CheckTxnOps(request, kMaxTxnOps));
  // Like etcd, the overlap check runs after the cheaper checks above.
  RETURN_IF_ERROR(CheckIntervals(request.success).status());
  return CheckIntervals(request.failure).status();
}

bool IsReadOnlyTxn(const TxnRequest& request) {
  return IsReadOnlyOps(request.success) && IsReadOnlyOps(request.failure);
}

}  // namespace etcd
