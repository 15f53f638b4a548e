// Leases of the RocksDB Store, following etcd 3.4's lessor: a lease record
// holds the granted TTL; expiry lives in memory and restarts at the full TTL
// when the store reopens, as etcd's leader does on promotion.
#include <rocksdb/iterator.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "base/log.h"
#include "etcd-store/errors.h"
#include "etcd-store/rocksdb_store_impl.h"

namespace etcd::rocksdb_internal {

base::Status RocksDbStore::RecoverLeases() {
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions()));
  base::Time now = clock_.Now();
  for (it->Seek(std::string(1, kLeasePrefix));
       it->Valid() && it->key()[0] == kLeasePrefix; it->Next()) {
    if (it->key().size() != 9 || it->value().size() != 8) {
      return base::DataLossError("etcd-store: malformed lease record in " +
                                 path_);
    }
    int64_t id = DecodeInt64(it->key().ToStringView().substr(1));
    Lease& lease = leases_[id];
    lease.ttl = DecodeInt64(it->value().ToStringView());
    lease.expiry = now + std::chrono::seconds(lease.ttl);
    ScheduleExpiry(id, lease);
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "scanning leases failed"));

  // Attach every live key to its lease.
  for (const auto& [key, history] : index_) {
    const IndexEntry& last = history.back();
    if (last.tombstone || last.lease == 0) continue;
    auto lease = leases_.find(last.lease);
    if (lease != leases_.end()) lease->second.keys.insert(key);
  }
  return base::OkStatus();
}

bool RocksDbStore::LeaseExists(int64_t id) const {
  return leases_.contains(id);
}

void RocksDbStore::AttachLeases(const TxnContext& ctx) {
  for (const Change& change : ctx.changes) {
    if (change.previous_lease != 0) {
      auto lease = leases_.find(change.previous_lease);
      if (lease != leases_.end()) lease->second.keys.erase(change.kv.key);
    }
    if (!change.tombstone && change.kv.lease != 0) {
      auto lease = leases_.find(change.kv.lease);
      if (lease != leases_.end()) lease->second.keys.insert(change.kv.key);
    }
  }
}

void RocksDbStore::DetachLeases(const TxnContext& ctx) {
  for (auto it = ctx.changes.rbegin(); it != ctx.changes.rend(); ++it) {
    if (!it->tombstone && it->kv.lease != 0) {
      auto lease = leases_.find(it->kv.lease);
      if (lease != leases_.end()) lease->second.keys.erase(it->kv.key);
    }
    if (it->previous_lease != 0) {
      auto lease = leases_.find(it->previous_lease);
      if (lease != leases_.end()) lease->second.keys.insert(it->kv.key);
    }
  }
}

void RocksDbStore::ScheduleExpiry(int64_t id, Lease& lease) {
  if (lease.timer != 0) clock_.Cancel(lease.timer);
  lease.timer =
      clock_.ScheduleAt(lease.expiry, [this, guard = timer_guard_, id] {
        std::lock_guard lock(guard->mu);
        if (guard->alive) ExpireLease(id);
      });
}

void RocksDbStore::ExpireLease(int64_t id) {
  {
    CommitTurn commit(*this);
    std::unique_lock lock(mu_);
    auto lease = leases_.find(id);
    if (lease == leases_.end()) return;
    if (lease->second.expiry > clock_.Now()) {
      // A keep-alive moved the expiry after this timer was scheduled, or a
      // wall clock fired early: wait for the current expiry.
      ScheduleExpiry(id, lease->second);
      return;
    }
    lease->second.timer = 0;
    base::Status status = CheckWritable();
    if (status.ok()) status = FlushLocked();
    if (status.ok()) status = RevokeLocked(id);
    if (!status.ok()) {
      spdlog::error("etcd-store: revoking expired lease {} failed: {}", id,
                    status.ToString());
      return;
    }
  }
  DeliverQueued();
}

base::Status RocksDbStore::RevokeLocked(int64_t id) {
  Lease& lease = leases_.at(id);
  // Copy the keys: committing the deletions detaches them from the lease.
  std::vector<std::string> keys(lease.keys.begin(), lease.keys.end());
  TxnContext ctx{current_revision_, {}};
  for (const std::string& key : keys) {
    DeleteRangeRequest request;
    request.key = key;
    base::StatusOr<DeleteRangeResponse> deleted = DeleteLocked(ctx, request);
    if (!deleted.ok()) {
      Rollback(ctx);
      return deleted.status();
    }
  }
  rocksdb::WriteBatch batch;
  batch.Delete(LeaseKey(id));
  RETURN_IF_ERROR(Commit(ctx, batch));
  if (lease.timer != 0) clock_.Cancel(lease.timer);
  leases_.erase(id);
  return base::OkStatus();
}

base::StatusOr<LeaseGrantResponse> RocksDbStore::LeaseGrant(
    const LeaseGrantRequest& request) {
  CommitTurn commit(*this);
  std::unique_lock lock(mu_);
  RETURN_IF_ERROR(CheckWritable());
  RETURN_IF_ERROR(FlushLocked());
  if (request.ttl > kMaxLeaseTtl) return ErrLeaseTtlTooLarge();
  if (request.id != 0 && leases_.contains(request.id)) return ErrLeaseExist();

  rocksdb::WriteBatch batch;
  int64_t id = request.id;
  int64_t next_lease_id = next_lease_id_;
  if (id == 0) {
    while (leases_.contains(next_lease_id)) ++next_lease_id;
    id = next_lease_id++;
    batch.Put(rocksdb::Slice(kNextLeaseIdKey.data(), kNextLeaseIdKey.size()),
              EncodeInt64(next_lease_id));
  }
  int64_t ttl = std::max(request.ttl, kMinLeaseTtl);
  batch.Put(LeaseKey(id), EncodeInt64(ttl));
  RETURN_IF_ERROR(WriteBatch(batch));

  next_lease_id_ = next_lease_id;
  Lease& lease = leases_[id];
  lease.ttl = ttl;
  lease.expiry = clock_.Now() + std::chrono::seconds(ttl);
  ScheduleExpiry(id, lease);

  LeaseGrantResponse response;
  response.header.revision = visible_revision_;
  response.id = id;
  response.ttl = ttl;
  return response;
}

base::StatusOr<LeaseRevokeResponse> RocksDbStore::LeaseRevoke(int64_t id) {
  LeaseRevokeResponse response;
  {
    CommitTurn commit(*this);
    std::unique_lock lock(mu_);
    RETURN_IF_ERROR(CheckWritable());
    RETURN_IF_ERROR(FlushLocked());
    if (!leases_.contains(id)) return ErrLeaseNotFound();
    RETURN_IF_ERROR(RevokeLocked(id));
    response.header.revision = visible_revision_;
  }
  DeliverQueued();
  return response;
}

base::StatusOr<LeaseKeepAliveResponse> RocksDbStore::LeaseKeepAlive(
    int64_t id) {
  std::unique_lock lock(mu_);
  LeaseKeepAliveResponse response;
  response.header.revision = visible_revision_;
  response.id = id;
  auto lease = leases_.find(id);
  if (lease == leases_.end()) return response;

  lease->second.expiry = clock_.Now() + std::chrono::seconds(lease->second.ttl);
  ScheduleExpiry(id, lease->second);
  response.ttl = lease->second.ttl;
  return response;
}

base::StatusOr<LeaseTimeToLiveResponse> RocksDbStore::LeaseTimeToLive(
    const LeaseTimeToLiveRequest& request) {
  std::shared_lock lock(mu_);
  LeaseTimeToLiveResponse response;
  response.header.revision = visible_revision_;
  response.id = request.id;
  auto lease = leases_.find(request.id);
  if (lease == leases_.end()) {
    response.ttl = -1;
    return response;
  }

  // etcd truncates the remaining time to whole seconds.
  auto remaining = std::chrono::duration_cast<std::chrono::seconds>(
      lease->second.expiry - clock_.Now());
  response.ttl = std::max<int64_t>(remaining.count(), 0);
  response.granted_ttl = lease->second.ttl;
  if (request.keys) {
    response.keys.assign(lease->second.keys.begin(), lease->second.keys.end());
  }
  return response;
}

base::StatusOr<LeaseLeasesResponse> RocksDbStore::LeaseLeases() {
  std::shared_lock lock(mu_);
  LeaseLeasesResponse response;
  response.header.revision = visible_revision_;
  for (const auto& [id, lease] : leases_) response.ids.push_back(id);
  return response;
}

}  // namespace etcd::rocksdb_internal
