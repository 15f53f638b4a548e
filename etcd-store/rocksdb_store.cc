// The RocksDB Store: keys, revisions, transactions and compaction.
#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/log.h"
#include "etcd-store/errors.h"
#include "etcd-store/request_check.h"
#include "etcd-store/rocksdb_store_impl.h"
#include "etcd-store/store.h"

namespace etcd::rocksdb_internal {
namespace {

void AppendBigEndian64(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((v >> shift) & 0xff));
  }
}

uint64_t ReadBigEndian64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

}  // namespace

// 'r' followed by main and sub in big-endian order, so RocksDB's bytewise
// order is revision order.
std::string RevisionKey(Revision rev) {
  std::string key(1, kRevisionPrefix);
  AppendBigEndian64(key, static_cast<uint64_t>(rev.main));
  AppendBigEndian64(key, static_cast<uint64_t>(rev.sub));
  return key;
}

std::string LeaseKey(int64_t id) {
  std::string key(1, kLeasePrefix);
  AppendBigEndian64(key, static_cast<uint64_t>(id));
  return key;
}

std::string EncodeInt64(int64_t v) {
  std::string out;
  AppendBigEndian64(out, static_cast<uint64_t>(v));
  return out;
}

int64_t DecodeInt64(std::string_view in) {
  return static_cast<int64_t>(ReadBigEndian64(in));
}

namespace {

void AppendString(std::string& out, std::string_view s) {
  AppendBigEndian64(out, s.size());
  out.append(s);
}

bool ReadString(std::string_view& in, std::string& s) {
  if (in.size() < 8) return false;
  uint64_t size = ReadBigEndian64(in);
  in.remove_prefix(8);
  if (in.size() < size) return false;
  s.assign(in.substr(0, size));
  in.remove_prefix(size);
  return true;
}

bool ReadInt64(std::string_view& in, int64_t& v) {
  if (in.size() < 8) return false;
  v = static_cast<int64_t>(ReadBigEndian64(in));
  in.remove_prefix(8);
  return true;
}

}  // namespace

base::Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return base::OkStatus();
  std::string message =
      "etcd-store: " + std::string(what) + ": " + s.ToString();
  if (s.IsCorruption()) return base::DataLossError(message);
  if (s.IsIOError()) return base::UnavailableError(message);
  return base::InternalError(message);
}

// Record layout: tombstone flag byte, key, value, create_revision,
// mod_revision, version, lease.
std::string EncodeRecord(const KeyValue& kv, bool tombstone) {
  std::string out(1, tombstone ? 't' : 'p');
  AppendString(out, kv.key);
  AppendString(out, kv.value);
  for (int64_t v :
       {kv.create_revision, kv.mod_revision, kv.version, kv.lease}) {
    AppendBigEndian64(out, static_cast<uint64_t>(v));
  }
  return out;
}

bool DecodeRecord(std::string_view in, KeyValue& kv, bool& tombstone) {
  if (in.empty()) return false;
  tombstone = in[0] == 't';
  in.remove_prefix(1);
  return ReadString(in, kv.key) && ReadString(in, kv.value) &&
         ReadInt64(in, kv.create_revision) && ReadInt64(in, kv.mod_revision) &&
         ReadInt64(in, kv.version) && ReadInt64(in, kv.lease) && in.empty();
}

namespace {

// Applies etcd's range_end conventions: "\0" selects every key from `key`
// on, and an empty range_end selects `key` alone.
bool IsOpenEnded(const std::string& range_end) {
  return range_end.size() == 1 && range_end[0] == '\0';
}

int CompareInt64(int64_t a, int64_t b) { return a < b ? -1 : (a > b ? 1 : 0); }

// Reads an int64 metadata record; leaves `value` alone when it is missing.
base::Status ReadMeta(rocksdb::DB& db, std::string_view key, int64_t& value) {
  std::string bytes;
  rocksdb::Status s = db.Get(rocksdb::ReadOptions(),
                             rocksdb::Slice(key.data(), key.size()), &bytes);
  if (s.IsNotFound()) return base::OkStatus();
  RETURN_IF_ERROR(FromRocks(s, "reading metadata failed"));
  if (bytes.size() != 8) {
    return base::DataLossError("etcd-store: malformed metadata record");
  }
  value = DecodeInt64(bytes);
  return base::OkStatus();
}

}  // namespace

bool KeyInRange(const std::string& key, const std::string& begin,
                const std::string& range_end) {
  if (range_end.empty()) return key == begin;
  if (key < begin) return false;
  return IsOpenEnded(range_end) || key < range_end;
}

RocksDbStore::RocksDbStore(std::unique_ptr<rocksdb::DB> db, base::Clock& clock,
                           RocksDbOptions options, std::string path)
    : db_(std::move(db)),
      clock_(clock),
      options_(std::move(options)),
      path_(std::move(path)),
      timer_guard_(std::make_shared<TimerGuard>()) {}

RocksDbStore::~RocksDbStore() {
  {
    std::lock_guard guard(timer_guard_->mu);
    timer_guard_->alive = false;
  }
  std::unique_lock lock(mu_);
  for (auto& [id, lease] : leases_) clock_.Cancel(lease.timer);
  for (auto& [id, watcher] : watchers_) {
    if (watcher->timer != 0) clock_.Cancel(watcher->timer);
  }
  spdlog::info("etcd-store: closed RocksDB store at {}", path_);
}

base::Status RocksDbStore::Recover() {
  std::unique_lock lock(mu_);
  RETURN_IF_ERROR(ReadMeta(*db_, kCurrentRevisionKey, current_revision_));
  RETURN_IF_ERROR(ReadMeta(*db_, kCompactRevisionKey, compact_revision_));
  RETURN_IF_ERROR(ReadMeta(*db_, kNextLeaseIdKey, next_lease_id_));
  RETURN_IF_ERROR(RecoverRevisions());
  RETURN_IF_ERROR(RecoverLeases());
  spdlog::info(
      "etcd-store: opened RocksDB store at {}: revision {}, compacted {}, {} "
      "keys, {} leases",
      path_, current_revision_, compact_revision_, index_.size(),
      leases_.size());
  visible_revision_ = current_revision_;
  return base::OkStatus();
}

base::Status RocksDbStore::RecoverRevisions() {
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(std::string(1, kRevisionPrefix));
       it->Valid() && it->key()[0] == kRevisionPrefix; it->Next()) {
    rocksdb::Slice key = it->key();
    KeyValue kv;
    bool tombstone = false;
    if (key.size() != 17 ||
        !DecodeRecord(it->value().ToStringView(), kv, tombstone)) {
      return base::DataLossError("etcd-store: malformed revision record in " +
                                 path_);
    }
    Revision rev{
        static_cast<int64_t>(ReadBigEndian64(key.ToStringView().substr(1))),
        static_cast<int64_t>(ReadBigEndian64(key.ToStringView().substr(9)))};
    index_[kv.key].push_back(
        {rev, kv.create_revision, kv.version, kv.lease, tombstone});
  }
  return FromRocks(it->status(), "scanning revisions failed");
}

const RocksDbStore::IndexEntry* RocksDbStore::FindAt(
    const std::vector<IndexEntry>& history, int64_t rev) {
  auto it = std::upper_bound(
      history.begin(), history.end(), rev,
      [](int64_t r, const IndexEntry& e) { return r < e.rev.main; });
  if (it == history.begin()) return nullptr;
  --it;
  return it->tombstone ? nullptr : &*it;
}

std::vector<RocksDbStore::LiveKey> RocksDbStore::LiveKeys(
    const std::string& key, const std::string& range_end, int64_t rev) const {
  std::vector<LiveKey> live;
  if (range_end.empty()) {
    auto it = index_.find(key);
    if (it == index_.end()) return live;
    if (const IndexEntry* e = FindAt(it->second, rev)) {
      live.push_back({&it->first, e});
    }
    return live;
  }
  bool open_ended = IsOpenEnded(range_end);
  for (auto it = index_.lower_bound(key); it != index_.end(); ++it) {
    if (!open_ended && it->first >= range_end) break;
    if (const IndexEntry* e = FindAt(it->second, rev)) {
      live.push_back({&it->first, e});
    }
  }
  return live;
}

base::StatusOr<KeyValue> RocksDbStore::LoadKeyValue(const TxnContext& ctx,
                                                    Revision rev) const {
  if (rev.main == ctx.begin_rev + 1 &&
      rev.sub < static_cast<int64_t>(ctx.changes.size())) {
    return ctx.changes[rev.sub].kv;
  }
  // A queued write that is not on disk yet, read by a later writer.
  if (rev.main > visible_revision_) {
    size_t queued = static_cast<size_t>(rev.main - visible_revision_ - 1);
    if (queued < unpublished_.size()) {
      const TxnContext& pending = unpublished_[queued].ctx;
      if (rev.sub < static_cast<int64_t>(pending.changes.size())) {
        return pending.changes[rev.sub].kv;
      }
    }
    return base::InternalError("etcd-store: revision " +
                               std::to_string(rev.main) +
                               " is neither on disk nor queued");
  }
  std::string value;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), RevisionKey(rev), &value);
  RETURN_IF_ERROR(FromRocks(s, "reading a revision failed"));
  KeyValue kv;
  bool tombstone = false;
  if (!DecodeRecord(value, kv, tombstone)) {
    return base::DataLossError("etcd-store: malformed revision record");
  }
  return kv;
}

base::StatusOr<RangeResponse> RocksDbStore::RangeLocked(
    const TxnContext& ctx, const RangeRequest& request) const {
  int64_t current = ctx.ReadRevision();
  if (request.revision > current) return ErrFutureRev();
  int64_t rev = request.revision <= 0 ? current : request.revision;
  if (rev < compact_revision_) return ErrCompacted();

  std::vector<LiveKey> live = LiveKeys(request.key, request.range_end, rev);
  RangeResponse response;
  response.header.revision = current;
  response.count = static_cast<int64_t>(live.size());
  if (request.count_only) return response;

  // Like etcd, fetch one extra key to learn whether there are more, unless
  // sorting or filtering needs every key first.
  bool fetch_all =
      request.sort_order != SortOrder::kNone || request.min_mod_revision != 0 ||
      request.max_mod_revision != 0 || request.min_create_revision != 0 ||
      request.max_create_revision != 0;
  size_t fetch = live.size();
  if (!fetch_all && request.limit > 0) {
    fetch = std::min(fetch, static_cast<size_t>(request.limit) + 1);
  }
  std::vector<KeyValue> kvs;
  kvs.reserve(fetch);
  for (size_t i = 0; i < fetch; ++i) {
    ASSIGN_OR_RETURN(KeyValue kv, LoadKeyValue(ctx, live[i].entry->rev));
    kvs.push_back(std::move(kv));
  }

  std::erase_if(kvs, [&](const KeyValue& kv) {
    return (request.max_mod_revision != 0 &&
            kv.mod_revision > request.max_mod_revision) ||
           (request.min_mod_revision != 0 &&
            kv.mod_revision < request.min_mod_revision) ||
           (request.max_create_revision != 0 &&
            kv.create_revision > request.max_create_revision) ||
           (request.min_create_revision != 0 &&
            kv.create_revision < request.min_create_revision);
  });

  // Keys come out in ascending key order; etcd sorts ascending by default
  // only when the target is not the key.
  SortOrder order = request.sort_order;
  if (order == SortOrder::kNone && request.sort_target != SortTarget::kKey) {
    order = SortOrder::kAscend;
  }
  if (order != SortOrder::kNone) {
    auto compare = [&](const KeyValue& a, const KeyValue& b) {
      switch (request.sort_target) {
        case SortTarget::kKey:
          return a.key.compare(b.key);
        case SortTarget::kVersion:
          return CompareInt64(a.version, b.version);
        case SortTarget::kCreate:
          return CompareInt64(a.create_revision, b.create_revision);
        case SortTarget::kMod:
          return CompareInt64(a.mod_revision, b.mod_revision);
        case SortTarget::kValue:
          return a.value.compare(b.value);
      }
      return 0;
    };
    bool descend = order == SortOrder::kDescend;
    std::stable_sort(kvs.begin(), kvs.end(),
                     [&](const KeyValue& a, const KeyValue& b) {
                       int c = compare(a, b);
                       return descend ? c > 0 : c < 0;
                     });
  }

  if (request.limit > 0 && kvs.size() > static_cast<size_t>(request.limit)) {
    kvs.resize(request.limit);
    response.more = true;
  }
  if (request.keys_only) {
    for (KeyValue& kv : kvs) kv.value.clear();
  }
  response.kvs = std::move(kvs);
  return response;
}

void RocksDbStore::AppendChange(TxnContext& ctx, KeyValue kv, bool tombstone,
                                int64_t previous_lease) {
  Revision rev{ctx.begin_rev + 1, static_cast<int64_t>(ctx.changes.size())};
  index_[kv.key].push_back(
      {rev, kv.create_revision, kv.version, kv.lease, tombstone});
  ctx.changes.push_back({std::move(kv), tombstone, previous_lease});
}

base::StatusOr<PutResponse> RocksDbStore::PutLocked(TxnContext& ctx,
                                                    const PutRequest& request) {
  int64_t rev = ctx.begin_rev + 1;
  const IndexEntry* current = nullptr;
  if (auto it = index_.find(request.key); it != index_.end()) {
    current = FindAt(it->second, ctx.ReadRevision());
  }

  std::optional<KeyValue> prev;
  if (current != nullptr &&
      (request.prev_kv || request.ignore_value || request.ignore_lease)) {
    ASSIGN_OR_RETURN(prev, LoadKeyValue(ctx, current->rev));
  }
  if ((request.ignore_value || request.ignore_lease) && !prev) {
    return ErrKeyNotFound();
  }

  KeyValue kv;
  kv.key = request.key;
  kv.value = request.ignore_value ? prev->value : request.value;
  kv.lease = request.ignore_lease ? prev->lease : request.lease;
  kv.create_revision = current != nullptr ? current->create_revision : rev;
  kv.mod_revision = rev;
  kv.version = current != nullptr ? current->version + 1 : 1;
  int64_t previous_lease = current != nullptr ? current->lease : 0;
  AppendChange(ctx, std::move(kv), false, previous_lease);

  PutResponse response;
  response.header.revision = rev;
  if (request.prev_kv) response.prev_kv = std::move(prev);
  return response;
}

base::StatusOr<DeleteRangeResponse> RocksDbStore::DeleteLocked(
    TxnContext& ctx, const DeleteRangeRequest& request) {
  DeleteRangeResponse response;
  std::vector<LiveKey> live =
      LiveKeys(request.key, request.range_end, ctx.ReadRevision());
  if (request.prev_kv) {
    for (const LiveKey& key : live) {
      ASSIGN_OR_RETURN(KeyValue kv, LoadKeyValue(ctx, key.entry->rev));
      response.prev_kvs.push_back(std::move(kv));
    }
  }

  // Copy the keys first: appending to the index may move the histories.
  std::vector<std::pair<std::string, int64_t>> keys;
  for (const LiveKey& key : live) keys.emplace_back(*key.key, key.entry->lease);
  for (auto& [key, lease] : keys) {
    KeyValue tombstone;
    tombstone.key = std::move(key);
    tombstone.mod_revision = ctx.begin_rev + 1;
    AppendChange(ctx, std::move(tombstone), true, lease);
  }
  response.deleted = static_cast<int64_t>(keys.size());
  response.header.revision = ctx.ReadRevision();
  return response;
}

bool RocksDbStore::CompareHolds(const TxnContext& ctx,
                                const Compare& compare) const {
  RangeRequest range;
  range.key = compare.key;
  range.range_end = compare.range_end;
  base::StatusOr<RangeResponse> result = RangeLocked(ctx, range);
  if (!result.ok()) return false;

  auto holds = [&](const KeyValue& kv) {
    int c = 0;
    switch (compare.target) {
      case Compare::Target::kValue:
        c = kv.value.compare(compare.value);
        c = c < 0 ? -1 : (c > 0 ? 1 : 0);
        break;
      case Compare::Target::kCreate:
        c = CompareInt64(kv.create_revision, compare.create_revision);
        break;
      case Compare::Target::kMod:
        c = CompareInt64(kv.mod_revision, compare.mod_revision);
        break;
      case Compare::Target::kVersion:
        c = CompareInt64(kv.version, compare.version);
        break;
      case Compare::Target::kLease:
        c = CompareInt64(kv.lease, compare.lease);
        break;
    }
    switch (compare.result) {
      case Compare::Result::kEqual:
        return c == 0;
      case Compare::Result::kNotEqual:
        return c != 0;
      case Compare::Result::kGreater:
        return c > 0;
      case Compare::Result::kLess:
        return c < 0;
    }
    return true;
  };

  // As in etcd, a compare over no keys tests a zero KeyValue, except that a
  // value compare on a missing key always fails.
  if (result->kvs.empty()) {
    if (compare.target == Compare::Target::kValue) return false;
    return holds(KeyValue{});
  }
  return std::all_of(result->kvs.begin(), result->kvs.end(), holds);
}

RocksDbStore::TxnPath RocksDbStore::DecidePath(
    const TxnContext& ctx, const TxnRequest& request) const {
  TxnPath path;
  path.succeeded = std::all_of(
      request.compare.begin(), request.compare.end(),
      [&](const Compare& compare) { return CompareHolds(ctx, compare); });
  const auto& ops = path.succeeded ? request.success : request.failure;
  for (const RequestOp& op : ops) {
    const auto* txn =
        std::get_if<std::shared_ptr<const TxnRequest>>(&op.request);
    if (txn != nullptr && *txn != nullptr) {
      path.nested.push_back(DecidePath(ctx, **txn));
    }
  }
  return path;
}

base::Status RocksDbStore::CheckTxnOps(const TxnContext& ctx,
                                       const TxnRequest& request,
                                       const TxnPath& path,
                                       bool check_puts) const {
  const auto& ops = path.succeeded ? request.success : request.failure;
  size_t nested = 0;
  for (const RequestOp& op : ops) {
    if (const auto* put = std::get_if<PutRequest>(&op.request)) {
      if (!check_puts) continue;
      if (put->ignore_value || put->ignore_lease) {
        auto it = index_.find(put->key);
        if (it == index_.end() ||
            FindAt(it->second, ctx.begin_rev) == nullptr) {
          return ErrKeyNotFound();
        }
      }
      if (put->lease != 0 && !LeaseExists(put->lease)) {
        return ErrLeaseNotFound();
      }
    } else if (const auto* range = std::get_if<RangeRequest>(&op.request)) {
      if (range->revision == 0) continue;
      if (range->revision > ctx.begin_rev) return ErrFutureRev();
      if (range->revision < compact_revision_) return ErrCompacted();
    } else if (const auto* txn = std::get_if<std::shared_ptr<const TxnRequest>>(
                   &op.request)) {
      if (*txn == nullptr) continue;
      RETURN_IF_ERROR(
          CheckTxnOps(ctx, **txn, path.nested[nested++], check_puts));
    }
  }
  return base::OkStatus();
}

base::StatusOr<TxnResponse> RocksDbStore::ApplyTxn(TxnContext& ctx,
                                                   const TxnRequest& request,
                                                   const TxnPath& path) {
  TxnResponse response;
  response.succeeded = path.succeeded;
  const auto& ops = path.succeeded ? request.success : request.failure;
  size_t nested = 0;
  for (const RequestOp& op : ops) {
    ResponseOp result;
    if (const auto* range = std::get_if<RangeRequest>(&op.request)) {
      ASSIGN_OR_RETURN(result.response, RangeLocked(ctx, *range));
    } else if (const auto* put = std::get_if<PutRequest>(&op.request)) {
      ASSIGN_OR_RETURN(result.response, PutLocked(ctx, *put));
    } else if (const auto* del = std::get_if<DeleteRangeRequest>(&op.request)) {
      ASSIGN_OR_RETURN(result.response, DeleteLocked(ctx, *del));
    } else {
      const auto& txn = std::get<std::shared_ptr<const TxnRequest>>(op.request);
      if (txn == nullptr) {
        result.response = std::make_shared<const TxnResponse>();
      } else {
        // etcd leaves the header revision of a nested response at 0.
        ASSIGN_OR_RETURN(TxnResponse inner,
                         ApplyTxn(ctx, *txn, path.nested[nested++]));
        result.response = std::make_shared<const TxnResponse>(std::move(inner));
      }
    }
    response.responses.push_back(std::move(result));
  }
  return response;
}

base::Status RocksDbStore::CheckWritable() const {
  if (write_error_.ok()) return base::OkStatus();
  return base::FailedPreconditionError(
      "etcd-store: the store rejects writes after a failed write (" +
      write_error_.ToString() + "); reopen it");
}

base::Status RocksDbStore::SyncBatch(rocksdb::WriteBatch& batch) {
  base::Status status;
  if (options_.write_fault) status = options_.write_fault();
  if (!status.ok()) return status;
  rocksdb::WriteOptions write_options;
  write_options.sync = options_.sync;
  return FromRocks(db_->Write(write_options, &batch), "write failed");
}

void RocksDbStore::LatchWriteError(const base::Status& status) {
  // NOTE: the batch may or may not have reached the disk, so the store
  // stops writing rather than guess; reopening recovers what is there.
  write_error_ = status;
  sync_failed_.store(true);
  spdlog::error("etcd-store: write to {} failed, rejecting writes: {}", path_,
                status.ToString());
}

base::Status RocksDbStore::WriteBatch(rocksdb::WriteBatch& batch) {
  base::Status status = SyncBatch(batch);
  if (!status.ok()) LatchWriteError(status);
  return status;
}

base::Status RocksDbStore::Commit(TxnContext& ctx, rocksdb::WriteBatch& batch) {
  if (ctx.changes.empty() && batch.Count() == 0) return base::OkStatus();
  int64_t rev = ctx.begin_rev + 1;
  for (size_t i = 0; i < ctx.changes.size(); ++i) {
    const Change& change = ctx.changes[i];
    batch.Put(RevisionKey({rev, static_cast<int64_t>(i)}),
              EncodeRecord(change.kv, change.tombstone));
  }
  if (!ctx.changes.empty()) {
    batch.Put(
        rocksdb::Slice(kCurrentRevisionKey.data(), kCurrentRevisionKey.size()),
        EncodeInt64(rev));
  }
  base::Status status = WriteBatch(batch);
  if (!status.ok()) {
    Rollback(ctx);
    return status;
  }
  if (ctx.changes.empty()) return base::OkStatus();

  current_revision_ = rev;
  visible_revision_ = rev;
  AttachLeases(ctx);
  NotifyWatchers(ctx);
  return base::OkStatus();
}

void RocksDbStore::Rollback(const TxnContext& ctx) {
  for (auto it = ctx.changes.rbegin(); it != ctx.changes.rend(); ++it) {
    auto entry = index_.find(it->kv.key);
    entry->second.pop_back();
    if (entry->second.empty()) index_.erase(entry);
  }
}

base::StatusOr<RangeResponse> RocksDbStore::Range(const RangeRequest& request) {
  RETURN_IF_ERROR(CheckRangeRequest(request));
  std::shared_lock lock(mu_);
  TxnContext ctx{visible_revision_, {}};
  return RangeLocked(ctx, request);
}

base::StatusOr<PutResponse> RocksDbStore::QueuePut(const PutRequest& request,
                                                   uint64_t& sequence) {
  RETURN_IF_ERROR(CheckPutRequest(request));
  RETURN_IF_ERROR(CheckWritable());
  if (request.lease != 0 && !LeaseExists(request.lease)) {
    return ErrLeaseNotFound();
  }
  TxnContext ctx{current_revision_, {}};
  base::StatusOr<PutResponse> response = PutLocked(ctx, request);
  if (!response.ok()) {
    Rollback(ctx);
    return response;
  }
  sequence = QueueWrite(std::move(ctx));
  return response;
}

base::StatusOr<PutResponse> RocksDbStore::Put(const PutRequest& request) {
  base::StatusOr<PutResponse> response = base::InternalError("unset");
  uint64_t sequence = 0;
  {
    std::unique_lock lock(mu_);
    response = QueuePut(request, sequence);
    if (!response.ok()) return response;
  }
  base::Status durable = WaitDurable(sequence);
  DeliverQueued();
  RETURN_IF_ERROR(durable);
  return response;
}

std::vector<base::StatusOr<PutResponse>> RocksDbStore::PutBatch(
    const std::vector<PutRequest>& requests) {
  std::vector<base::StatusOr<PutResponse>> responses;
  responses.reserve(requests.size());
  uint64_t last_sequence = 0;
  {
    std::unique_lock lock(mu_);
    for (const PutRequest& request : requests) {
      uint64_t sequence = 0;
      responses.push_back(QueuePut(request, sequence));
      if (responses.back().ok()) last_sequence = sequence;
    }
  }
  if (last_sequence == 0) return responses;

  // Queued writes sync in order, so the last one covers the batch.
  base::Status durable = WaitDurable(last_sequence);
  DeliverQueued();
  if (!durable.ok()) {
    for (base::StatusOr<PutResponse>& response : responses) {
      if (response.ok()) response = durable;
    }
  }
  return responses;
}

base::StatusOr<DeleteRangeResponse> RocksDbStore::DeleteRange(
    const DeleteRangeRequest& request) {
  RETURN_IF_ERROR(CheckDeleteRangeRequest(request));
  base::StatusOr<DeleteRangeResponse> response = base::InternalError("unset");
  uint64_t sequence = 0;
  {
    std::unique_lock lock(mu_);
    RETURN_IF_ERROR(CheckWritable());
    TxnContext ctx{current_revision_, {}};
    response = DeleteLocked(ctx, request);
    if (!response.ok()) {
      Rollback(ctx);
      return response;
    }
    sequence = QueueWrite(std::move(ctx));
  }
  base::Status durable = WaitDurable(sequence);
  DeliverQueued();
  RETURN_IF_ERROR(durable);
  return response;
}

base::StatusOr<TxnResponse> RocksDbStore::Txn(const TxnRequest& request) {
  RETURN_IF_ERROR(CheckTxnRequest(request));
  if (IsReadOnlyTxn(request)) {
    std::shared_lock lock(mu_);
    TxnContext ctx{visible_revision_, {}};
    return TxnLocked(ctx, request, /*writes=*/false);
  }

  base::StatusOr<TxnResponse> response = base::InternalError("unset");
  uint64_t sequence = 0;
  {
    std::unique_lock lock(mu_);
    RETURN_IF_ERROR(CheckWritable());
    TxnContext ctx{current_revision_, {}};
    response = TxnLocked(ctx, request, /*writes=*/true);
    if (!response.ok()) return response;
    sequence = QueueWrite(std::move(ctx));
  }
  base::Status durable = WaitDurable(sequence);
  DeliverQueued();
  RETURN_IF_ERROR(durable);
  return response;
}

base::StatusOr<TxnResponse> RocksDbStore::TxnLocked(TxnContext& ctx,
                                                    const TxnRequest& request,
                                                    bool writes) {
  // Like etcd, decide every branch, nested ones included, against the state
  // before the transaction, then check the chosen operations, then apply.
  TxnPath path = DecidePath(ctx, request);
  RETURN_IF_ERROR(CheckTxnOps(ctx, request, path, writes));
  base::StatusOr<TxnResponse> response = ApplyTxn(ctx, request, path);
  if (!response.ok()) {
    Rollback(ctx);
    return response.status();
  }
  response->header.revision = ctx.ReadRevision();
  return response;
}

base::StatusOr<CompactionResponse> RocksDbStore::Compact(int64_t revision) {
  CommitTurn commit(*this);
  std::unique_lock lock(mu_);
  RETURN_IF_ERROR(CheckWritable());
  RETURN_IF_ERROR(FlushLocked());
  if (revision <= compact_revision_) return ErrCompacted();
  if (revision > current_revision_) return ErrFutureRev();

  // Keep, for every key, its last revision at or below `revision` unless
  // that is a deletion; drop everything older.
  rocksdb::WriteBatch batch;
  std::map<std::string, size_t> drop_counts;
  for (const auto& [key, history] : index_) {
    auto end = std::upper_bound(
        history.begin(), history.end(), revision,
        [](int64_t r, const IndexEntry& e) { return r < e.rev.main; });
    if (end == history.begin()) continue;
    size_t drop = (end - history.begin()) - ((end - 1)->tombstone ? 0 : 1);
    for (size_t i = 0; i < drop; ++i) batch.Delete(RevisionKey(history[i].rev));
    if (drop > 0) drop_counts[key] = drop;
  }
  batch.Put(
      rocksdb::Slice(kCompactRevisionKey.data(), kCompactRevisionKey.size()),
      EncodeInt64(revision));
  RETURN_IF_ERROR(WriteBatch(batch));

  compact_revision_ = revision;
  for (const auto& [key, drop] : drop_counts) {
    auto& history = index_[key];
    history.erase(history.begin(), history.begin() + drop);
    if (history.empty()) index_.erase(key);
  }
  CompactionResponse response;
  response.header.revision = current_revision_;
  return response;
}

int64_t RocksDbStore::CurrentRevision() {
  std::shared_lock lock(mu_);
  return visible_revision_;
}

base::Status RocksDbStore::Checkpoint(const std::string& dir) {
  std::error_code ec;
  if (std::filesystem::exists(dir, ec)) {
    return base::AlreadyExistsError("checkpoint directory " + dir +
                                    " exists; choose a new directory");
  }
  rocksdb::Checkpoint* raw = nullptr;
  rocksdb::Status s = rocksdb::Checkpoint::Create(db_.get(), &raw);
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  // A flush first puts the memtable into SST files, so the copy needs no
  // WAL replay; RocksDB hard-links SST files where it can.
  if (s.ok()) s = checkpoint->CreateCheckpoint(dir);
  return FromRocks(s, "checkpoint to " + dir + " failed");
}

}  // namespace etcd::rocksdb_internal

namespace etcd {

base::StatusOr<std::unique_ptr<Store>> OpenRocksDbStore(
    const std::string& path, base::Clock& clock,
    const RocksDbOptions& options) {
  rocksdb::Options db_options;
  db_options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, path, &raw);
  if (!s.ok()) {
    return rocksdb_internal::FromRocks(
        s, "opening RocksDB at " + path + " failed");
  }
  auto store = std::make_unique<rocksdb_internal::RocksDbStore>(
      std::unique_ptr<rocksdb::DB>(raw), clock, options, path);
  RETURN_IF_ERROR(store->Recover());
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace etcd
