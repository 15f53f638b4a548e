// Store: etcd's v3 key-value model (MVCC) behind one interface.
//
// Every mutation increments a global revision. Each key has a
// create_revision, a mod_revision and a version (the number of puts since it
// was created; a delete resets it). Ranges follow etcd's conventions:
// range_end empty means the single key; range_end "\0" means every key from
// `key` on; key "\0" with range_end "\0" means all keys; otherwise
// [key, range_end). A transaction evaluates its compares atomically against
// one revision and applies one branch as a single revision.
//
// Errors use etcd's messages ("etcdserver: mvcc: required revision has been
// compacted", "etcdserver: duplicate key given in txn request", ...) with the
// gRPC code etcd returns, so that the JSON gateway maps them one to one.
//
// Implementations are thread-safe. A write returns only after it is durable
// (synced to disk for RocksDB, committed by the cluster for etcd).
#ifndef ETCD_STORE_STORE_H_
#define ETCD_STORE_STORE_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "base/clock.h"
#include "base/status.h"

namespace etcd {

struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;
  int64_t lease = 0;

  friend bool operator==(const KeyValue&, const KeyValue&) = default;
};

struct ResponseHeader {
  int64_t revision = 0;
};

enum class SortOrder { kNone, kAscend, kDescend };
enum class SortTarget { kKey, kVersion, kCreate, kMod, kValue };

struct RangeRequest {
  std::string key;
  std::string range_end;
  int64_t limit = 0;     // 0: no limit
  int64_t revision = 0;  // 0: the current revision
  SortOrder sort_order = SortOrder::kNone;
  SortTarget sort_target = SortTarget::kKey;
  bool serializable = false;
  bool keys_only = false;
  bool count_only = false;
  int64_t min_mod_revision = 0;
  int64_t max_mod_revision = 0;
  int64_t min_create_revision = 0;
  int64_t max_create_revision = 0;
};

struct RangeResponse {
  ResponseHeader header;
  std::vector<KeyValue> kvs;
  bool more = false;
  int64_t count = 0;
};

struct PutRequest {
  std::string key;
  std::string value;
  int64_t lease = 0;
  bool prev_kv = false;
  bool ignore_value = false;
  bool ignore_lease = false;
};

struct PutResponse {
  ResponseHeader header;
  std::optional<KeyValue> prev_kv;
};

struct DeleteRangeRequest {
  std::string key;
  std::string range_end;
  bool prev_kv = false;
};

struct DeleteRangeResponse {
  ResponseHeader header;
  int64_t deleted = 0;
  std::vector<KeyValue> prev_kvs;
};

struct Compare {
  enum class Result { kEqual, kGreater, kLess, kNotEqual };
  enum class Target { kVersion, kCreate, kMod, kValue, kLease };

  Result result = Result::kEqual;
  Target target = Target::kVersion;
  std::string key;
  std::string range_end;  // empty: the single key
  // The operand; which member counts depends on `target`.
  int64_t version = 0;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t lease = 0;
  std::string value;
};

struct TxnRequest;
struct TxnResponse;

struct RequestOp {
  // A null transaction stands for an empty RequestOp, which a transaction
  // rejects with etcd's "etcdserver: key not found".
  std::variant<RangeRequest, PutRequest, DeleteRangeRequest,
               std::shared_ptr<const TxnRequest>>
      request;
};

struct ResponseOp {
  std::variant<RangeResponse, PutResponse, DeleteRangeResponse,
               std::shared_ptr<const TxnResponse>>
      response;
};

struct TxnRequest {
  std::vector<Compare> compare;
  std::vector<RequestOp> success;
  std::vector<RequestOp> failure;
};

struct TxnResponse {
  ResponseHeader header;
  bool succeeded = false;
  std::vector<ResponseOp> responses;
};

struct CompactionResponse {
  ResponseHeader header;
};

// Leases, as etcd 3.4's lessor: a lease expires `ttl` seconds after its
// grant or last keep-alive, and its expiry (or revoke) deletes every key
// attached to it in one revision. Expiry runs on the store's injected clock.

// etcd's maximum lease TTL in seconds.
inline constexpr int64_t kMaxLeaseTtl = 9'000'000'000;
// etcd 3.4's minimum TTL with its default election timeout: shorter TTLs are
// raised to it.
inline constexpr int64_t kMinLeaseTtl = 2;

struct LeaseGrantRequest {
  int64_t ttl = 0;  // seconds
  int64_t id = 0;   // 0: the store picks an unused id
};

struct LeaseGrantResponse {
  ResponseHeader header;
  int64_t id = 0;
  int64_t ttl = 0;
};

struct LeaseRevokeResponse {
  ResponseHeader header;
};

struct LeaseKeepAliveResponse {
  ResponseHeader header;
  int64_t id = 0;
  int64_t ttl = 0;  // 0 when the lease does not exist, as in etcd
};

struct LeaseTimeToLiveRequest {
  int64_t id = 0;
  bool keys = false;
};

struct LeaseTimeToLiveResponse {
  ResponseHeader header;
  int64_t id = 0;
  int64_t ttl = 0;  // remaining whole seconds; -1 when the lease is unknown
  int64_t granted_ttl = 0;
  std::vector<std::string> keys;  // sorted; filled when requested
};

struct LeaseLeasesResponse {
  ResponseHeader header;
  std::vector<int64_t> ids;  // ascending
};

// Watches, as etcd 3.4's WatchCreateRequest and WatchResponse.
struct WatchRequest {
  std::string key;
  std::string range_end;  // etcd's conventions, as for Range
  // Deliver history from this revision on; 0: only changes after creation.
  int64_t start_revision = 0;
  bool prev_kv = false;
  bool filter_put = false;     // etcd's NOPUT filter
  bool filter_delete = false;  // etcd's NODELETE filter
  // etcd's progress_notify: at every progress interval, a watch that got
  // no events since the previous one gets a response without events whose
  // header has the current revision. The RocksDB store measures the
  // interval on its clock (RocksDbOptions). etcd 3.4 uses its wall clock
  // and waits 10 minutes plus up to 10% jitter by default.
  bool progress_notify = false;
};

struct Event {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  // For a delete, only key and mod_revision are set.
  KeyValue kv;
  std::optional<KeyValue> prev_kv;
};

struct WatchResponse {
  ResponseHeader header;
  int64_t watch_id = 0;
  bool created = false;
  bool canceled = false;
  // Set, with canceled, when start_revision was below the compacted
  // revision; the header revision is then 0, as in etcd.
  int64_t compact_revision = 0;
  // Why a watch could not be created; set with created and canceled.
  std::string cancel_reason;
  std::vector<Event> events;
};

// Receives a watch's responses in revision order: first the creation, then
// history, then one response per write that has matching events. The store
// calls it with one response at a time, after releasing its lock, on a
// thread that is writing to the store or creating a watch. The callback may
// call the store.
using WatchCallback = std::function<void(const WatchResponse&)>;

class Store {
 public:
  virtual ~Store() = default;

  virtual base::StatusOr<RangeResponse> Range(const RangeRequest& request) = 0;
  virtual base::StatusOr<PutResponse> Put(const PutRequest& request) = 0;
  // Applies the puts in order, each as its own revision, as consecutive
  // Put calls would, and returns their results in the same order. Returns
  // once every successful put is durable. The RocksDB store applies the
  // batch under one lock and syncs it once; the default calls Put in turn.
  virtual std::vector<base::StatusOr<PutResponse>> PutBatch(
      const std::vector<PutRequest>& requests);
  virtual base::StatusOr<DeleteRangeResponse> DeleteRange(
      const DeleteRangeRequest& request) = 0;
  virtual base::StatusOr<TxnResponse> Txn(const TxnRequest& request) = 0;
  // Discards history below `revision`. Reads below it then fail with
  // kOutOfRange "etcdserver: mvcc: required revision has been compacted".
  virtual base::StatusOr<CompactionResponse> Compact(int64_t revision) = 0;

  // The revision of the last committed write (1 for an empty store, as etcd).
  virtual int64_t CurrentRevision() = 0;

  // Leases. The default implementations return kUnimplemented.

  // Fails with kFailedPrecondition "etcdserver: lease already exists" or
  // kOutOfRange "etcdserver: too large lease TTL".
  virtual base::StatusOr<LeaseGrantResponse> LeaseGrant(
      const LeaseGrantRequest& request);
  // Deletes the lease and its keys; kNotFound "etcdserver: requested lease
  // not found" when it does not exist.
  virtual base::StatusOr<LeaseRevokeResponse> LeaseRevoke(int64_t id);
  // Restarts the lease's TTL.
  virtual base::StatusOr<LeaseKeepAliveResponse> LeaseKeepAlive(int64_t id);
  virtual base::StatusOr<LeaseTimeToLiveResponse> LeaseTimeToLive(
      const LeaseTimeToLiveRequest& request);
  virtual base::StatusOr<LeaseLeasesResponse> LeaseLeases();

  // Watches. Watch returns the new watch's id; the callback then gets its
  // responses until CancelWatch returns, and never after. The default
  // implementations return kUnimplemented.
  virtual base::StatusOr<int64_t> Watch(const WatchRequest& request,
                                        WatchCallback callback);
  // Returns kNotFound when no such watch exists.
  virtual base::Status CancelWatch(int64_t watch_id);

  // Writes a consistent copy of the store, as of the last acknowledged
  // write, to the new directory `dir`, which OpenRocksDbStore can open.
  // Fails with kAlreadyExists when `dir` exists. The default returns
  // kUnimplemented.
  virtual base::Status Checkpoint(const std::string& dir);
};

struct RocksDbOptions {
  // Sync the write-ahead log before acknowledging each write.
  bool sync = true;
  // Fault injection for tests: called before each write batch is committed.
  // A non-OK result fails that write as a failed sync would, and the store
  // then rejects every later write until it is reopened.
  std::function<base::Status()> write_fault{};
  // How often watches with progress_notify get a progress response, as
  // etcd's --experimental-watch-progress-notify-interval (default 10m).
  base::Duration progress_notify_interval = std::chrono::minutes(10);
};

// Opens (creating if needed) a store in the RocksDB directory `path`.
base::StatusOr<std::unique_ptr<Store>> OpenRocksDbStore(
    const std::string& path, base::Clock& clock,
    const RocksDbOptions& options = {});

struct EtcdClientOptions {
  // The members' client addresses, "host:port" (IPv6 as "[addr]:port").
  // Requests go to one member until it fails, then to the next.
  std::vector<std::string> endpoints;
  // The time one call may take, retries on other members included.
  std::chrono::milliseconds request_timeout = std::chrono::seconds(10);
  // The pause between two rounds over the members when none responded.
  std::chrono::milliseconds retry_delay = std::chrono::milliseconds(50);
};

// Opens a store on a real etcd 3.4 cluster through its v3 JSON gateway,
// after checking that a member responds (kUnavailable when none does).
//
// The cluster owns revisions, leases and time: lease TTLs run on etcd's
// wall clock, not on an injected Clock. A write whose reply is lost fails
// with kUnavailable, and etcd may or may not have applied it; reads and
// other requests that are safe to repeat are retried on the next member.
// Watches resume on another member from the next revision when their
// stream breaks. Each watch uses its own connection and thread, on which
// its callback runs.
base::StatusOr<std::unique_ptr<Store>> OpenEtcdStore(
    const EtcdClientOptions& options);

// Opens the store that a URL names:
//   rocksdb:///abs/path   the embedded RocksDB store in that directory
//                         (a URL without a scheme is a RocksDB path too);
//   etcd://host:port[,host:port...]   a real etcd cluster (OpenEtcdStore).
// `clock` drives lease expiry of the RocksDB store. Fails with
// kInvalidArgument on a malformed URL or an unknown scheme.
base::StatusOr<std::unique_ptr<Store>> OpenStore(const std::string& url,
                                                 base::Clock& clock);

// Convenience reads and writes on top of the interface.

// Returns the key's current value, or nullopt when it does not exist.
base::StatusOr<std::optional<KeyValue>> Get(Store& store,
                                            const std::string& key);
// Puts `value` only if the key's mod_revision equals `expected_mod_revision`
// (0: the key must not exist). Returns the new mod_revision, or kAborted
// when the compare failed.
base::StatusOr<int64_t> CompareAndPut(Store& store, const std::string& key,
                                      const std::string& value,
                                      int64_t expected_mod_revision);
// Deletes the key only if its mod_revision matches (0: any). Returns kAborted
// when the compare failed and kNotFound when the key does not exist.
base::Status CompareAndDelete(Store& store, const std::string& key,
                              int64_t expected_mod_revision);
// Returns the range_end that selects every key starting with `prefix`.
std::string PrefixEnd(const std::string& prefix);

}  // namespace etcd

#endif  // ETCD_STORE_STORE_H_
