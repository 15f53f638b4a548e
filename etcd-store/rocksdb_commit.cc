// Group commit of the RocksDB Store: concurrent writers share one synced
// RocksDB write, and a revision becomes visible only once it is on disk.
#include <rocksdb/write_batch.h>

#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "base/log.h"
#include "etcd-store/rocksdb_store_impl.h"

namespace etcd::rocksdb_internal {

uint64_t RocksDbStore::QueueWrite(TxnContext ctx) {
  if (ctx.changes.empty()) return last_sequence_;
  current_revision_ = ctx.begin_rev + 1;
  // Later writers in the queue read these attachments, and a lease revoke
  // flushes the queue first, so attaching now is safe.
  AttachLeases(ctx);
  unpublished_.push_back({std::move(ctx), ++last_sequence_});
  return last_sequence_;
}

void RocksDbStore::TakeCommitTurn() {
  std::unique_lock lock(turn_mu_);
  if (!turn_taken_) {
    turn_taken_ = true;
    return;
  }
  TurnWaiter waiter;
  waiter.sequence = TurnWaiter::kTurnOnly;
  turn_waiters_.push_back(&waiter);
  waiter.wake.wait(lock, [&] { return waiter.has_turn; });
}

void RocksDbStore::ReleaseCommitTurn() {
  std::lock_guard lock(turn_mu_);
  uint64_t durable = durable_sequence_.load();
  bool failed = sync_failed_.load();
  // Wake each writer whose write is now synced (or failed) once, and hand
  // the turn to the first one still waiting, so that no thread wakes only
  // to sleep again. Notifying under the lock keeps a waiter from returning
  // and destroying its condition variable first.
  TurnWaiter* next = nullptr;
  for (auto it = turn_waiters_.begin(); it != turn_waiters_.end();) {
    TurnWaiter* waiter = *it;
    bool finished = waiter->sequence != TurnWaiter::kTurnOnly &&
                    (waiter->sequence <= durable || failed);
    if (finished) {
      waiter->done = true;
      waiter->wake.notify_one();
    } else if (next == nullptr) {
      next = waiter;
    } else {
      ++it;
      continue;
    }
    it = turn_waiters_.erase(it);
  }
  if (next == nullptr) {
    turn_taken_ = false;
    return;
  }
  next->has_turn = true;
  next->wake.notify_one();
}

base::Status RocksDbStore::WaitDurable(uint64_t sequence) {
  bool synced_by_another = false;
  {
    std::unique_lock lock(turn_mu_);
    if (durable_sequence_.load() >= sequence) return base::OkStatus();
    if (sync_failed_.load()) {
      synced_by_another = true;
    } else if (!turn_taken_) {
      turn_taken_ = true;
    } else {
      TurnWaiter waiter;
      waiter.sequence = sequence;
      turn_waiters_.push_back(&waiter);
      waiter.wake.wait(lock, [&] { return waiter.done || waiter.has_turn; });
      synced_by_another = waiter.done;
    }
  }
  if (synced_by_another) {
    if (durable_sequence_.load() >= sequence) return base::OkStatus();
    std::shared_lock lock(mu_);
    return CheckWritable();
  }

  base::Status status = SyncQueued();
  ReleaseCommitTurn();
  return status;
}

base::Status RocksDbStore::SyncQueued() {
  // Pointers stay valid: only the commit turn's holder removes queued
  // writes, and a deque keeps its elements in place when others are added.
  std::vector<const PendingWrite*> group;
  {
    std::shared_lock lock(mu_);
    for (const PendingWrite& write : unpublished_) group.push_back(&write);
  }
  if (group.empty()) return base::OkStatus();

  // Writers keep applying and queueing while this batch syncs.
  base::Status status = WriteGroup(group);
  std::unique_lock lock(mu_);
  if (!status.ok()) {
    FailQueued(status);
    return status;
  }
  Publish(group.size());
  return base::OkStatus();
}

base::Status RocksDbStore::FlushLocked() {
  if (unpublished_.empty()) return base::OkStatus();
  std::vector<const PendingWrite*> group;
  for (const PendingWrite& write : unpublished_) group.push_back(&write);
  base::Status status = WriteGroup(group);
  if (!status.ok()) {
    FailQueued(status);
    return status;
  }
  Publish(group.size());
  return base::OkStatus();
}

base::Status RocksDbStore::WriteGroup(
    const std::vector<const PendingWrite*>& group) {
  rocksdb::WriteBatch batch;
  for (const PendingWrite* write : group) {
    int64_t rev = write->ctx.begin_rev + 1;
    for (size_t i = 0; i < write->ctx.changes.size(); ++i) {
      const Change& change = write->ctx.changes[i];
      batch.Put(RevisionKey({rev, static_cast<int64_t>(i)}),
                EncodeRecord(change.kv, change.tombstone));
    }
  }
  int64_t last = group.back()->ctx.begin_rev + 1;
  batch.Put(
      rocksdb::Slice(kCurrentRevisionKey.data(), kCurrentRevisionKey.size()),
      EncodeInt64(last));
  return SyncBatch(batch);
}

void RocksDbStore::Publish(size_t count) {
  for (size_t i = 0; i < count; ++i) {
    PendingWrite& write = unpublished_.front();
    visible_revision_ = write.ctx.begin_rev + 1;
    durable_sequence_.store(write.sequence);
    NotifyWatchers(write.ctx);
    unpublished_.pop_front();
  }
}

void RocksDbStore::FailQueued(const base::Status& status) {
  LatchWriteError(status);
  // Undo in reverse order: each rollback removes the newest index entries.
  for (auto it = unpublished_.rbegin(); it != unpublished_.rend(); ++it) {
    DetachLeases(it->ctx);
    Rollback(it->ctx);
  }
  spdlog::error(
      "etcd-store: sync of {} queued writes to {} failed, discarding them: "
      "{}",
      unpublished_.size(), path_, status.ToString());
  unpublished_.clear();
  current_revision_ = visible_revision_;
}

}  // namespace etcd::rocksdb_internal
