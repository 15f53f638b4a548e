// Watches of the RocksDB Store, following etcd 3.4's watchable store: a new
// watch first gets its creation response, then the history from its start
// revision, then one response per committed write with matching events.
// Responses are queued under the store's lock in commit order and delivered
// after it is released, so callbacks may call the store.
#include <rocksdb/iterator.h>

#include <algorithm>
#include <iterator>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "etcd-store/rocksdb_store_impl.h"

namespace etcd::rocksdb_internal {

bool RocksDbStore::Matches(const WatchRequest& request, const Event& event) {
  if (!KeyInRange(event.kv.key, request.key, request.range_end)) return false;
  if (request.filter_put && event.type == Event::Type::kPut) return false;
  if (request.filter_delete && event.type == Event::Type::kDelete) {
    return false;
  }
  return true;
}

std::optional<KeyValue> RocksDbStore::PreviousKeyValue(const std::string& key,
                                                       int64_t revision) const {
  // etcd reads the previous value at revision - 1 and omits it when that
  // revision is compacted.
  int64_t previous = revision - 1;
  if (previous < compact_revision_ || previous <= 0) return std::nullopt;
  auto history = index_.find(key);
  if (history == index_.end()) return std::nullopt;
  const IndexEntry* entry = FindAt(history->second, previous);
  if (entry == nullptr) return std::nullopt;
  TxnContext ctx{visible_revision_, {}};
  base::StatusOr<KeyValue> kv = LoadKeyValue(ctx, entry->rev);
  if (!kv.ok()) return std::nullopt;
  return std::move(*kv);
}

void RocksDbStore::NotifyWatchers(const TxnContext& ctx) {
  int64_t revision = ctx.begin_rev + 1;
  for (const auto& [id, watcher] : watchers_) {
    if (revision < watcher->min_revision) continue;
    WatchResponse response;
    for (const Change& change : ctx.changes) {
      Event event;
      event.type = change.tombstone ? Event::Type::kDelete : Event::Type::kPut;
      event.kv = change.kv;
      if (!Matches(watcher->request, event)) continue;
      if (watcher->request.prev_kv) {
        event.prev_kv = PreviousKeyValue(event.kv.key, revision);
      }
      response.events.push_back(std::move(event));
    }
    if (response.events.empty()) continue;
    response.header.revision = revision;
    response.watch_id = id;
    watcher->sent_events = true;
    Enqueue(watcher, std::move(response));
  }
}

base::StatusOr<std::vector<Event>> RocksDbStore::HistoryEvents(
    const WatchRequest& request, int64_t from_revision) const {
  std::vector<Event> events;
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(RevisionKey({from_revision, 0}));
       it->Valid() && it->key()[0] == kRevisionPrefix; it->Next()) {
    int64_t revision = DecodeInt64(it->key().ToStringView().substr(1));
    if (revision > visible_revision_) break;
    KeyValue kv;
    bool tombstone = false;
    if (!DecodeRecord(it->value().ToStringView(), kv, tombstone)) {
      return base::DataLossError("etcd-store: malformed revision record");
    }
    Event event;
    event.type = tombstone ? Event::Type::kDelete : Event::Type::kPut;
    event.kv = std::move(kv);
    if (!Matches(request, event)) continue;
    if (request.prev_kv) {
      event.prev_kv = PreviousKeyValue(event.kv.key, revision);
    }
    events.push_back(std::move(event));
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "reading watch history failed"));
  return events;
}

base::StatusOr<int64_t> RocksDbStore::Watch(const WatchRequest& request,
                                            WatchCallback callback) {
  int64_t id = 0;
  {
    std::unique_lock lock(mu_);
    auto watcher = std::make_shared<Watcher>();
    id = next_watch_id_++;
    watcher->id = id;
    watcher->request = request;
    watcher->callback = std::move(callback);

    WatchResponse created;
    created.header.revision = visible_revision_;
    created.watch_id = id;
    created.created = true;
    Enqueue(watcher, std::move(created));

    int64_t start = request.start_revision;
    if (start > 0 && start < compact_revision_) {
      WatchResponse canceled;
      canceled.watch_id = id;
      canceled.canceled = true;
      canceled.compact_revision = compact_revision_;
      Enqueue(watcher, std::move(canceled));
    } else {
      if (start > 0 && start <= visible_revision_) {
        ASSIGN_OR_RETURN(std::vector<Event> events,
                         HistoryEvents(request, start));
        EnqueueHistory(watcher, std::move(events));
      }
      watcher->min_revision = std::max(start, visible_revision_ + 1);
      if (request.progress_notify) ScheduleProgress(*watcher);
      watchers_[id] = watcher;
    }
  }
  DeliverQueued();
  return id;
}

base::Status RocksDbStore::CancelWatch(int64_t watch_id) {
  std::shared_ptr<Watcher> watcher;
  {
    std::unique_lock lock(mu_);
    auto it = watchers_.find(watch_id);
    if (it == watchers_.end()) {
      return base::NotFoundError("etcd-store: watch " +
                                 std::to_string(watch_id) + " not found");
    }
    watcher = std::move(it->second);
    watchers_.erase(it);
    if (watcher->timer != 0) clock_.Cancel(watcher->timer);
  }
  // Waits for a callback of this watch that is running on another thread.
  std::lock_guard deliver(watcher->deliver_mu);
  watcher->active = false;
  return base::OkStatus();
}

void RocksDbStore::EnqueueHistory(const std::shared_ptr<Watcher>& watcher,
                                  std::vector<Event> events) {
  // etcd 3.4 sends a watcher that catches up at most this many distinct
  // revisions per response (watchBatchMaxRevs in its mvcc package).
  constexpr int kMaxRevisionsPerResponse = 1000;
  size_t begin = 0;
  while (begin < events.size()) {
    size_t end = begin;
    int revisions = 0;
    for (; end < events.size(); ++end) {
      bool new_revision = end == begin || events[end].kv.mod_revision !=
                                              events[end - 1].kv.mod_revision;
      if (new_revision && revisions == kMaxRevisionsPerResponse) break;
      if (new_revision) ++revisions;
    }
    WatchResponse history;
    history.header.revision = visible_revision_;
    history.watch_id = watcher->id;
    history.events.assign(std::make_move_iterator(events.begin() + begin),
                          std::make_move_iterator(events.begin() + end));
    watcher->sent_events = true;
    Enqueue(watcher, std::move(history));
    begin = end;
  }
}

void RocksDbStore::ScheduleProgress(Watcher& watcher) {
  watcher.timer =
      clock_.ScheduleAfter(options_.progress_notify_interval,
                           [this, guard = timer_guard_, id = watcher.id] {
                             std::lock_guard lock(guard->mu);
                             if (guard->alive) NotifyProgress(id);
                           });
}

void RocksDbStore::NotifyProgress(int64_t watch_id) {
  {
    std::unique_lock lock(mu_);
    auto it = watchers_.find(watch_id);
    if (it == watchers_.end()) return;
    Watcher& watcher = *it->second;
    // Like etcd, skip the progress response after an interval with events.
    if (!watcher.sent_events) {
      WatchResponse progress;
      progress.header.revision = visible_revision_;
      progress.watch_id = watch_id;
      Enqueue(it->second, std::move(progress));
    }
    watcher.sent_events = false;
    ScheduleProgress(watcher);
  }
  DeliverQueued();
}

void RocksDbStore::Enqueue(std::shared_ptr<Watcher> watcher,
                           WatchResponse response) {
  std::lock_guard lock(queue_mu_);
  queue_.emplace_back(std::move(watcher), std::move(response));
}

void RocksDbStore::DeliverQueued() {
  std::unique_lock lock(queue_mu_);
  // One thread delivers at a time, which keeps commit order; a callback
  // that writes leaves its own responses to the loop below.
  if (draining_) return;
  draining_ = true;
  while (!queue_.empty()) {
    auto [watcher, response] = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    {
      std::lock_guard deliver(watcher->deliver_mu);
      if (watcher->active) watcher->callback(response);
    }
    lock.lock();
  }
  draining_ = false;
}

}  // namespace etcd::rocksdb_internal
