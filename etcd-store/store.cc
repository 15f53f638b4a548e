#include "etcd-store/store.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace etcd {

namespace {

base::Status Unimplemented(const char* what) {
  return base::Status(
      base::Code::kUnimplemented,
      std::string("etcd-store: this store does not support ") + what);
}

}  // namespace

std::vector<base::StatusOr<PutResponse>> Store::PutBatch(
    const std::vector<PutRequest>& requests) {
  std::vector<base::StatusOr<PutResponse>> responses;
  responses.reserve(requests.size());
  for (const PutRequest& request : requests) {
    responses.push_back(Put(request));
  }
  return responses;
}

base::StatusOr<LeaseGrantResponse> Store::LeaseGrant(
    const LeaseGrantRequest& request) {
  return Unimplemented("leases");
}

base::StatusOr<LeaseRevokeResponse> Store::LeaseRevoke(int64_t id) {
  return Unimplemented("leases");
}

base::StatusOr<LeaseKeepAliveResponse> Store::LeaseKeepAlive(int64_t id) {
  return Unimplemented("leases");
}

base::StatusOr<LeaseTimeToLiveResponse> Store::LeaseTimeToLive(
    const LeaseTimeToLiveRequest& request) {
  return Unimplemented("leases");
}

base::StatusOr<LeaseLeasesResponse> Store::LeaseLeases() {
  return Unimplemented("leases");
}

base::StatusOr<int64_t> Store::Watch(const WatchRequest& request,
                                     WatchCallback callback) {
  return Unimplemented("watches");
}

base::Status Store::CancelWatch(int64_t watch_id) {
  return Unimplemented("watches");
}

base::Status Store::Checkpoint(const std::string& dir) {
  return Unimplemented("checkpoints");
}

base::StatusOr<std::optional<KeyValue>> Get(Store& store,
                                            const std::string& key) {
  RangeRequest request;
  request.key = key;
  ASSIGN_OR_RETURN(RangeResponse response, store.Range(request));
  if (response.kvs.empty()) return std::optional<KeyValue>();
  return std::optional<KeyValue>(std::move(response.kvs.front()));
}

base::StatusOr<int64_t> CompareAndPut(Store& store, const std::string& key,
                                      const std::string& value,
                                      int64_t expected_mod_revision) {
  TxnRequest txn;
  Compare compare;
  compare.target = Compare::Target::kMod;
  compare.result = Compare::Result::kEqual;
  compare.key = key;
  compare.mod_revision = expected_mod_revision;
  txn.compare.push_back(compare);
  PutRequest put;
  put.key = key;
  put.value = value;
  txn.success.push_back({put});

  ASSIGN_OR_RETURN(TxnResponse response, store.Txn(txn));
  if (!response.succeeded) {
    return base::AbortedError("etcd-store: mod_revision of key \"" + key +
                              "\" is not " +
                              std::to_string(expected_mod_revision));
  }
  return response.header.revision;
}

base::Status CompareAndDelete(Store& store, const std::string& key,
                              int64_t expected_mod_revision) {
  TxnRequest txn;
  Compare compare;
  compare.key = key;
  if (expected_mod_revision == 0) {
    // Any revision: the compare only tests that the key exists.
    compare.target = Compare::Target::kCreate;
    compare.result = Compare::Result::kGreater;
  } else {
    compare.target = Compare::Target::kMod;
    compare.result = Compare::Result::kEqual;
    compare.mod_revision = expected_mod_revision;
  }
  txn.compare.push_back(compare);
  DeleteRangeRequest del;
  del.key = key;
  txn.success.push_back({del});
  RangeRequest range;
  range.key = key;
  range.count_only = true;
  txn.failure.push_back({range});

  ASSIGN_OR_RETURN(TxnResponse response, store.Txn(txn));
  if (response.succeeded) return base::OkStatus();
  const auto& current = std::get<RangeResponse>(response.responses[0].response);
  if (current.count == 0) {
    return base::NotFoundError("etcd-store: key \"" + key + "\" not found");
  }
  return base::AbortedError("etcd-store: mod_revision of key \"" + key +
                            "\" is not " +
                            std::to_string(expected_mod_revision));
}

std::string PrefixEnd(const std::string& prefix) {
  // Like etcd's clientv3.GetPrefixRangeEnd: increment the last byte that is
  // not 0xff and drop the bytes after it.
  std::string end = prefix;
  for (int i = static_cast<int>(end.size()) - 1; i >= 0; --i) {
    if (static_cast<unsigned char>(end[i]) < 0xff) {
      end[i] = static_cast<char>(static_cast<unsigned char>(end[i]) + 1);
      end.resize(i + 1);
      return end;
    }
  }
  // Every byte is 0xff (or the prefix is empty): select to the end.
  return std::string(1, '\0');
}

}  // namespace etcd
