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

// One event of a watch, as the "type" and "object" of a watch stream line.
struct WatchEvent {
  std::string type;  // "ADDED", "MODIFIED", "DELETED" or "ERROR"
  // The object, with the resourceVersion of the event; for ERROR a v1
  // Status such as 410 Expired `too old resource version: 5 (9)`.
  Json object;
};

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
                              Json object);
  base::StatusOr<Json> Get(const Resource& resource, const std::string& ns,
                           const std::string& name);
  // Returns a v1 List ("SecretList", ...) of one namespace, or of all when
  // `ns` is empty, sorted by namespace and name.
  base::StatusOr<Json> List(const Resource& resource, const std::string& ns);
  // Replaces an object. A non-empty metadata.resourceVersion must equal the
  // stored one (else reason Conflict); an empty one updates unconditionally.
  // An update that changes nothing is not written unless the stored value is
  // stale (read by a non-first provider or an old KMS key_id).
  base::StatusOr<UpdateResult> Update(const Resource& resource,
                                      const std::string& ns, Json object);
  // Deletes and returns the last state of the object. Deleting a namespace
  // also deletes its Secrets and ConfigMaps; "default", "kube-system" and
  // "kube-public" cannot be deleted (reason Forbidden).
  base::StatusOr<Json> Delete(const Resource& resource, const std::string& ns,
                              const std::string& name);

  // Watches the objects of one namespace, or of all when `ns` is empty.
  // With an empty or "0" resource_version the current objects come first
  // as ADDED events; otherwise the changes after that resourceVersion come,
  // or one ERROR event (410 Expired) when the store has compacted it.
  // Returns the id for CancelWatch. Fails with reason BadRequest for a
  // resource_version that is not a number.
  base::StatusOr<int64_t> Watch(const Resource& resource, const std::string& ns,
                                const std::string& resource_version,
                                WatchHandler handler);
  // Stops a watch; its handler is not called after this returns.
  base::Status CancelWatch(int64_t watch_id);

  // Returns the raw stored bytes of an object, for checks on encryption.
  base::StatusOr<std::string> RawValue(const Resource& resource,
                                       const std::string& ns,
                                       const std::string& name);

 private:
  std::shared_ptr<Transformer> transformer() const;

  etcd::Store& store_;
  base::Clock& clock_;
  base::Random& random_;
  mutable std::mutex mu_;
  std::shared_ptr<Transformer> transformer_;  // guarded by mu_
};

}  // namespace apiserver

#endif  // APISERVER_REGISTRY_H_
