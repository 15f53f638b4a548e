#include "apiserver/registry.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <utility>
#include <vector>

#include "apiserver/validation.h"

namespace apiserver {
namespace {

// Namespaces that every cluster has and that cannot be deleted.
constexpr const char* kSystemNamespaces[] = {"default", "kube-system",
                                             "kube-public"};
constexpr const char* kInitialNamespaces[] = {"default", "kube-system",
                                              "kube-public", "kube-node-lease"};

// Characters of upstream's generateName suffix (no vowels, no look-alikes).
constexpr std::string_view kNameSuffixAlphabet = "bcdfghjklmnpqrstvwxz2456789";
constexpr size_t kNameSuffixLength = 5;

base::Status NotFound(const Resource& resource, const std::string& name) {
  return base::NotFoundError(resource.name + " " + GoQuote(name) + " not found",
                             "NotFound");
}

base::Status AlreadyExists(const Resource& resource, const std::string& name) {
  return base::AlreadyExistsError(
      resource.name + " " + GoQuote(name) + " already exists", "AlreadyExists");
}

base::Status Conflict(const Resource& resource, const std::string& name) {
  return base::AbortedError(
      "Operation cannot be fulfilled on " + resource.name + " " +
          GoQuote(name) +
          ": the object has been modified; please apply your changes to the "
          "latest version and try again",
      "Conflict");
}

base::Status BadRequest(const std::string& message) {
  return base::InvalidArgumentError(message, "BadRequest");
}

base::Status Internal(const std::string& message) {
  return base::InternalError(message, "InternalError");
}

// A store failure keeps its code (so kUnavailable stays retryable) and gets
// the StatusReason that the API server reports for it.
base::Status StoreError(const base::Status& status) {
  return base::Status(status.code(), status.message(), "InternalError");
}

std::string StringField(const Json& object, const char* name) {
  auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

std::string NameOf(const Json& object) {
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return "";
  return StringField(*metadata, "name");
}

// An object as stored: resourceVersion lives in the key's mod_revision, not
// in the value, as kube-apiserver does.
Json ForStorage(const Json& object) {
  Json stored = object;
  stored["metadata"].erase("resourceVersion");
  stored["metadata"].erase("selfLink");
  return stored;
}

std::string EncodeJson(const Json& object) {
  return object.dump(-1, ' ', false, Json::error_handler_t::replace);
}

struct Decoded {
  Json object;
  bool stale = false;
  int64_t mod_revision = 0;
};

// Turns a stored value into the object with its resourceVersion.
base::StatusOr<Decoded> DecodeValue(const Resource& resource,
                                    Transformer& transformer,
                                    const etcd::KeyValue& kv) {
  Decoded decoded;
  decoded.mod_revision = kv.mod_revision;
  std::string plain = kv.value;
  if (resource.encrypted) {
    base::StatusOr<ReadResult> read = transformer.FromStorage(kv.value, kv.key);
    if (!read.ok()) {
      return Internal("unable to transform key " + GoQuote(kv.key) + ": " +
                      read.status().message());
    }
    plain = std::move(read->data);
    decoded.stale = read->stale;
  }
  decoded.object = Json::parse(plain, nullptr, false);
  if (decoded.object.is_discarded() || !decoded.object.is_object()) {
    return Internal("unable to decode the value of key " + GoQuote(kv.key) +
                    " as JSON");
  }
  decoded.object["metadata"]["resourceVersion"] =
      std::to_string(kv.mod_revision);
  return decoded;
}

base::Status Normalize(const Resource& resource, Json& object) {
  if (resource.kind == "Secret") return NormalizeSecret(object);
  if (resource.kind == "ConfigMap") return NormalizeConfigMap(object);
  return NormalizeNamespace(object);
}

std::vector<std::string> Validate(const Resource& resource,
                                  const Json& object) {
  if (resource.kind == "Secret") return ValidateSecret(object);
  if (resource.kind == "ConfigMap") return ValidateConfigMap(object);
  return ValidateNamespace(object);
}

std::vector<std::string> ValidateUpdate(const Resource& resource,
                                        const Json& updated,
                                        const Json& stored) {
  if (resource.kind == "Secret") return ValidateSecretUpdate(updated, stored);
  if (resource.kind == "ConfigMap") {
    return ValidateConfigMapUpdate(updated, stored);
  }
  return ValidateNamespace(updated);
}

// Checks the body's namespace against the request's and fills it in.
base::Status SetNamespace(const Resource& resource, const std::string& ns,
                          Json& object) {
  if (!object.is_object()) {
    return DecodeError(resource.kind,
                       "json: cannot unmarshal non-object into "
                       "Go value of type v1." +
                           resource.kind);
  }
  Json& metadata = object["metadata"];
  if (metadata.is_null()) metadata = Json::object();
  if (!metadata.is_object()) {
    return DecodeError(resource.kind,
                       "json: cannot unmarshal non-object into Go struct "
                       "field " +
                           resource.kind + ".metadata of type v1.ObjectMeta");
  }
  if (!resource.namespaced) {
    metadata.erase("namespace");
    return base::OkStatus();
  }
  if (ns.empty())
    return BadRequest("a namespace is required for " + resource.name);
  const std::string body_ns = StringField(metadata, "namespace");
  if (!body_ns.empty() && body_ns != ns) {
    return BadRequest(
        "the namespace of the provided object does not match the namespace "
        "sent on the request");
  }
  metadata["namespace"] = ns;
  return base::OkStatus();
}

void SetTypeMeta(const Resource& resource, Json& object) {
  object["kind"] = resource.kind;
  object["apiVersion"] = "v1";
}

// Fields that only the server sets on create.
void ClearServerMetadata(Json& metadata) {
  for (const char* field : {"resourceVersion", "selfLink", "deletionTimestamp",
                            "deletionGracePeriodSeconds", "generateName"}) {
    metadata.erase(field);
  }
}

etcd::RequestOp DeleteOp(const std::string& key, const std::string& range_end) {
  etcd::DeleteRangeRequest request;
  request.key = key;
  request.range_end = range_end;
  etcd::RequestOp op;
  op.request = std::move(request);
  return op;
}

}  // namespace

const Resource& SecretsResource() {
  static const Resource resource{"secrets", "Secret", true, true};
  return resource;
}

const Resource& ConfigMapsResource() {
  static const Resource resource{"configmaps", "ConfigMap", true, false};
  return resource;
}

const Resource& NamespacesResource() {
  static const Resource resource{"namespaces", "Namespace", false, false};
  return resource;
}

std::string EtcdKey(const Resource& resource, const std::string& ns,
                    const std::string& name) {
  std::string key = "/registry/" + resource.name + "/";
  if (resource.namespaced) key += ns + "/";
  return key + name;
}

Registry::Registry(etcd::Store& store, std::shared_ptr<Transformer> transformer,
                   base::Clock& clock, base::Random& random)
    : store_(store),
      clock_(clock),
      random_(random),
      transformer_(std::move(transformer)) {
  for (const char* name : kInitialNamespaces) {
    base::StatusOr<Json> created =
        Create(NamespacesResource(), "", Json{{"metadata", {{"name", name}}}});
    if (!created.ok() &&
        created.status().code() != base::Code::kAlreadyExists) {
      spdlog::error("failed to create namespace {}: {}", name,
                    created.status().ToString());
    }
  }
}

void Registry::SetTransformer(std::shared_ptr<Transformer> transformer) {
  std::lock_guard<std::mutex> lock(mu_);
  transformer_ = std::move(transformer);
}

std::shared_ptr<Transformer> Registry::transformer() const {
  std::lock_guard<std::mutex> lock(mu_);
  return transformer_;
}

base::StatusOr<Json> Registry::Create(const Resource& resource,
                                      const std::string& ns, Json object) {
  RETURN_IF_ERROR(SetNamespace(resource, ns, object));
  Json& metadata = object["metadata"];
  if (!StringField(metadata, "resourceVersion").empty()) {
    return Internal(
        "resourceVersion should not be set on objects to be "
        "created");
  }
  const std::string generate_name = StringField(metadata, "generateName");
  if (NameOf(object).empty() && !generate_name.empty()) {
    std::string name = generate_name;
    for (size_t i = 0; i < kNameSuffixLength; ++i) {
      name += kNameSuffixAlphabet[random_.Uniform(kNameSuffixAlphabet.size())];
    }
    metadata["name"] = name;
  }
  RETURN_IF_ERROR(Normalize(resource, object));
  const std::string name = NameOf(object);
  if (std::vector<std::string> errors = Validate(resource, object);
      !errors.empty()) {
    return InvalidError(resource.kind, name, errors);
  }

  // The namespace must exist, as the NamespaceLifecycle admission plugin
  // checks after validation.
  if (resource.namespaced) {
    base::StatusOr<std::optional<etcd::KeyValue>> found =
        etcd::Get(store_, EtcdKey(NamespacesResource(), "", ns));
    if (!found.ok()) return StoreError(found.status());
    if (!found->has_value()) return NotFound(NamespacesResource(), ns);
  }

  SetTypeMeta(resource, object);
  ClearServerMetadata(object["metadata"]);
  object["metadata"]["uid"] = random_.Uuid();
  object["metadata"]["creationTimestamp"] = base::FormatRfc3339(clock_.Now());

  const std::string key = EtcdKey(resource, ns, name);
  std::string value = EncodeJson(ForStorage(object));
  if (resource.encrypted) {
    base::StatusOr<std::string> encrypted =
        transformer()->ToStorage(value, key);
    if (!encrypted.ok()) return Internal(encrypted.status().message());
    value = std::move(*encrypted);
  }
  base::StatusOr<int64_t> revision = etcd::CompareAndPut(store_, key, value, 0);
  if (!revision.ok()) {
    if (revision.status().code() == base::Code::kAborted) {
      return AlreadyExists(resource, name);
    }
    return StoreError(revision.status());
  }
  object["metadata"]["resourceVersion"] = std::to_string(*revision);
  return object;
}

base::StatusOr<Json> Registry::Get(const Resource& resource,
                                   const std::string& ns,
                                   const std::string& name) {
  const std::string key = EtcdKey(resource, ns, name);
  base::StatusOr<std::optional<etcd::KeyValue>> found = etcd::Get(store_, key);
  if (!found.ok()) return StoreError(found.status());
  if (!found->has_value()) return NotFound(resource, name);
  ASSIGN_OR_RETURN(Decoded decoded,
                   DecodeValue(resource, *transformer(), **found));
  return std::move(decoded.object);
}

base::StatusOr<Json> Registry::List(const Resource& resource,
                                    const std::string& ns) {
  std::string prefix = "/registry/" + resource.name + "/";
  if (resource.namespaced && !ns.empty()) prefix += ns + "/";
  etcd::RangeRequest request;
  request.key = prefix;
  request.range_end = etcd::PrefixEnd(prefix);
  base::StatusOr<etcd::RangeResponse> range = store_.Range(request);
  if (!range.ok()) return StoreError(range.status());

  std::shared_ptr<Transformer> current = transformer();
  std::vector<Json> items;
  for (const etcd::KeyValue& kv : range->kvs) {
    // One value that does not decrypt fails the whole list, as upstream.
    ASSIGN_OR_RETURN(Decoded decoded, DecodeValue(resource, *current, kv));
    decoded.object.erase("kind");
    decoded.object.erase("apiVersion");
    items.push_back(std::move(decoded.object));
  }
  // Keys sort "a-b/" before "a/", so sort by the fields themselves.
  std::sort(items.begin(), items.end(), [](const Json& a, const Json& b) {
    const Json& ma = a["metadata"];
    const Json& mb = b["metadata"];
    return std::pair(StringField(ma, "namespace"), StringField(ma, "name")) <
           std::pair(StringField(mb, "namespace"), StringField(mb, "name"));
  });
  return Json{
      {"kind", resource.kind + "List"},
      {"apiVersion", "v1"},
      {"metadata",
       {{"resourceVersion", std::to_string(range->header.revision)}}},
      {"items", items},
  };
}

base::StatusOr<UpdateResult> Registry::Update(const Resource& resource,
                                              const std::string& ns,
                                              Json object) {
  RETURN_IF_ERROR(SetNamespace(resource, ns, object));
  RETURN_IF_ERROR(Normalize(resource, object));
  const std::string name = NameOf(object);
  if (name.empty()) {
    return InvalidError(resource.kind, name,
                        {"metadata.name: Required value: name is required"});
  }
  const std::string expected_version =
      StringField(object["metadata"], "resourceVersion");
  const std::string key = EtcdKey(resource, ns, name);
  SetTypeMeta(resource, object);

  // Without a resourceVersion the update is unconditional, so a concurrent
  // write only restarts the read-modify-write.
  while (true) {
    base::StatusOr<std::optional<etcd::KeyValue>> found =
        etcd::Get(store_, key);
    if (!found.ok()) return StoreError(found.status());
    if (!found->has_value()) return NotFound(resource, name);
    std::shared_ptr<Transformer> current = transformer();
    ASSIGN_OR_RETURN(Decoded stored, DecodeValue(resource, *current, **found));
    if (!expected_version.empty() &&
        expected_version != std::to_string(stored.mod_revision)) {
      return Conflict(resource, name);
    }

    Json updated = object;
    Json& metadata = updated["metadata"];
    const Json& stored_metadata = stored.object["metadata"];
    const std::string uid = StringField(metadata, "uid");
    const std::string stored_uid = StringField(stored_metadata, "uid");
    if (!uid.empty() && uid != stored_uid) {
      return base::AbortedError("Precondition failed: UID in precondition: " +
                                    stored_uid + ", UID in object meta: " + uid,
                                "Conflict");
    }
    ClearServerMetadata(metadata);
    for (const char* field : {"uid", "creationTimestamp"}) {
      if (stored_metadata.contains(field)) {
        metadata[field] = stored_metadata[field];
      }
    }
    if (std::vector<std::string> errors =
            ValidateUpdate(resource, updated, stored.object);
        !errors.empty()) {
      return InvalidError(resource.kind, name, errors);
    }

    // A no-op update writes only to move a stale value to the current
    // provider or key_id.
    if (ForStorage(updated) == ForStorage(stored.object) && !stored.stale) {
      return UpdateResult{std::move(stored.object), false};
    }
    std::string value = EncodeJson(ForStorage(updated));
    if (resource.encrypted) {
      base::StatusOr<std::string> encrypted = current->ToStorage(value, key);
      if (!encrypted.ok()) return Internal(encrypted.status().message());
      value = std::move(*encrypted);
    }
    base::StatusOr<int64_t> revision =
        etcd::CompareAndPut(store_, key, value, stored.mod_revision);
    if (revision.ok()) {
      metadata["resourceVersion"] = std::to_string(*revision);
      return UpdateResult{std::move(updated), true};
    }
    if (revision.status().code() != base::Code::kAborted) {
      return StoreError(revision.status());
    }
    if (!expected_version.empty()) return Conflict(resource, name);
  }
}

base::StatusOr<Json> Registry::Delete(const Resource& resource,
                                      const std::string& ns,
                                      const std::string& name) {
  const std::string key = EtcdKey(resource, ns, name);
  if (&resource == &NamespacesResource() &&
      std::ranges::find(kSystemNamespaces, name) !=
          std::end(kSystemNamespaces)) {
    return base::PermissionDeniedError(
        "namespaces " + GoQuote(name) +
            " is forbidden: this namespace may not be deleted",
        "Forbidden");
  }
  while (true) {
    base::StatusOr<std::optional<etcd::KeyValue>> found =
        etcd::Get(store_, key);
    if (!found.ok()) return StoreError(found.status());
    if (!found->has_value()) return NotFound(resource, name);
    ASSIGN_OR_RETURN(Decoded stored,
                     DecodeValue(resource, *transformer(), **found));

    // One transaction removes the object and, for a namespace, everything
    // in it. NOTE: kube-apiserver marks the namespace Terminating and its
    // controller deletes the contents later; here both go at once.
    etcd::TxnRequest txn;
    etcd::Compare compare;
    compare.target = etcd::Compare::Target::kMod;
    compare.key = key;
    compare.mod_revision = stored.mod_revision;
    txn.compare.push_back(compare);
    txn.success.push_back(DeleteOp(key, ""));
    if (&resource == &NamespacesResource()) {
      for (const Resource* contained :
           {&SecretsResource(), &ConfigMapsResource()}) {
        const std::string prefix =
            "/registry/" + contained->name + "/" + name + "/";
        txn.success.push_back(DeleteOp(prefix, etcd::PrefixEnd(prefix)));
      }
    }
    base::StatusOr<etcd::TxnResponse> response = store_.Txn(txn);
    if (!response.ok()) return StoreError(response.status());
    if (response->succeeded) return std::move(stored.object);
  }
}

namespace {

Json ExpiredStatus(int64_t requested, int64_t compacted) {
  return {{"kind", "Status"},
          {"apiVersion", "v1"},
          {"metadata", Json::object()},
          {"status", "Failure"},
          {"message", "too old resource version: " + std::to_string(requested) +
                          " (" + std::to_string(compacted) + ")"},
          {"reason", "Expired"},
          {"code", 410}};
}

Json InternalErrorStatus(const std::string& message) {
  return {{"kind", "Status"},
          {"apiVersion", "v1"},
          {"metadata", Json::object()},
          {"status", "Failure"},
          {"message", "Internal error occurred: " + message},
          {"reason", "InternalError"},
          {"details", {{"causes", Json::array({{{"message", message}}})}}},
          {"code", 500}};
}

// Turns one store event into a watch event. A delete carries the object's
// last state with the deletion's revision, as upstream.
WatchEvent ToWatchEvent(const Resource& resource, Transformer& transformer,
                        const etcd::Event& event) {
  const bool deleted = event.type == etcd::Event::Type::kDelete;
  if (deleted && !event.prev_kv.has_value()) {
    return {"ERROR", InternalErrorStatus("the deleted object of key " +
                                         GoQuote(event.kv.key) +
                                         " is missing from the event")};
  }
  const etcd::KeyValue& kv = deleted ? *event.prev_kv : event.kv;
  base::StatusOr<Decoded> decoded = DecodeValue(resource, transformer, kv);
  if (!decoded.ok()) {
    return {"ERROR", InternalErrorStatus(decoded.status().message())};
  }
  decoded->object["metadata"]["resourceVersion"] =
      std::to_string(event.kv.mod_revision);
  std::string type = "MODIFIED";
  if (deleted) {
    type = "DELETED";
  } else if (event.kv.create_revision == event.kv.mod_revision) {
    type = "ADDED";
  }
  return {type, std::move(decoded->object)};
}

}  // namespace

base::StatusOr<int64_t> Registry::Watch(const Resource& resource,
                                        const std::string& ns,
                                        const std::string& resource_version,
                                        WatchHandler handler) {
  int64_t requested = 0;
  if (!resource_version.empty()) {
    const char* end = resource_version.data() + resource_version.size();
    auto [parsed_end, error] =
        std::from_chars(resource_version.data(), end, requested);
    if (error != std::errc() || parsed_end != end || requested < 0) {
      return BadRequest("invalid resource version: " + resource_version);
    }
  }
  std::string prefix = "/registry/" + resource.name + "/";
  if (resource.namespaced && !ns.empty()) prefix += ns + "/";

  // Without a resourceVersion the watch starts with the current objects.
  int64_t start = requested + 1;
  if (requested == 0) {
    etcd::RangeRequest range;
    range.key = prefix;
    range.range_end = etcd::PrefixEnd(prefix);
    base::StatusOr<etcd::RangeResponse> current = store_.Range(range);
    if (!current.ok()) return StoreError(current.status());
    std::shared_ptr<Transformer> decoder = transformer();
    for (const etcd::KeyValue& kv : current->kvs) {
      base::StatusOr<Decoded> decoded = DecodeValue(resource, *decoder, kv);
      if (!decoded.ok()) {
        handler({"ERROR", InternalErrorStatus(decoded.status().message())});
        return int64_t{0};
      }
      handler({"ADDED", std::move(decoded->object)});
    }
    start = current->header.revision + 1;
  }

  etcd::WatchRequest request;
  request.key = prefix;
  request.range_end = etcd::PrefixEnd(prefix);
  request.start_revision = start;
  request.prev_kv = true;
  // Set after an ERROR event, which ends the stream.
  auto failed = std::make_shared<std::atomic<bool>>(false);
  return store_.Watch(request, [this, &resource, handler, requested,
                                failed](const etcd::WatchResponse& response) {
    if (*failed) return;
    if (response.canceled && response.compact_revision != 0) {
      *failed = true;
      handler({"ERROR", ExpiredStatus(requested, response.compact_revision)});
      return;
    }
    std::shared_ptr<Transformer> decoder = transformer();
    for (const etcd::Event& event : response.events) {
      WatchEvent converted = ToWatchEvent(resource, *decoder, event);
      *failed = converted.type == "ERROR";
      handler(converted);
      if (*failed) return;
    }
  });
}

base::Status Registry::CancelWatch(int64_t watch_id) {
  // Id 0 is a watch that failed while it sent the current objects and so
  // never reached the store.
  if (watch_id == 0) return base::OkStatus();
  return store_.CancelWatch(watch_id);
}

base::StatusOr<std::string> Registry::RawValue(const Resource& resource,
                                               const std::string& ns,
                                               const std::string& name) {
  base::StatusOr<std::optional<etcd::KeyValue>> found =
      etcd::Get(store_, EtcdKey(resource, ns, name));
  if (!found.ok()) return StoreError(found.status());
  if (!found->has_value()) return NotFound(resource, name);
  return (*found)->value;
}

}  // namespace apiserver
