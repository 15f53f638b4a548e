// Registry: storage of Kubernetes objects (Namespaces, Secrets, ConfigMaps)
// over an etcd::Store, the layer under the API server's REST handlers.
//
// Objects are nlohmann::json in their v1 wire form. They live under etcd keys
// "/registry/<resource>/<namespace>/<name>" (cluster-scoped resources such as
// namespaces omit the namespace). metadata.resourceVersion is the key's
// mod_revision; uid and creationTimestamp are set on create. Secret values
// pass through the Transformer before reaching the store; other resources are
// stored as JSON.
//
// Errors are Statuses whose reason() is the Kubernetes StatusReason
// ("NotFound", "AlreadyExists", "Conflict", "Invalid", "BadRequest",
// "InternalError") and whose message() is upstream's text, for example
// `secrets "x" not found`. A Secret whose value cannot be decrypted fails
// with kInternal `unable to transform key "<etcd key>": <cause>`, and fails a
// List that includes it.
//
// Thread-safe; the transformer may be replaced while requests run.
#ifndef APISERVER_REGISTRY_H_
#define APISERVER_REGISTRY_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "apiserver/transformer.h"
#include "base/clock.h"
#include "base/random.h"
#include "base/status.h"
#include "etcd-store/store.h"

namespace apiserver {

using Json = nlohmann::json;

// Describes one served resource.
struct Resource {
  std::string name;  // "secrets"
  std::string kind;  // "Secret"
  bool namespaced = true;
  bool encrypted = false;  // values pass through the Transformer
};

const Resource& SecretsResource();
const Resource& ConfigMapsResource();
const Resource& NamespacesResource();

// Returns the etcd key of an object.
std::string EtcdKey(const Resource& resource, const std::string& ns,
                    const std::string& name);

struct UpdateResult {
  Json object;
  bool written = false;  // false when the update changed nothing stored
};

// Options of Create and Update.
struct WriteOptions {
  // The manager under which metadata.managedFields records the write, as
  // the API server's fieldManager parameter names it: the manager gains an
  // Update entry for the fields it set or changed (see field_manager.h).
  // Unset: metadata.managedFields is stored as the object carries it, for
  // in-process writes that stand for no client.
  std::optional<std::string> field_manager;
  // dryRun=All: validate and return the result as if written, but write
  // nothing. A created object then has a uid and creationTimestamp but no
  // resourceVersion, as upstream's dry-run storage returns it.
  bool dry_run = false;
};

// Options of Apply.
struct ApplyOptions {
  // The manager that applies. REQUIRES: not empty.
  std::string field_manager;
  // Whether to take fields that other managers own with other values.
  bool force = false;
  // As WriteOptions::dry_run.
  bool dry_run = false;
};

// The parts of upstream's DeleteOptions that Delete and DeleteCollection
// act on.
struct DeleteOptions {
  // preconditions.uid and preconditions.resourceVersion: the delete fails
  // with reason Conflict when the stored object differs.
  std::optional<std::string> uid;
  std::optional<std::string> resource_version;
  // dryRun=All: check everything, delete nothing.
  bool dry_run = false;
};

struct ApplyResult {
  Json object;
  bool created = false;  // the object did not exist before
  bool written = false;  // false when the apply changed nothing stored
};

// One event of a watch, as the "type" and "object" of a watch stream line.
struct WatchEvent {
  std::string type;  // "ADDED", "MODIFIED", "DELETED", "BOOKMARK" or "ERROR"
  // The object, with the resourceVersion of the event; for ERROR a v1
  // Status such as 410 Expired `too old resource version: 5 (9)`.
  Json object;
  // For MODIFIED when WatchOptions::previous_objects is set: the object
  // before the change, with the resourceVersion of the event. Null
  // otherwise.
  Json previous = nullptr;
};

// Options of Registry::List; the defaults list everything at the latest
// revision.
struct ListOptions {
  // The maximum number of items in the page; 0 for no limit. When more
  // remain, metadata.continue is set, and metadata.remainingItemCount too
  // unless `filter` is set.
  int64_t limit = 0;
  // metadata.continue of the previous page: the next page then shows the
  // same revision as the first, or the latest when the token says so.
  std::string continue_token;
  // "" or "0" for the latest revision. A number N with
  // resource_version_match "Exact" (or with a limit and no match, as
  // upstream's legacy rule) lists at revision N; otherwise the latest
  // revision is listed and must be at least N.
  std::string resource_version;
  std::string resource_version_match;  // "", "Exact" or "NotOlderThan"
  // Items for which this returns false are left out; `limit` counts only
  // the items kept. Empty keeps every item.
  std::function<bool(const Json&)> filter;
};

// Options of Registry::Watch.
struct WatchOptions {
  // As Watch's resource_version argument.
  std::string resource_version;
  // Whether the watch starts with ADDED events of the current objects.
  // Unset: only when resource_version is "" or "0", as upstream.
  std::optional<bool> send_initial_events;
  // After the initial events, send a BOOKMARK whose object has the
  // listed revision and the annotation "k8s.io/initial-events-end": "true".
  bool initial_events_end_bookmark = false;
  // Decode the object before each change into WatchEvent::previous, so a
  // filtered watch can tell when an object starts or stops matching.
  bool previous_objects = false;
};

struct WatchStarted {
  int64_t id = 0;
  // The events that follow are those after this revision.
  int64_t revision = 0;
};

// The continue token of a list page, as upstream encodes it: base64url
// (no padding) of {"v":"meta.k8s.io/v1","rv":<revision>,"start":<key>},
// where <key> is the next etcd key relative to the list's key prefix. A
// revision of -1 continues at the latest revision.
std::string EncodeContinueToken(const std::string& start_key, int64_t revision);
struct ContinueToken {
  std::string start_key;  // relative to the list's key prefix
  int64_t revision = 0;
};
// Fails with reason BadRequest and upstream's message, such as
// `invalid continue token: continue key is not valid: ...`.
base::StatusOr<ContinueToken> DecodeContinueToken(const std::string& token);

// The object of a BOOKMARK watch event: only kind, apiVersion and
// metadata.resourceVersion, plus the "k8s.io/initial-events-end" annotation
// when it ends a watch's initial events.
Json BookmarkObject(const Resource& resource, int64_t revision,
                    bool initial_events_end);

// Receives watch events in revision order, on the thread that wrote to the
// store (or created the watch). After an ERROR event no more events come.
using WatchHandler = std::function<void(const WatchEvent&)>;

class Registry {
 public:
  Registry(etcd::Store& store, std::shared_ptr<Transformer> transformer,
           base::Clock& clock, base::Random& random);

  void SetTransformer(std::shared_ptr<Transformer> transformer);

  // Validates and stores a new object. Namespaced objects need an existing
  // namespace: the constructor creates "default", "kube-system",
  // "kube-public" and "kube-node-lease" when missing. A Secret's stringData
  // is merged into data; metadata.generateName is honoured.
  base::StatusOr<Json> Create(const Resource& resource, const std::string& ns,
                              Json object, const WriteOptions& options = {});
  base::StatusOr<Json> Get(const Resource& resource, const std::string& ns,
                           const std::string& name);
  // Returns a v1 List ("SecretList", ...) of one namespace, or of all when
  // `ns` is empty, in etcd key order (so namespace "a-b" comes before "a").
  base::StatusOr<Json> List(const Resource& resource, const std::string& ns);
  // Like List, one page at a time. Fails with reason BadRequest for an
  // invalid continue token or resourceVersion, reason Expired (HTTP 410)
  // when the continue token's or the exact resourceVersion's revision has
  // been compacted, and reason Timeout (HTTP 504) `Too large resource
  // version: <requested>, current: <current>` when a minimum
  // resourceVersion is ahead of the store.
  base::StatusOr<Json> List(const Resource& resource, const std::string& ns,
                            const ListOptions& options);
  // Replaces an object. A non-empty metadata.resourceVersion must equal the
  // stored one (else reason Conflict); an empty one updates unconditionally.
  // An update that changes nothing is not written unless the stored value is
  // stale (read by a non-first provider or an old KMS key_id). Changes of
  // managedFields times alone are reverted, so they write nothing either.
  base::StatusOr<UpdateResult> Update(const Resource& resource,
                                      const std::string& ns, Json object,
                                      const WriteOptions& options = {});
  // Server-side apply: merges `config`, the full configuration that
  // options.field_manager intends for object `name`, into the stored
  // object, or creates the object from it when there is none (see
  // ApplyConfiguration in field_manager.h for the merge and its errors).
  // The result is validated, stored and watched like any other write. A
  // resourceVersion in `config` must equal the stored one (else reason
  // Conflict); without one, a concurrent write restarts the apply. Fails
  // with reason BadRequest when config's name or namespace differ from
  // `name` and `ns`, and reason Conflict when config sets a uid and the
  // object does not exist.
  base::StatusOr<ApplyResult> Apply(const Resource& resource,
                                    const std::string& ns,
                                    const std::string& name, const Json& config,
                                    const ApplyOptions& options);
  // Deletes and returns the last state of the object. Deleting a namespace
  // also deletes its Secrets and ConfigMaps; "default", "kube-system" and
  // "kube-public" cannot be deleted (reason Forbidden). A precondition of
  // `options` that the object fails is reason Conflict with upstream's
  // BeforeDelete text, `Operation cannot be fulfilled on Secret "x": the
  // UID in the precondition (a) does not match the UID in record (b). ...`.
  base::StatusOr<Json> Delete(const Resource& resource, const std::string& ns,
                              const std::string& name,
                              const DeleteOptions& options = {});
  // Deletes, one at a time as upstream does, every object of one namespace
  // (or of all when `ns` is empty) that `filter` keeps, and returns a v1
  // List of their last states. Objects that disappear meanwhile are
  // skipped. An empty filter keeps every object. `options` apply to each
  // object as to Delete.
  base::StatusOr<Json> DeleteCollection(
      const Resource& resource, const std::string& ns,
      const std::function<bool(const Json&)>& filter,
      const DeleteOptions& options = {});

  // Watches the objects of one namespace, or of all when `ns` is empty.
  // With an empty or "0" resource_version the current objects come first
  // as ADDED events; otherwise the changes after that resourceVersion come,
  // or one ERROR event (410 Expired) when the store has compacted it.
  // Returns the id for CancelWatch. Fails with reason BadRequest for a
  // resource_version that is not a number.
  base::StatusOr<int64_t> Watch(const Resource& resource, const std::string& ns,
                                const std::string& resource_version,
                                WatchHandler handler);
  // Like Watch, with the options of upstream's watch requests. Returns the
  // watch id and the revision that the events follow.
  base::StatusOr<WatchStarted> Watch(const Resource& resource,
                                     const std::string& ns,
                                     const WatchOptions& options,
                                     WatchHandler handler);
  // Stops a watch; its handler is not called after this returns.
  base::Status CancelWatch(int64_t watch_id);

  // Returns the raw stored bytes of an object, for checks on encryption.
  base::StatusOr<std::string> RawValue(const Resource& resource,
                                       const std::string& ns,
                                       const std::string& name);

 private:
  std::shared_ptr<Transformer> transformer() const;
  // Stores `object`, which has passed SetNamespace and Normalize, as a new
  // object at `key`, or with `dry_run` only checks that it could.
  base::StatusOr<Json> CreatePrepared(const Resource& resource,
                                      const std::string& ns,
                                      const std::string& key, Json object,
                                      bool dry_run);
  // Writes `object` over `stored`, read at `mod_revision`, and returns
  // nullopt when another write came first. `object` has passed
  // SetNamespace and Normalize, and `tracked` is the copy whose fields the
  // field manager records. A `stale` stored value is rewritten even when
  // nothing changed.
  base::StatusOr<std::optional<UpdateResult>> UpdateStored(
      const Resource& resource, const std::string& key, const Json& object,
      const Json& tracked, const Json& stored, int64_t mod_revision, bool stale,
      const WriteOptions& options);

  etcd::Store& store_;
  base::Clock& clock_;
  base::Random& random_;
  mutable std::mutex mu_;
  std::shared_ptr<Transformer> transformer_;  // guarded by mu_
};

}  // namespace apiserver

#endif  // APISERVER_REGISTRY_H_
