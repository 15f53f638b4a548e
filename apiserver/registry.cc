#include "apiserver/registry.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <utility>
#include <vector>

#include "apiserver/field_manager.h"
#include "apiserver/json_compare.h"
#include "apiserver/validation.h"
#include "base/crypto.h"

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

// Whether `a` and `b` store the same value, as ForStorage(a) ==
// ForStorage(b) but without the copies; with `ignore_managed_fields`,
// whatever their metadata.managedFields.
bool EqualForStorage(const Json& a, const Json& b,
                     bool ignore_managed_fields = false) {
  if (ignore_managed_fields) {
    return EqualIgnoringMetadata(
        a, b, {"resourceVersion", "selfLink", "managedFields"});
  }
  return EqualIgnoringMetadata(a, b, {"resourceVersion", "selfLink"});
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
  std::string decrypted;
  if (resource.encrypted) {
    base::StatusOr<ReadResult> read = transformer.FromStorage(kv.value, kv.key);
    if (!read.ok()) {
      return Internal("unable to transform key " + GoQuote(kv.key) + ": " +
                      read.status().message());
    }
    decrypted = std::move(read->data);
    decoded.stale = read->stale;
  }
  decoded.object =
      Json::parse(resource.encrypted ? decrypted : kv.value, nullptr, false);
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

std::vector<FieldError> Validate(const Resource& resource, const Json& object) {
  if (resource.kind == "Secret") return ValidateSecret(object);
  if (resource.kind == "ConfigMap") return ValidateConfigMap(object);
  return ValidateNamespace(object);
}

std::vector<FieldError> ValidateUpdate(const Resource& resource,
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

// Whether a Namespace in a request sets spec.finalizers.
bool HasNamespaceFinalizers(const Json& object) {
  if (!object.is_object() || !object.contains("spec")) return false;
  const Json& spec = object["spec"];
  return spec.is_object() && spec.contains("finalizers") &&
         !spec["finalizers"].is_null();
}

// The copy of a normalized object whose fields the field manager records.
// A Namespace's spec.finalizers counts only when the request set it: the
// "kubernetes" finalizer that the server adds belongs to no manager.
Json TrackedCopy(const Resource& resource, const Json& object,
                 bool requested_finalizers) {
  Json tracked = object;
  if (&resource == &NamespacesResource() && !requested_finalizers &&
      tracked.contains("spec") && tracked["spec"].is_object()) {
    tracked["spec"].erase("finalizers");
    if (tracked["spec"].empty()) tracked.erase("spec");
  }
  return tracked;
}

void CopyManagedFields(const Json& from, Json& to) {
  const Json& metadata = from["metadata"];
  if (metadata.contains("managedFields")) {
    to["metadata"]["managedFields"] = metadata["managedFields"];
  } else {
    to["metadata"].erase("managedFields");
  }
}

// Gives `updated` the managedFields times of `stored` when they and the
// rest of the object differ in nothing else, so that a write that changes
// nothing but those times is not stored, as upstream's
// IgnoreManagedFieldsTimestampsTransformer.
void KeepManagedFieldsTimes(const Json& stored, Json& updated) {
  auto stored_metadata = stored.find("metadata");
  auto metadata = updated.find("metadata");
  if (stored_metadata == stored.end() || metadata == updated.end() ||
      !stored_metadata->is_object() || !metadata->is_object()) {
    return;
  }
  auto old_entries = stored_metadata->find("managedFields");
  auto entries = metadata->find("managedFields");
  if (old_entries == stored_metadata->end() || entries == metadata->end() ||
      !old_entries->is_array() || !entries->is_array() ||
      old_entries->empty() || old_entries->size() != entries->size()) {
    return;
  }
  for (size_t i = 0; i < entries->size(); ++i) {
    if (!EqualIgnoring((*entries)[i], (*old_entries)[i], {"time"})) return;
  }
  if (!EqualForStorage(stored, updated, /*ignore_managed_fields=*/true)) {
    return;
  }
  for (size_t i = 0; i < entries->size(); ++i) {
    Json& entry = (*entries)[i];
    entry.erase("time");
    if (auto time = (*old_entries)[i].find("time");
        time != (*old_entries)[i].end()) {
      entry["time"] = *time;
    }
  }
}

// Checks the object that an apply produced as upstream's patch handler
// does before storing it: a uid on an object that does not exist, the
// namespace and the name.
base::Status CheckAppliedObject(const Resource& resource, const std::string& ns,
                                const std::string& name, bool exists,
                                Json& merged) {
  const Json& metadata = merged["metadata"];
  const std::string uid =
      metadata.is_object() ? StringField(metadata, "uid") : "";
  if (!exists && !uid.empty()) {
    return base::AbortedError(
        "Operation cannot be fulfilled on " + resource.name + " " +
            GoQuote(name) +
            ": uid mismatch: the provided object specified uid " + uid +
            ", and no existing object was found",
        "Conflict");
  }
  RETURN_IF_ERROR(SetNamespace(resource, ns, merged));
  const std::string applied_name = NameOf(merged);
  if (applied_name.empty()) {
    return BadRequest("the name of the object (" + name +
                      " based on URL) was undeterminable: name must be "
                      "provided");
  }
  if (applied_name != name) {
    return BadRequest("the name of the object (" + applied_name +
                      ") does not match the name on the URL (" + name + ")");
  }
  return base::OkStatus();
}

// Upstream's rest.BeforeDelete checks of DeleteOptions.preconditions. The
// Conflict names the kind, not the resource, as upstream's does.
base::Status CheckDeletePreconditions(const Resource& resource,
                                      const Json& stored,
                                      const DeleteOptions& options) {
  const Json& metadata = stored["metadata"];
  const std::string prefix = "Operation cannot be fulfilled on " +
                             resource.kind + " " + GoQuote(NameOf(stored)) +
                             ": ";
  base::Status conflict;
  if (options.uid.has_value() && *options.uid != StringField(metadata, "uid")) {
    conflict = base::AbortedError(
        prefix + "the UID in the precondition (" + *options.uid +
            ") does not match the UID in record (" +
            StringField(metadata, "uid") +
            "). The object might have been deleted and then recreated",
        "Conflict");
  } else if (options.resource_version.has_value() &&
             *options.resource_version !=
                 StringField(metadata, "resourceVersion")) {
    conflict = base::AbortedError(
        prefix + "the ResourceVersion in the precondition (" +
            *options.resource_version +
            ") does not match the ResourceVersion in record (" +
            StringField(metadata, "resourceVersion") +
            "). The object might have been modified",
        "Conflict");
  } else {
    return base::OkStatus();
  }
  conflict.SetPayload(
      kStatusDetailsPayload,
      Json{{"name", NameOf(stored)}, {"kind", resource.kind}}.dump(
          -1, ' ', false, nlohmann::json::error_handler_t::replace));
  return conflict;
}

etcd::RequestOp DeleteOp(const std::string& key, const std::string& range_end) {
  etcd::DeleteRangeRequest request;
  request.key = key;
  request.range_end = range_end;
  etcd::RequestOp op;
  op.request = std::move(request);
  return op;
}

std::string ListPrefix(const Resource& resource, const std::string& ns) {
  std::string prefix = "/registry/" + resource.name + "/";
  if (resource.namespaced && !ns.empty()) prefix += ns + "/";
  return prefix;
}

// Where a List starts reading, and at which revision (0: the latest).
struct ListStart {
  std::string key;
  int64_t revision = 0;
  // The revision that the listed revision must not be older than.
  int64_t minimum_revision = 0;
};

base::StatusOr<int64_t> ParseResourceVersion(const std::string& text) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [parsed_end, error] = std::from_chars(text.data(), end, value);
  if (error != std::errc() || parsed_end != end || value < 0) {
    return BadRequest(
        "invalid resource version: resourceVersion: Invalid "
        "value: " +
        GoQuote(text) + ": strconv.ParseUint: parsing " + GoQuote(text) +
        ": invalid syntax");
  }
  return value;
}

// Follows upstream's storage.ValidateListOptions.
base::StatusOr<ListStart> StartOfList(const std::string& prefix,
                                      const ListOptions& options) {
  ListStart start{prefix, 0, 0};
  if (!options.continue_token.empty()) {
    ASSIGN_OR_RETURN(ContinueToken token,
                     DecodeContinueToken(options.continue_token));
    if (!options.resource_version.empty() && options.resource_version != "0") {
      return BadRequest(
          "specifying resource version is not allowed when using continue");
    }
    start.key = prefix + token.start_key;
    start.revision = std::max<int64_t>(token.revision, 0);
    return start;
  }
  if (options.resource_version.empty()) return start;
  ASSIGN_OR_RETURN(int64_t requested,
                   ParseResourceVersion(options.resource_version));
  const std::string& match = options.resource_version_match;
  if (match == "Exact" || (match.empty() && options.limit > 0)) {
    start.revision = requested;
  } else if (match == "NotOlderThan" || match.empty()) {
    start.minimum_revision = requested;
  } else {
    return BadRequest("unknown ResourceVersionMatch value: " + match);
  }
  return start;
}

// Maps a failed range of a List: a compacted revision is 410 Expired with
// upstream's texts.
base::Status ListStoreError(const base::Status& status, bool paging) {
  if (status.code() != base::Code::kOutOfRange ||
      status.message().find("compacted") == std::string::npos) {
    return StoreError(status);
  }
  if (paging) {
    return base::OutOfRangeError(
        "The provided continue parameter is too old to display a consistent "
        "list result. You can start a new list without the continue "
        "parameter, or use the continue token in this response to retrieve "
        "the remainder of the results. Continuing with the provided token "
        "results in an inconsistent list - objects that were created, "
        "modified, or deleted between the time the first chunk was returned "
        "and now may show up in the list.",
        "Expired");
  }
  return base::OutOfRangeError(
      "The resourceVersion for the provided list is too old.", "Expired");
}

std::string Base64UrlEncode(std::string_view bytes) {
  std::string text = base::Base64Encode(bytes);
  for (char& c : text) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  while (!text.empty() && text.back() == '=') text.pop_back();
  return text;
}

base::StatusOr<std::string> Base64UrlDecode(std::string text) {
  for (char& c : text) {
    if (c == '-') {
      c = '+';
    } else if (c == '_') {
      c = '/';
    } else if (c == '+' || c == '/' || c == '=') {
      // Characters of the other alphabet and padding are not base64url.
      c = '!';
    }
  }
  while (text.size() % 4 != 0) text += '=';
  return base::Base64Decode(text);
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

std::string EncodeContinueToken(const std::string& start_key,
                                int64_t revision) {
  const Json token = {
      {"v", "meta.k8s.io/v1"}, {"rv", revision}, {"start", start_key}};
  return Base64UrlEncode(
      token.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

base::StatusOr<ContinueToken> DecodeContinueToken(const std::string& text) {
  const std::string invalid = "invalid continue token: ";
  base::StatusOr<std::string> data = Base64UrlDecode(text);
  if (!data.ok()) {
    return BadRequest(invalid +
                      "continue key is not valid: " + data.status().message());
  }
  Json token = Json::parse(*data, nullptr, false);
  if (!token.is_object() || !token.value("v", Json()).is_string() ||
      !token.value("rv", Json(0)).is_number_integer() ||
      !token.value("start", Json("")).is_string()) {
    return BadRequest(invalid +
                      "continue key is not valid: the token is not a JSON "
                      "object of the expected fields");
  }
  if (token["v"] != "meta.k8s.io/v1") {
    return BadRequest(invalid +
                      "server does not recognize this encoded version " +
                      token["v"].get<std::string>());
  }
  ContinueToken decoded;
  decoded.revision = token.value("rv", int64_t{0});
  decoded.start_key = token.value("start", "");
  if (decoded.revision == 0) {
    return BadRequest(invalid +
                      "continue key is not valid: incorrect encoded start "
                      "resourceVersion (version meta.k8s.io/v1)");
  }
  if (decoded.start_key.empty()) {
    return BadRequest(invalid +
                      "continue key is not valid: encoded start key empty "
                      "(version meta.k8s.io/v1)");
  }
  // As upstream, reject keys that path cleaning would change, so a token
  // cannot reach above the list's prefix.
  const std::string key = "/" + decoded.start_key;
  if (key.find("/../") != std::string::npos || key.ends_with("/..") ||
      key.find("/./") != std::string::npos || key.ends_with("/.") ||
      key.find("//") != std::string::npos ||
      (key.size() > 1 && key.back() == '/')) {
    return BadRequest(invalid +
                      "continue key is not valid: " + decoded.start_key);
  }
  return decoded;
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
                                      const std::string& ns, Json object,
                                      const WriteOptions& options) {
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
  const bool requested_finalizers = HasNamespaceFinalizers(object);
  RETURN_IF_ERROR(Normalize(resource, object));
  if (options.field_manager.has_value()) {
    const Json recorded =
        UpdateManagedFields(resource.kind, Json::object(),
                            TrackedCopy(resource, object, requested_finalizers),
                            *options.field_manager, clock_.Now());
    CopyManagedFields(recorded, object);
  }
  const std::string key = EtcdKey(resource, ns, NameOf(object));
  return CreatePrepared(resource, ns, key, std::move(object), options.dry_run);
}

base::StatusOr<Json> Registry::CreatePrepared(const Resource& resource,
                                              const std::string& ns,
                                              const std::string& key,
                                              Json object, bool dry_run) {
  const std::string name = NameOf(object);
  if (std::vector<FieldError> errors = Validate(resource, object);
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

  if (dry_run) {
    // Upstream's dry-run storage only checks that the key is free, and the
    // object it returns has no resourceVersion.
    base::StatusOr<std::optional<etcd::KeyValue>> existing =
        etcd::Get(store_, key);
    if (!existing.ok()) return StoreError(existing.status());
    if (existing->has_value()) return AlreadyExists(resource, name);
    return object;
  }

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
  return List(resource, ns, ListOptions{});
}

base::StatusOr<Json> Registry::List(const Resource& resource,
                                    const std::string& ns,
                                    const ListOptions& options) {
  const std::string prefix = ListPrefix(resource, ns);
  ASSIGN_OR_RETURN(ListStart list_start, StartOfList(prefix, options));

  etcd::RangeRequest request;
  request.key = list_start.key;
  request.range_end = etcd::PrefixEnd(prefix);
  request.revision = list_start.revision;
  // With a filter, each round reads another `limit` keys until the page
  // has `limit` items that pass it.
  request.limit = options.limit;

  std::shared_ptr<Transformer> current = transformer();
  Json items = Json::array();
  int64_t revision = 0;
  int64_t remaining = 0;
  std::string next_key;
  while (true) {
    base::StatusOr<etcd::RangeResponse> range = store_.Range(request);
    if (!range.ok()) {
      return ListStoreError(range.status(), !options.continue_token.empty());
    }
    // A read at a past revision shows that revision; etcd's header has the
    // current one.
    if (revision == 0) {
      revision =
          request.revision > 0 ? request.revision : range->header.revision;
    }
    request.revision = revision;
    next_key.clear();
    size_t index = 0;
    for (; index < range->kvs.size(); ++index) {
      const etcd::KeyValue& kv = range->kvs[index];
      // One value that does not decrypt fails the whole list, as upstream.
      ASSIGN_OR_RETURN(Decoded decoded, DecodeValue(resource, *current, kv));
      if (options.filter && !options.filter(decoded.object)) continue;
      decoded.object.erase("kind");
      decoded.object.erase("apiVersion");
      items.push_back(std::move(decoded.object));
      if (options.limit > 0 &&
          static_cast<int64_t>(items.size()) >= options.limit) {
        ++index;
        break;
      }
    }
    const bool page_full = options.limit > 0 &&
                           static_cast<int64_t>(items.size()) >= options.limit;
    const bool more = index < range->kvs.size() || range->more;
    if (!more) break;
    const std::string& last_key = range->kvs[index - 1].key;
    if (page_full) {
      next_key = last_key + '\0';
      remaining = range->count - static_cast<int64_t>(index);
      break;
    }
    request.key = last_key + '\0';
  }

  if (revision < list_start.minimum_revision) {
    return base::DeadlineExceededError(
        "Too large resource version: " +
            std::to_string(list_start.minimum_revision) +
            ", current: " + std::to_string(revision),
        "Timeout");
  }
  Json metadata = {{"resourceVersion", std::to_string(revision)}};
  if (!next_key.empty()) {
    metadata["continue"] =
        EncodeContinueToken(next_key.substr(prefix.size()), revision);
    if (!options.filter) metadata["remainingItemCount"] = remaining;
  }
  // Assigned rather than listed in an initializer, which would copy every
  // item.
  Json list = {
      {"kind", resource.kind + "List"},
      {"apiVersion", "v1"},
      {"metadata", std::move(metadata)},
  };
  list["items"] = std::move(items);
  return list;
}

base::StatusOr<UpdateResult> Registry::Update(const Resource& resource,
                                              const std::string& ns,
                                              Json object,
                                              const WriteOptions& options) {
  RETURN_IF_ERROR(SetNamespace(resource, ns, object));
  const bool requested_finalizers = HasNamespaceFinalizers(object);
  RETURN_IF_ERROR(Normalize(resource, object));
  const std::string name = NameOf(object);
  if (name.empty()) {
    return InvalidError(resource.kind, name,
                        {FieldRequired("metadata.name", "name is required")});
  }
  const std::string expected_version =
      StringField(object["metadata"], "resourceVersion");
  const std::string key = EtcdKey(resource, ns, name);
  SetTypeMeta(resource, object);
  const Json tracked = TrackedCopy(resource, object, requested_finalizers);

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
    ASSIGN_OR_RETURN(std::optional<UpdateResult> result,
                     UpdateStored(resource, key, object, tracked, stored.object,
                                  stored.mod_revision, stored.stale, options));
    if (result.has_value()) return std::move(*result);
    if (!expected_version.empty()) return Conflict(resource, name);
  }
}

base::StatusOr<std::optional<UpdateResult>> Registry::UpdateStored(
    const Resource& resource, const std::string& key, const Json& object,
    const Json& tracked, const Json& stored, int64_t mod_revision, bool stale,
    const WriteOptions& options) {
  Json updated = object;
  Json& metadata = updated["metadata"];
  const Json& stored_metadata = stored["metadata"];
  const std::string uid = StringField(metadata, "uid");
  const std::string stored_uid = StringField(stored_metadata, "uid");
  if (!uid.empty() && uid != stored_uid) {
    // A uid in the body is a precondition on the stored object. Upstream
    // reports the storage layer's error (code 4, invalid object) inside a
    // Conflict.
    const std::string storage_error =
        "StorageError: invalid object, Code: 4, Key: " + key +
        ", ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: UID "
        "in precondition: " +
        uid + ", UID in object meta: " + stored_uid;
    return base::AbortedError(
        "Operation cannot be fulfilled on " + resource.name + " " +
            GoQuote(NameOf(stored)) + ": " + storage_error,
        "Conflict");
  }
  ClearServerMetadata(metadata);
  for (const char* field : {"uid", "creationTimestamp"}) {
    if (stored_metadata.contains(field)) {
      metadata[field] = stored_metadata[field];
    }
  }
  if (options.field_manager.has_value()) {
    const Json recorded = UpdateManagedFields(
        resource.kind, stored, tracked, *options.field_manager, clock_.Now());
    CopyManagedFields(recorded, updated);
  }
  if (std::vector<FieldError> errors =
          ValidateUpdate(resource, updated, stored);
      !errors.empty()) {
    return InvalidError(resource.kind, NameOf(updated), errors);
  }
  KeepManagedFieldsTimes(stored, updated);

  // A no-op update writes only to move a stale value to the current
  // provider or key_id.
  if (!stale && EqualForStorage(updated, stored)) {
    return std::optional<UpdateResult>(UpdateResult{stored, false});
  }
  if (options.dry_run) {
    metadata["resourceVersion"] = std::to_string(mod_revision);
    return std::optional<UpdateResult>(UpdateResult{std::move(updated), false});
  }
  // `updated` is this attempt's own copy, and a successful write sets its
  // resourceVersion again.
  metadata.erase("resourceVersion");
  metadata.erase("selfLink");
  std::string value = EncodeJson(updated);
  if (resource.encrypted) {
    base::StatusOr<std::string> encrypted =
        transformer()->ToStorage(value, key);
    if (!encrypted.ok()) return Internal(encrypted.status().message());
    value = std::move(*encrypted);
  }
  base::StatusOr<int64_t> revision =
      etcd::CompareAndPut(store_, key, value, mod_revision);
  if (revision.ok()) {
    metadata["resourceVersion"] = std::to_string(*revision);
    return std::optional<UpdateResult>(UpdateResult{std::move(updated), true});
  }
  if (revision.status().code() != base::Code::kAborted) {
    return StoreError(revision.status());
  }
  return std::optional<UpdateResult>();
}

base::StatusOr<ApplyResult> Registry::Apply(const Resource& resource,
                                            const std::string& ns,
                                            const std::string& name,
                                            const Json& config,
                                            const ApplyOptions& options) {
  const std::string key = EtcdKey(resource, ns, name);
  const std::string expected_version =
      config.is_object() && config.contains("metadata") &&
              config["metadata"].is_object()
          ? StringField(config["metadata"], "resourceVersion")
          : "";
  while (true) {
    base::StatusOr<std::optional<etcd::KeyValue>> found =
        etcd::Get(store_, key);
    if (!found.ok()) return StoreError(found.status());
    const bool exists = found->has_value();
    Decoded stored;
    if (exists) {
      ASSIGN_OR_RETURN(stored, DecodeValue(resource, *transformer(), **found));
    }

    ASSIGN_OR_RETURN(Json merged,
                     ApplyConfiguration(
                         resource.kind, exists ? stored.object : Json(), config,
                         options.field_manager, options.force, clock_.Now()));
    RETURN_IF_ERROR(CheckAppliedObject(resource, ns, name, exists, merged));
    RETURN_IF_ERROR(Normalize(resource, merged));
    SetTypeMeta(resource, merged);
    if (!exists) {
      merged["metadata"].erase("resourceVersion");
      base::StatusOr<Json> created =
          CreatePrepared(resource, ns, key, std::move(merged), options.dry_run);
      // Created meanwhile: apply to that object instead.
      if (!created.ok() &&
          created.status().code() == base::Code::kAlreadyExists) {
        continue;
      }
      if (!created.ok()) return created.status();
      return ApplyResult{std::move(*created), true, !options.dry_run};
    }

    if (!expected_version.empty() &&
        expected_version != std::to_string(stored.mod_revision)) {
      return Conflict(resource, name);
    }
    WriteOptions write_options;
    write_options.dry_run = options.dry_run;
    ASSIGN_OR_RETURN(
        std::optional<UpdateResult> result,
        UpdateStored(resource, key, merged, merged, stored.object,
                     stored.mod_revision, stored.stale, write_options));
    if (result.has_value()) {
      return ApplyResult{std::move(result->object), false, result->written};
    }
    if (!expected_version.empty()) return Conflict(resource, name);
  }
}

base::StatusOr<Json> Registry::Delete(const Resource& resource,
                                      const std::string& ns,
                                      const std::string& name,
                                      const DeleteOptions& options) {
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
    RETURN_IF_ERROR(CheckDeletePreconditions(resource, stored.object, options));
    if (options.dry_run) return std::move(stored.object);

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

base::StatusOr<Json> Registry::DeleteCollection(
    const Resource& resource, const std::string& ns,
    const std::function<bool(const Json&)>& filter,
    const DeleteOptions& options) {
  ListOptions list_options;
  list_options.filter = filter;
  ASSIGN_OR_RETURN(Json list, List(resource, ns, list_options));
  Json deleted = Json::array();
  for (const Json& item : list["items"]) {
    const std::string item_ns = StringField(item["metadata"], "namespace");
    base::StatusOr<Json> gone =
        Delete(resource, item_ns, NameOf(item), options);
    if (!gone.ok() && gone.status().code() == base::Code::kNotFound) continue;
    if (!gone.ok()) return gone.status();
    gone->erase("kind");
    gone->erase("apiVersion");
    deleted.push_back(std::move(*gone));
  }
  list["items"] = std::move(deleted);
  list["metadata"] = {
      {"resourceVersion", std::to_string(store_.CurrentRevision())}};
  return list;
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

}  // namespace

Json BookmarkObject(const Resource& resource, int64_t revision,
                    bool initial_events_end) {
  Json metadata = {{"resourceVersion", std::to_string(revision)}};
  if (initial_events_end) {
    metadata["annotations"] = {{"k8s.io/initial-events-end", "true"}};
  }
  return {
      {"kind", resource.kind}, {"apiVersion", "v1"}, {"metadata", metadata}};
}

namespace {

// Turns one store event into a watch event. A delete carries the object's
// last state with the deletion's revision, as upstream. With
// `decode_previous`, a MODIFIED event carries the object's state before the
// change, also with the event's revision.
WatchEvent ToWatchEvent(const Resource& resource, Transformer& transformer,
                        const etcd::Event& event, bool decode_previous) {
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
  WatchEvent converted{type, std::move(decoded->object), nullptr};
  if (type == "MODIFIED" && decode_previous && event.prev_kv.has_value()) {
    base::StatusOr<Decoded> previous =
        DecodeValue(resource, transformer, *event.prev_kv);
    if (!previous.ok()) {
      return {"ERROR", InternalErrorStatus(previous.status().message())};
    }
    previous->object["metadata"]["resourceVersion"] =
        std::to_string(event.kv.mod_revision);
    converted.previous = std::move(previous->object);
  }
  return converted;
}

}  // namespace

base::StatusOr<int64_t> Registry::Watch(const Resource& resource,
                                        const std::string& ns,
                                        const std::string& resource_version,
                                        WatchHandler handler) {
  WatchOptions options;
  options.resource_version = resource_version;
  ASSIGN_OR_RETURN(WatchStarted started,
                   Watch(resource, ns, options, std::move(handler)));
  return started.id;
}

base::StatusOr<WatchStarted> Registry::Watch(const Resource& resource,
                                             const std::string& ns,
                                             const WatchOptions& options,
                                             WatchHandler handler) {
  int64_t requested = 0;
  if (!options.resource_version.empty()) {
    base::StatusOr<int64_t> parsed =
        ParseResourceVersion(options.resource_version);
    if (!parsed.ok()) {
      return BadRequest("invalid resource version: " +
                        options.resource_version);
    }
    requested = *parsed;
  }
  const std::string prefix = ListPrefix(resource, ns);
  const bool initial_events =
      options.send_initial_events.value_or(requested == 0);

  // The current objects come first as ADDED events, then the changes after
  // the revision they were read at.
  WatchStarted started;
  started.revision = requested;
  if (initial_events || requested == 0) {
    etcd::RangeRequest range;
    range.key = prefix;
    range.range_end = etcd::PrefixEnd(prefix);
    base::StatusOr<etcd::RangeResponse> current = store_.Range(range);
    if (!current.ok()) return StoreError(current.status());
    started.revision = current->header.revision;
    std::shared_ptr<Transformer> decoder = transformer();
    if (!initial_events) current->kvs.clear();
    for (const etcd::KeyValue& kv : current->kvs) {
      base::StatusOr<Decoded> decoded = DecodeValue(resource, *decoder, kv);
      if (!decoded.ok()) {
        handler({"ERROR", InternalErrorStatus(decoded.status().message())});
        return started;
      }
      handler({"ADDED", std::move(decoded->object)});
    }
    if (initial_events && options.initial_events_end_bookmark) {
      handler({"BOOKMARK", BookmarkObject(resource, started.revision, true)});
    }
  }

  etcd::WatchRequest request;
  request.key = prefix;
  request.range_end = etcd::PrefixEnd(prefix);
  request.start_revision = started.revision + 1;
  request.prev_kv = true;
  // Set after an ERROR event, which ends the stream.
  auto failed = std::make_shared<std::atomic<bool>>(false);
  const bool decode_previous = options.previous_objects;
  ASSIGN_OR_RETURN(started.id, store_.Watch(request, [this, &resource, handler,
                                                      requested, failed,
                                                      decode_previous](
                                                         const etcd::
                                                             WatchResponse&
                                                                 response) {
    if (*failed) return;
    if (response.canceled && response.compact_revision != 0) {
      *failed = true;
      handler({"ERROR", ExpiredStatus(requested, response.compact_revision)});
      return;
    }
    std::shared_ptr<Transformer> decoder = transformer();
    for (const etcd::Event& event : response.events) {
      WatchEvent converted =
          ToWatchEvent(resource, *decoder, event, decode_previous);
      *failed = converted.type == "ERROR";
      handler(converted);
      if (*failed) return;
    }
  }));
  return started;
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
