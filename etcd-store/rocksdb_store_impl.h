// Internal: the RocksDB implementation of Store, modelled on etcd 3.4's mvcc
// package and lessor. Split over rocksdb_store.cc (keys and revisions),
// rocksdb_commit.cc (group commit), rocksdb_lease.cc and rocksdb_watch.cc.
//
// Group commit: a put, delete or writing transaction applies its changes to
// the in-memory index under mu_, takes the next revision and queues itself
// in unpublished_. Then, outside mu_, it waits until its write is synced or
// no sync runs. In the second case it takes the commit turn and writes every
// queued change in one synced RocksDB batch, so writers that queued during
// the previous sync share the next one. Only then do the revisions become
// visible: readers and watchers see visible_revision_, never a revision
// that is not yet on disk. Rare writes (leases, compaction) take the commit
// turn and mu_ together, flush the queue and write on their own.
//
// RocksDB holds one record per change, keyed by its revision (main, sub) as
// etcd's backend does, one record per lease, and metadata records: the
// current revision, the compacted revision and the next lease id. An
// in-memory index (key -> revisions, like etcd's treeIndex) is rebuilt from
// the records on open; values are read from RocksDB.
#ifndef ETCD_STORE_ROCKSDB_STORE_IMPL_H_
#define ETCD_STORE_ROCKSDB_STORE_IMPL_H_

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "etcd-store/store.h"

namespace etcd::rocksdb_internal {

inline constexpr std::string_view kCurrentRevisionKey =
    "\x01meta/current_revision";
inline constexpr std::string_view kCompactRevisionKey =
    "\x01meta/compact_revision";
inline constexpr std::string_view kNextLeaseIdKey = "\x01meta/next_lease_id";
inline constexpr char kRevisionPrefix = 'r';
inline constexpr char kLeasePrefix = 'l';

struct Revision {
  int64_t main = 0;
  int64_t sub = 0;
  friend auto operator<=>(const Revision&, const Revision&) = default;
};

std::string EncodeInt64(int64_t v);
int64_t DecodeInt64(std::string_view in);  // REQUIRES: in.size() >= 8
std::string RevisionKey(Revision rev);
std::string LeaseKey(int64_t id);
// Encodes a revision record: a tombstone flag, then every KeyValue field.
std::string EncodeRecord(const KeyValue& kv, bool tombstone);
bool DecodeRecord(std::string_view in, KeyValue& kv, bool& tombstone);
base::Status FromRocks(const rocksdb::Status& s, std::string_view what);

// Returns true when `key` falls in [begin, range_end) with etcd's range_end
// conventions.
bool KeyInRange(const std::string& key, const std::string& begin,
                const std::string& range_end);

// Keeps a timer callback from running into a destroyed store: callbacks
// check `alive` under `mu`, and the destructor clears it under `mu`.
struct TimerGuard {
  std::mutex mu;
  bool alive = true;  // guarded by mu
};

class RocksDbStore final : public Store {
 public:
  RocksDbStore(std::unique_ptr<rocksdb::DB> db, base::Clock& clock,
               RocksDbOptions options, std::string path);
  ~RocksDbStore() override;

  base::Status Recover();

  base::StatusOr<RangeResponse> Range(const RangeRequest& request) override;
  base::StatusOr<PutResponse> Put(const PutRequest& request) override;
  std::vector<base::StatusOr<PutResponse>> PutBatch(
      const std::vector<PutRequest>& requests) override;
  base::StatusOr<DeleteRangeResponse> DeleteRange(
      const DeleteRangeRequest& request) override;
  base::StatusOr<TxnResponse> Txn(const TxnRequest& request) override;
  base::StatusOr<CompactionResponse> Compact(int64_t revision) override;
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
  base::Status Checkpoint(const std::string& dir) override;

 private:
  struct IndexEntry {
    Revision rev;
    int64_t create_revision = 0;
    int64_t version = 0;
    int64_t lease = 0;
    bool tombstone = false;
  };

  struct Change {
    KeyValue kv;
    bool tombstone = false;
    int64_t previous_lease = 0;  // the lease the key had before the change
  };

  // The state of one transaction: reads see the index as of begin_rev plus
  // this transaction's own changes, which all get revision begin_rev + 1.
  // Writers begin at current_revision_, readers at visible_revision_.
  struct TxnContext {
    int64_t begin_rev = 0;
    std::vector<Change> changes;

    int64_t ReadRevision() const {
      return changes.empty() ? begin_rev : begin_rev + 1;
    }
  };

  // The branch each (nested) transaction takes, decided before any write.
  struct TxnPath {
    bool succeeded = false;
    std::vector<TxnPath> nested;
  };

  // A write applied to the index and waiting for its group's sync. Each
  // has exactly one revision: unpublished_[i] has visible_revision_ + 1 + i.
  struct PendingWrite {
    TxnContext ctx;
    uint64_t sequence = 0;
  };

  struct LiveKey {
    const std::string* key;
    const IndexEntry* entry;
  };

  struct Lease {
    int64_t ttl = 0;  // seconds
    base::Time expiry;
    std::set<std::string> keys;
    base::Clock::TimerId timer = 0;
  };

  struct Watcher {
    int64_t id = 0;
    WatchRequest request;
    // Events below this revision were already sent as history.
    int64_t min_revision = 0;
    WatchCallback callback;
    // Held while the callback runs, so CancelWatch waits for a running
    // callback; recursive because a callback may cancel its own watch.
    std::recursive_mutex deliver_mu;
    bool active = true;  // guarded by deliver_mu
    // For progress_notify: whether events went out since the last progress
    // interval ended, and the timer that ends the current one.
    bool sent_events = false;        // guarded by mu_
    base::Clock::TimerId timer = 0;  // guarded by mu_
  };

  // rocksdb_store.cc: the key space.
  static const IndexEntry* FindAt(const std::vector<IndexEntry>& history,
                                  int64_t rev);
  std::vector<LiveKey> LiveKeys(const std::string& key,
                                const std::string& range_end,
                                int64_t rev) const;
  base::StatusOr<KeyValue> LoadKeyValue(const TxnContext& ctx,
                                        Revision rev) const;
  base::Status RecoverRevisions();

  base::StatusOr<RangeResponse> RangeLocked(const TxnContext& ctx,
                                            const RangeRequest& request) const;
  base::StatusOr<PutResponse> PutLocked(TxnContext& ctx,
                                        const PutRequest& request);
  // Checks, applies and queues one put. REQUIRES: mu_ held exclusively.
  base::StatusOr<PutResponse> QueuePut(const PutRequest& request,
                                       uint64_t& sequence);
  base::StatusOr<DeleteRangeResponse> DeleteLocked(
      TxnContext& ctx, const DeleteRangeRequest& request);
  void AppendChange(TxnContext& ctx, KeyValue kv, bool tombstone,
                    int64_t previous_lease);

  bool CompareHolds(const TxnContext& ctx, const Compare& compare) const;
  TxnPath DecidePath(const TxnContext& ctx, const TxnRequest& request) const;
  base::Status CheckTxnOps(const TxnContext& ctx, const TxnRequest& request,
                           const TxnPath& path, bool check_puts) const;
  base::StatusOr<TxnResponse> ApplyTxn(TxnContext& ctx,
                                       const TxnRequest& request,
                                       const TxnPath& path);
  // Decides, checks and applies a transaction in `ctx`. REQUIRES: mu_
  // held, exclusively when `writes`.
  base::StatusOr<TxnResponse> TxnLocked(TxnContext& ctx,
                                        const TxnRequest& request, bool writes);
  base::StatusOr<CompactionResponse> CompactLocked(int64_t revision);

  base::Status CheckWritable() const;
  // For rare writes. REQUIRES: the commit turn and mu_ held, unpublished_
  // empty.
  // Writes the transaction's changes plus whatever `batch` already holds,
  // then updates leases and queues watch events. Rolls the index back when
  // the write fails.
  base::Status Commit(TxnContext& ctx, rocksdb::WriteBatch& batch);
  void Rollback(const TxnContext& ctx);
  // Writes `batch` to RocksDB, synced unless options_.sync is off.
  base::Status SyncBatch(rocksdb::WriteBatch& batch);
  // Remembers the first failed write so that every later write fails.
  // REQUIRES: mu_ held exclusively.
  void LatchWriteError(const base::Status& status);
  // SyncBatch, then LatchWriteError on failure. REQUIRES: mu_ held
  // exclusively.
  base::Status WriteBatch(rocksdb::WriteBatch& batch);

  // rocksdb_commit.cc: group commit.
  // Queues a write that the index already contains and returns the
  // sequence number to wait for. A context without changes queues nothing
  // and returns the last queued write's number, because it read the state
  // that write left. REQUIRES: mu_ held exclusively.
  uint64_t QueueWrite(TxnContext ctx);
  // Returns once the write with `sequence` is synced and visible, syncing
  // it and every other queued write if no other thread is. Fails when that
  // sync failed; the store then rejects writes. REQUIRES: mu_ not held.
  base::Status WaitDurable(uint64_t sequence);
  // Syncs every queued write. REQUIRES: the commit turn held, mu_ not held.
  base::Status SyncQueued();
  // Syncs every queued write. REQUIRES: the commit turn and mu_ held.
  base::Status FlushLocked();
  // Writes the changes of `group` in one batch.
  base::Status WriteGroup(const std::vector<const PendingWrite*>& group);
  // Makes the first `count` queued writes visible and notifies watchers.
  // REQUIRES: mu_ held exclusively.
  void Publish(size_t count);
  // Undoes every queued write after a failed sync. REQUIRES: mu_ held
  // exclusively.
  void FailQueued(const base::Status& status);

  // The commit turn: the right to write to RocksDB, held by one thread at a
  // time and taken before mu_. Unlike a mutex, a writer waiting for it
  // returns as soon as another holder synced the writer's own write.
  void TakeCommitTurn();
  void ReleaseCommitTurn();
  class CommitTurn {
   public:
    explicit CommitTurn(RocksDbStore& store) : store_(store) {
      store_.TakeCommitTurn();
    }
    ~CommitTurn() { store_.ReleaseCommitTurn(); }

   private:
    RocksDbStore& store_;
  };

  // rocksdb_lease.cc.
  base::Status RecoverLeases();
  bool LeaseExists(int64_t id) const;
  void AttachLeases(const TxnContext& ctx);
  // Undoes AttachLeases.
  void DetachLeases(const TxnContext& ctx);
  void ScheduleExpiry(int64_t id, Lease& lease);
  base::Status RevokeLocked(int64_t id);
  void ExpireLease(int64_t id);

  // rocksdb_watch.cc.
  void NotifyWatchers(const TxnContext& ctx);
  base::StatusOr<std::vector<Event>> HistoryEvents(const WatchRequest& request,
                                                   int64_t from_revision) const;
  std::optional<KeyValue> PreviousKeyValue(const std::string& key,
                                           int64_t revision) const;
  static bool Matches(const WatchRequest& request, const Event& event);
  void Enqueue(std::shared_ptr<Watcher> watcher, WatchResponse response);
  // Queues a new watch's history, split over responses as etcd splits it.
  // REQUIRES: mu_ held exclusively.
  void EnqueueHistory(const std::shared_ptr<Watcher>& watcher,
                      std::vector<Event> events);
  // Schedules the end of the watcher's next progress interval.
  // REQUIRES: mu_ held exclusively.
  void ScheduleProgress(Watcher& watcher);
  // Ends a progress interval: sends a progress response unless events went
  // out during it, and schedules the next one.
  void NotifyProgress(int64_t watch_id);
  // Delivers queued responses in order. Call without holding mu_.
  void DeliverQueued();

  // Constant after construction.
  const std::unique_ptr<rocksdb::DB> db_;
  base::Clock& clock_;
  const RocksDbOptions options_;
  const std::string path_;
  const std::shared_ptr<TimerGuard> timer_guard_;

  // A thread waiting for its write to be synced or for the commit turn.
  struct TurnWaiter {
    // The sequence of a rare write, which waits only for the turn.
    static constexpr uint64_t kTurnOnly = UINT64_MAX;

    std::condition_variable wake;
    uint64_t sequence = 0;
    bool done = false;      // the write is synced, or the sync failed
    bool has_turn = false;  // handed the commit turn
  };

  std::mutex turn_mu_;
  bool turn_taken_ = false;               // guarded by turn_mu_
  std::deque<TurnWaiter*> turn_waiters_;  // guarded by turn_mu_
  // The last write known to be synced, and whether a sync failed; atomic so
  // that writers waiting for the commit turn can read them without mu_.
  std::atomic<uint64_t> durable_sequence_{0};
  std::atomic<bool> sync_failed_{false};

  mutable std::shared_mutex mu_;
  // The revision of the last write applied to the index, synced or not.
  int64_t current_revision_ = 1;  // guarded by mu_
  // The revision of the last synced write: what reads and watches see.
  int64_t visible_revision_ = 1;          // guarded by mu_
  std::deque<PendingWrite> unpublished_;  // guarded by mu_
  uint64_t last_sequence_ = 0;            // guarded by mu_
  // Reads below this revision fail; -1 before the first compaction, as in
  // etcd, so that Compact(0) succeeds once.
  int64_t compact_revision_ = -1;  // guarded by mu_
  // Every key's revisions in ascending order.
  std::map<std::string, std::vector<IndexEntry>> index_;  // guarded by mu_
  // The first failed write; once set, every write fails.
  base::Status write_error_;                              // guarded by mu_
  std::map<int64_t, Lease> leases_;                       // guarded by mu_
  int64_t next_lease_id_ = 1;                             // guarded by mu_
  std::map<int64_t, std::shared_ptr<Watcher>> watchers_;  // guarded by mu_
  int64_t next_watch_id_ = 1;                             // guarded by mu_

  // Responses wait here, in commit order, until delivered outside mu_.
  std::mutex queue_mu_;
  std::deque<std::pair<std::shared_ptr<Watcher>, WatchResponse>>
      queue_;              // guarded by queue_mu_
  bool draining_ = false;  // guarded by queue_mu_
};

}  // namespace etcd::rocksdb_internal

#endif  // ETCD_STORE_ROCKSDB_STORE_IMPL_H_
