// Request validation that etcd 3.4 performs in its gRPC layer before a
// request reaches the MVCC store: empty keys, flags that contradict the
// request, the operation limit of a transaction and overlapping writes.
#ifndef ETCD_STORE_REQUEST_CHECK_H_
#define ETCD_STORE_REQUEST_CHECK_H_

#include "base/status.h"
#include "etcd-store/store.h"

namespace etcd {

// etcd's default --max-txn-ops.
inline constexpr int kMaxTxnOps = 128;

base::Status CheckRangeRequest(const RangeRequest& request);
base::Status CheckPutRequest(const PutRequest& request);
base::Status CheckDeleteRangeRequest(const DeleteRangeRequest& request);
// Checks the operation count, every nested operation and etcd's rule that a
// branch may not write one key twice or put a key that it also deletes
// ("etcdserver: duplicate key given in txn request").
base::Status CheckTxnRequest(const TxnRequest& request);

// Returns true when no branch of `request`, at any depth, writes.
bool IsReadOnlyTxn(const TxnRequest& request);

}  // namespace etcd

#endif  // ETCD_STORE_REQUEST_CHECK_H_
