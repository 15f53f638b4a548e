// Internal: the Store implementation over a real etcd cluster, reached
// through the v3 JSON gateway that every etcd 3.4 member serves on its
// client port. Split over remote_store.cc (requests, connection pool and
// failover) and remote_watch.cc (watch streams).
//
// Failover follows etcd's Go client (clientv3 3.4): requests go to one
// member until it fails, then to the next. A request that may have reached
// a member is retried elsewhere only when repeating it is harmless: reads,
// time-to-live and keep-alive. A write whose outcome is unknown fails with
// kUnavailable, so that it is never applied twice.
#ifndef ETCD_STORE_REMOTE_STORE_IMPL_H_
#define ETCD_STORE_REMOTE_STORE_IMPL_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "etcd-store/remote_http.h"
#include "etcd-store/store.h"

namespace etcd::remote_internal {

class EtcdStore final : public Store {
 public:
  EtcdStore(std::vector<Endpoint> endpoints, const EtcdClientOptions& options);
  // Cancels every watch and joins their threads.
  ~EtcdStore() override;

  base::StatusOr<RangeResponse> Range(const RangeRequest& request) override;
  base::StatusOr<PutResponse> Put(const PutRequest& request) override;
  base::StatusOr<DeleteRangeResponse> DeleteRange(
      const DeleteRangeRequest& request) override;
  base::StatusOr<TxnResponse> Txn(const TxnRequest& request) override;
  base::StatusOr<CompactionResponse> Compact(int64_t revision) override;
  // Returns 0 when no member responds.
  int64_t CurrentRevision() override;

  base::StatusOr<LeaseGrantResponse> LeaseGrant(
      const LeaseGrantRequest& request) override;
  base::StatusOr<LeaseRevokeResponse> LeaseRevoke(int64_t id) override;
  base::StatusOr<LeaseKeepAliveResponse> LeaseKeepAlive(int64_t id) override;
  base::StatusOr<LeaseTimeToLiveResponse> LeaseTimeToLive(
      const LeaseTimeToLiveRequest& request) override;
  base::StatusOr<LeaseLeasesResponse> LeaseLeases() override;

  base::StatusOr<int64_t> Watch(const WatchRequest& request,
                                WatchCallback callback) override;
  base::Status CancelWatch(int64_t watch_id) override;

 private:
  enum class Retry {
    // The request changes nothing when repeated.
    kIdempotent,
    // Retried only when it certainly did not reach etcd.
    kOnlyIfNotSent,
  };

  struct RemoteWatch {
    int64_t id = 0;
    WatchRequest request;
    WatchCallback callback;
    // The revision to resume from when the stream breaks.
    int64_t next_revision = 0;

    // Held while the callback runs, so CancelWatch waits for a running
    // callback; recursive because a callback may cancel its own watch.
    std::recursive_mutex deliver_mu;
    bool active = true;  // guarded by deliver_mu

    std::mutex mu;
    std::condition_variable stopped;
    bool stopping = false;                   // guarded by mu
    std::unique_ptr<HttpLineStream> stream;  // guarded by mu
    std::thread thread;
  };

  // remote_store.cc.
  // Sends one request, failing over between members, and returns the body
  // of the 200 response; etcd's errors come back as their Status.
  base::StatusOr<std::string> Call(const std::string& path,
                                   const std::string& body, Retry retry);
  base::StatusOr<std::unique_ptr<HttpConnection>> TakeConnection(
      size_t member, std::chrono::milliseconds timeout);
  void ReturnConnection(size_t member,
                        std::unique_ptr<HttpConnection> connection);
  size_t PreferredMember();
  // Moves the preference past `member` after it failed.
  void MemberFailed(size_t member, const base::Status& status);
  void MemberAnswered(size_t member);
  std::chrono::milliseconds Remaining(
      std::chrono::steady_clock::time_point deadline) const;

  // remote_watch.cc.
  // Opens a watch stream on the first member that responds and reads its
  // creation response.
  base::StatusOr<std::unique_ptr<HttpLineStream>> OpenWatchStream(
      const WatchRequest& request, WatchResponse& created);
  void RunWatch(std::shared_ptr<RemoteWatch> watch);
  // Returns false once the watch stops or was canceled by etcd.
  bool Deliver(RemoteWatch& watch, WatchResponse response);
  // Reopens a broken stream from watch.next_revision, waiting between
  // rounds over the members; returns false when the watch is stopping.
  bool Resume(RemoteWatch& watch);

  // Constant after construction.
  const std::vector<Endpoint> endpoints_;
  const std::chrono::milliseconds timeout_;
  const std::chrono::milliseconds retry_delay_;

  std::mutex pool_mu_;
  size_t preferred_ = 0;  // guarded by pool_mu_
  // Idle keep-alive connections, per member.
  std::vector<std::vector<std::unique_ptr<HttpConnection>>>
      idle_;  // guarded by pool_mu_
  // Members whose last request failed; only for logging.
  std::vector<bool> down_;  // guarded by pool_mu_

  std::mutex watch_mu_;
  std::map<int64_t, std::shared_ptr<RemoteWatch>>
      watches_;                // guarded by watch_mu_
  int64_t next_watch_id_ = 1;  // guarded by watch_mu_
};

}  // namespace etcd::remote_internal

#endif  // ETCD_STORE_REMOTE_STORE_IMPL_H_
