// The errors etcd 3.4 returns, with its messages and gRPC codes, so that the
// JSON gateway can report them exactly as etcd's gateway does.
#ifndef ETCD_STORE_ERRORS_H_
#define ETCD_STORE_ERRORS_H_

#include "base/status.h"

namespace etcd {

inline base::Status ErrEmptyKey() {
  return base::InvalidArgumentError("etcdserver: key is not provided");
}
inline base::Status ErrKeyNotFound() {
  return base::InvalidArgumentError("etcdserver: key not found");
}
inline base::Status ErrValueProvided() {
  return base::InvalidArgumentError("etcdserver: value is provided");
}
inline base::Status ErrLeaseProvided() {
  return base::InvalidArgumentError("etcdserver: lease is provided");
}
inline base::Status ErrTooManyOps() {
  return base::InvalidArgumentError(
      "etcdserver: too many operations in txn request");
}
inline base::Status ErrDuplicateKey() {
  return base::InvalidArgumentError(
      "etcdserver: duplicate key given in txn request");
}
inline base::Status ErrCompacted() {
  return base::OutOfRangeError(
      "etcdserver: mvcc: required revision has been compacted");
}
inline base::Status ErrFutureRev() {
  return base::OutOfRangeError(
      "etcdserver: mvcc: required revision is a future revision");
}
inline base::Status ErrLeaseNotFound() {
  return base::NotFoundError("etcdserver: requested lease not found");
}
inline base::Status ErrLeaseExist() {
  return base::Status(base::Code::kFailedPrecondition,
                      "etcdserver: lease already exists");
}
inline base::Status ErrLeaseTtlTooLarge() {
  return base::OutOfRangeError("etcdserver: too large lease TTL");
}

}  // namespace etcd

#endif  // ETCD_STORE_ERRORS_H_
