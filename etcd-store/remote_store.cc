// The etcd Store: requests, the connection pool and failover.
#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/log.h"
#include "etcd-store/remote_http.h"
#include "etcd-store/remote_json.h"
#include "etcd-store/remote_store_impl.h"
#include "etcd-store/request_check.h"
#include "etcd-store/store.h"

namespace etcd::remote_internal {
namespace {

// Idle connections kept per member; more are closed after use.
constexpr size_t kMaxIdlePerMember = 64;

// gRPC's UNAVAILABLE, which etcd returns for "no leader", "leader changed",
// "request timed out" and a stopping server.
constexpr int kGrpcUnavailable = 14;

// Returns true when etcd rejected the request before proposing it, so that
// even a write may go to another member.
bool RejectedBeforeProposal(const GatewayError& error) {
  return error.grpc_code == kGrpcUnavailable &&
         (error.message == "etcdserver: no leader" ||
          error.message == "etcdserver: server stopped");
}

}  // namespace

EtcdStore::EtcdStore(std::vector<Endpoint> endpoints,
                     const EtcdClientOptions& options)
    : endpoints_(std::move(endpoints)),
      timeout_(options.request_timeout),
      retry_delay_(options.retry_delay),
      idle_(endpoints_.size()),
      down_(endpoints_.size(), false) {}

EtcdStore::~EtcdStore() {
  std::vector<int64_t> ids;
  {
    std::lock_guard lock(watch_mu_);
    for (const auto& [id, watch] : watches_) ids.push_back(id);
  }
  for (int64_t id : ids) (void)CancelWatch(id);
}

std::chrono::milliseconds EtcdStore::Remaining(
    std::chrono::steady_clock::time_point deadline) const {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return std::max(left, std::chrono::milliseconds(1));
}

size_t EtcdStore::PreferredMember() {
  std::lock_guard lock(pool_mu_);
  return preferred_;
}

void EtcdStore::MemberFailed(size_t member, const base::Status& status) {
  std::vector<std::unique_ptr<HttpConnection>> dropped;
  bool was_up = false;
  {
    std::lock_guard lock(pool_mu_);
    was_up = !down_[member];
    down_[member] = true;
    // Another caller may have moved on already.
    if (preferred_ == member) preferred_ = (member + 1) % endpoints_.size();
    dropped = std::move(idle_[member]);
    idle_[member].clear();
  }
  // Log once per outage, not once per retry.
  if (was_up) {
    spdlog::warn("etcd-store: etcd member {} failed, trying the others: {}",
                 endpoints_[member].ToString(), status.ToString());
  }
}

void EtcdStore::MemberAnswered(size_t member) {
  {
    std::lock_guard lock(pool_mu_);
    if (!down_[member]) return;
    down_[member] = false;
  }
  spdlog::info("etcd-store: etcd member {} responds again",
               endpoints_[member].ToString());
}

base::StatusOr<std::unique_ptr<HttpConnection>> EtcdStore::TakeConnection(
    size_t member, std::chrono::milliseconds timeout) {
  while (true) {
    std::unique_ptr<HttpConnection> connection;
    {
      std::lock_guard lock(pool_mu_);
      if (idle_[member].empty()) break;
      connection = std::move(idle_[member].back());
      idle_[member].pop_back();
    }
    // A member that restarted closed its old connections.
    if (!connection->IsBroken()) return connection;
  }
  return HttpConnection::Connect(endpoints_[member], timeout);
}

void EtcdStore::ReturnConnection(size_t member,
                                 std::unique_ptr<HttpConnection> connection) {
  if (connection->IsBroken()) return;
  std::lock_guard lock(pool_mu_);
  if (idle_[member].size() < kMaxIdlePerMember) {
    idle_[member].push_back(std::move(connection));
  }
}

base::StatusOr<std::string> EtcdStore::Call(const std::string& path,
                                            const std::string& body,
                                            Retry retry) {
  auto deadline = std::chrono::steady_clock::now() + timeout_;
  base::Status last_error;
  for (int attempt = 0;; ++attempt) {
    if (attempt > 0 && attempt % endpoints_.size() == 0) {
      // A whole round failed, as during an election: pause before the next.
      // NOTE: this waits on the real clock, because the cluster runs on it.
      if (std::chrono::steady_clock::now() + retry_delay_ >= deadline) break;
      std::this_thread::sleep_for(retry_delay_);
    }
    if (std::chrono::steady_clock::now() >= deadline) break;

    size_t member = PreferredMember();
    base::StatusOr<std::unique_ptr<HttpConnection>> connection =
        TakeConnection(member, Remaining(deadline));
    if (!connection.ok()) {
      last_error = connection.status();
      MemberFailed(member, last_error);
      continue;
    }

    bool sent = false;
    base::StatusOr<HttpResult> result =
        (*connection)->Post(path, body, Remaining(deadline), sent);
    if (!result.ok()) {
      last_error = result.status();
      MemberFailed(member, last_error);
      if (!sent || retry == Retry::kIdempotent) continue;
      return base::UnavailableError(
          "etcd-store: lost the reply to " + path + " from " +
          endpoints_[member].ToString() +
          "; etcd may or may not have applied it: " + last_error.message());
    }
    ReturnConnection(member, std::move(*connection));
    MemberAnswered(member);
    if (result->status == 200) return std::move(result->body);

    GatewayError error = DecodeError(result->status, result->body);
    bool retryable =
        error.grpc_code == kGrpcUnavailable &&
        (retry == Retry::kIdempotent || RejectedBeforeProposal(error));
    if (!retryable) return ErrorStatus(error);
    last_error = ErrorStatus(error);
    MemberFailed(member, last_error);
  }
  return base::UnavailableError(
      "etcd-store: no etcd member responded to " + path +
      " in time; last error: " + last_error.ToString());
}

base::StatusOr<RangeResponse> EtcdStore::Range(const RangeRequest& request) {
  ASSIGN_OR_RETURN(std::string body, Call("/v3/kv/range", EncodeRange(request),
                                          Retry::kIdempotent));
  return DecodeRange(body);
}

base::StatusOr<PutResponse> EtcdStore::Put(const PutRequest& request) {
  ASSIGN_OR_RETURN(std::string body, Call("/v3/kv/put", EncodePut(request),
                                          Retry::kOnlyIfNotSent));
  return DecodePut(body);
}

base::StatusOr<DeleteRangeResponse> EtcdStore::DeleteRange(
    const DeleteRangeRequest& request) {
  ASSIGN_OR_RETURN(std::string body,
                   Call("/v3/kv/deleterange", EncodeDeleteRange(request),
                        Retry::kOnlyIfNotSent));
  return DecodeDeleteRange(body);
}

base::StatusOr<TxnResponse> EtcdStore::Txn(const TxnRequest& request) {
  Retry retry =
      IsReadOnlyTxn(request) ? Retry::kIdempotent : Retry::kOnlyIfNotSent;
  ASSIGN_OR_RETURN(std::string body,
                   Call("/v3/kv/txn", EncodeTxn(request), retry));
  return DecodeTxn(body);
}

base::StatusOr<CompactionResponse> EtcdStore::Compact(int64_t revision) {
  ASSIGN_OR_RETURN(std::string body,
                   Call("/v3/kv/compaction", EncodeCompaction(revision),
                        Retry::kOnlyIfNotSent));
  return DecodeCompaction(body);
}

int64_t EtcdStore::CurrentRevision() {
  // The header of any linearizable read carries the current revision; a
  // count of one key is the cheapest such read.
  RangeRequest request;
  request.key = std::string(1, '\0');
  request.count_only = true;
  base::StatusOr<RangeResponse> response = Range(request);
  if (!response.ok()) {
    spdlog::warn("etcd-store: reading the current revision failed: {}",
                 response.status().ToString());
    return 0;
  }
  return response->header.revision;
}

base::StatusOr<LeaseGrantResponse> EtcdStore::LeaseGrant(
    const LeaseGrantRequest& request) {
  ASSIGN_OR_RETURN(std::string body,
                   Call("/v3/lease/grant", EncodeLeaseGrant(request),
                        Retry::kOnlyIfNotSent));
  return DecodeLeaseGrant(body);
}

base::StatusOr<LeaseRevokeResponse> EtcdStore::LeaseRevoke(int64_t id) {
  ASSIGN_OR_RETURN(std::string body, Call("/v3/lease/revoke", EncodeLeaseId(id),
                                          Retry::kOnlyIfNotSent));
  return DecodeLeaseRevoke(body);
}

base::StatusOr<LeaseKeepAliveResponse> EtcdStore::LeaseKeepAlive(int64_t id) {
  // The gateway's keep-alive is a stream that ends with the request body,
  // so one request body yields one response line.
  ASSIGN_OR_RETURN(
      std::string body,
      Call("/v3/lease/keepalive", EncodeLeaseId(id), Retry::kIdempotent));
  return DecodeLeaseKeepAlive(body);
}

base::StatusOr<LeaseTimeToLiveResponse> EtcdStore::LeaseTimeToLive(
    const LeaseTimeToLiveRequest& request) {
  ASSIGN_OR_RETURN(std::string body,
                   Call("/v3/lease/timetolive", EncodeLeaseTimeToLive(request),
                        Retry::kIdempotent));
  return DecodeLeaseTimeToLive(body);
}

base::StatusOr<LeaseLeasesResponse> EtcdStore::LeaseLeases() {
  ASSIGN_OR_RETURN(std::string body,
                   Call("/v3/lease/leases", "{}", Retry::kIdempotent));
  return DecodeLeaseLeases(body);
}

}  // namespace etcd::remote_internal

namespace etcd {

base::StatusOr<std::unique_ptr<Store>> OpenEtcdStore(
    const EtcdClientOptions& options) {
  if (options.endpoints.empty()) {
    return base::InvalidArgumentError(
        "etcd-store: no etcd endpoints given; expected host:port");
  }
  std::vector<remote_internal::Endpoint> endpoints;
  for (const std::string& text : options.endpoints) {
    ASSIGN_OR_RETURN(remote_internal::Endpoint endpoint,
                     remote_internal::ParseEndpoint(text));
    endpoints.push_back(std::move(endpoint));
  }
  auto store = std::make_unique<remote_internal::EtcdStore>(
      std::move(endpoints), options);

  RangeRequest probe;
  probe.key = std::string(1, '\0');
  probe.count_only = true;
  base::StatusOr<RangeResponse> answer = store->Range(probe);
  if (!answer.ok()) return answer.status();
  spdlog::info(
      "etcd-store: opened etcd store on {} at revision {}",
      options.endpoints.front() +
          (options.endpoints.size() > 1
               ? " and " + std::to_string(options.endpoints.size() - 1) +
                     " more members"
               : ""),
      answer->header.revision);
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace etcd
