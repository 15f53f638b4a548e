#include "apiserver/field_manager.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <tuple>
#include <utility>
#include <vector>

#include "apiserver/fieldpath.h"
#include "apiserver/json_compare.h"
#include "apiserver/structured_merge.h"
#include "apiserver/validation.h"

namespace apiserver {
namespace {

using Json = nlohmann::json;

constexpr char kApiVersion[] = "v1";
constexpr char kApply[] = "Apply";
constexpr char kUpdate[] = "Update";
// The manager of kubectl's server-side apply, the only one that takes
// over fields from client-side apply, as upstream.
constexpr char kKubectlManager[] = "kubectl";
// Upstream's DefaultMaxUpdateManagers, and the entry that takes the
// oldest Update entries beyond it.
constexpr size_t kMaxUpdateManagers = 10;
constexpr char kAncientChangesManager[] = "ancient-changes";
// The key under which an update's own changes are computed before they
// join the manager's entry, as upstream's managedFieldsUpdater.
constexpr char kCurrentOperation[] = "current-operation";
// Upstream's limit on the total size of an object's annotations, past
// which the last-applied annotation is dropped.
constexpr size_t kMaxAnnotationsSize = 256 * 1024;

// The identity of a managedFields entry: the name, operation, the
// apiVersion of an Update, and the subresource.
struct ManagerId {
  std::string manager;
  std::string operation;
  std::string api_version;
  std::string subresource;

  // The JSON that upstream's BuildManagerIdentifier makes, which keys and
  // orders the entries.
  std::string Identifier() const {
    std::string out = "{";
    auto add = [&out](const char* key, const std::string& value) {
      if (value.empty()) return;
      if (out.size() > 1) out += ",";
      out += "\"" + std::string(key) + "\":" + GoJsonEncode(Json(value));
    };
    add("manager", manager);
    add("operation", operation);
    add("apiVersion", api_version);
    add("subresource", subresource);
    return out + "}";
  }
};

struct ManagedEntry {
  ManagerId id;
  FieldSet fields;
  std::string api_version;
  bool applied = false;
  std::optional<base::Time> time;
};

// The entries of metadata.managedFields by identifier.
using Managed = std::map<std::string, ManagedEntry>;

// One field that an apply would change although another manager owns it.
struct Conflict {
  std::string identifier;
  FieldPath path;
};

base::Status UnknownError(const std::string& message) {
  return base::Status(base::Code::kInternal, message, "Unknown");
}

std::string StringAt(const Json& object, const char* key) {
  if (!object.is_object()) return "";
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

const Json& MetadataOf(const Json& object) {
  static const Json empty = Json::object();
  if (!object.is_object()) return empty;
  auto it = object.find("metadata");
  return it != object.end() && it->is_object() ? *it : empty;
}

Json ManagedFieldsOf(const Json& object) {
  const Json& metadata = MetadataOf(object);
  auto it = metadata.find("managedFields");
  return it == metadata.end() ? Json() : *it;
}

void RemoveManagedFields(Json& object) {
  if (object.is_object() && object.contains("metadata") &&
      object["metadata"].is_object()) {
    object["metadata"].erase("managedFields");
  }
}

// Fields that the registry resets on every write, which no manager owns:
// a Namespace's status.
FieldSet IgnoredFields(const std::string& kind) {
  FieldSet ignored;
  if (kind == "Namespace") ignored.Insert({PathElement::Field("status")});
  return ignored;
}

// Fields that the server sets, which no manager owns.
const FieldSet& ServerSetFields() {
  static const FieldSet fields = [] {
    FieldSet set;
    set.Insert({PathElement::Field("apiVersion")});
    set.Insert({PathElement::Field("kind")});
    set.Insert({PathElement::Field("metadata")});
    for (const char* name :
         {"name", "namespace", "creationTimestamp", "selfLink", "uid",
          "clusterName", "generation", "managedFields", "resourceVersion"}) {
      set.Insert({PathElement::Field("metadata"), PathElement::Field(name)});
    }
    return set;
  }();
  return fields;
}

void StripServerSetFields(Managed& managed, const std::string& key) {
  auto it = managed.find(key);
  if (it == managed.end()) return;
  it->second.fields = it->second.fields.Difference(ServerSetFields());
  if (it->second.fields.empty()) managed.erase(it);
}

base::StatusOr<Managed> DecodeManaged(const Json& entries) {
  Managed managed;
  if (entries.is_null()) return managed;
  if (!entries.is_array()) {
    return base::InvalidArgumentError("managedFields is not a list");
  }
  for (size_t i = 0; i < entries.size(); ++i) {
    const Json& entry = entries[i];
    const std::string index = std::to_string(i);
    const std::string operation = StringAt(entry, "operation");
    if (operation != kApply && operation != kUpdate) {
      return base::InvalidArgumentError(
          "operation must be `Apply` or `Update`");
    }
    const std::string api_version = StringAt(entry, "apiVersion");
    if (api_version.empty()) {
      return base::InvalidArgumentError("apiVersion must not be empty");
    }
    const std::string fields_type = StringAt(entry, "fieldsType");
    if (fields_type.empty()) {
      return base::InvalidArgumentError(
          "missing fieldsType in managed fields entry " + index);
    }
    if (fields_type != "FieldsV1") {
      return base::InvalidArgumentError("invalid fieldsType " +
                                        GoQuote(fields_type) +
                                        " in managed fields entry " + index);
    }
    auto fields_v1 = entry.find("fieldsV1");
    base::StatusOr<FieldSet> fields = FieldSet::FromFieldsV1(
        fields_v1 == entry.end() ? Json::object() : *fields_v1);
    if (!fields.ok()) {
      return base::InvalidArgumentError(
          "error decoding versioned set from managed fields entry " + index +
          ": " + fields.status().message());
    }

    ManagedEntry decoded;
    decoded.id = {StringAt(entry, "manager"), operation,
                  operation == kApply ? "" : api_version,
                  StringAt(entry, "subresource")};
    decoded.fields = std::move(*fields);
    decoded.api_version = api_version;
    decoded.applied = operation == kApply;
    auto time = entry.find("time");
    if (time != entry.end() && !time->is_null()) {
      std::optional<base::Time> parsed =
          time->is_string() ? base::ParseRfc3339(time->get<std::string>())
                            : std::nullopt;
      if (!parsed.has_value()) {
        return base::InvalidArgumentError(
            "invalid time in managed fields entry " + index);
      }
      decoded.time = *parsed;
    }
    managed[decoded.id.Identifier()] = std::move(decoded);
  }
  return managed;
}

int64_t Seconds(const std::optional<base::Time>& time) {
  if (!time.has_value()) return 0;
  return std::chrono::floor<std::chrono::seconds>(time->time_since_epoch())
      .count();
}

// Writes `managed` into the metadata of `object`, sorted as upstream:
// Apply before Update, then by time, manager, apiVersion and subresource.
void EncodeManaged(const Managed& managed, Json& object) {
  if (!object["metadata"].is_object()) object["metadata"] = Json::object();
  if (managed.empty()) {
    object["metadata"].erase("managedFields");
    return;
  }
  std::vector<const ManagedEntry*> entries;
  for (const auto& [key, entry] : managed) entries.push_back(&entry);
  auto operation = [](const ManagedEntry* entry) {
    return entry->applied ? std::string(kApply) : entry->id.operation;
  };
  std::stable_sort(
      entries.begin(), entries.end(),
      [&](const ManagedEntry* a, const ManagedEntry* b) {
        return std::make_tuple(operation(a), Seconds(a->time), a->id.manager,
                               a->api_version, a->id.subresource) <
               std::make_tuple(operation(b), Seconds(b->time), b->id.manager,
                               b->api_version, b->id.subresource);
      });
  Json list = Json::array();
  for (const ManagedEntry* entry : entries) {
    Json encoded = Json::object();
    if (!entry->id.manager.empty()) encoded["manager"] = entry->id.manager;
    encoded["operation"] = operation(entry);
    encoded["apiVersion"] = entry->api_version;
    if (entry->time.has_value()) {
      encoded["time"] = base::FormatRfc3339(*entry->time);
    }
    encoded["fieldsType"] = "FieldsV1";
    encoded["fieldsV1"] = entry->fields.ToFieldsV1();
    if (!entry->id.subresource.empty()) {
      encoded["subresource"] = entry->id.subresource;
    }
    list.push_back(std::move(encoded));
  }
  object["metadata"]["managedFields"] = std::move(list);
}

// Whether a request's managedFields ask to clear them: [] or one entry
// with nothing set, as upstream's isResetManagedFields.
bool IsReset(const Json& entries) {
  if (!entries.is_array()) return false;
  if (entries.empty()) return true;
  if (entries.size() != 1 || !entries[0].is_object()) return false;
  for (const auto& [key, value] : entries[0].items()) {
    if (!value.is_null() && value != "") return false;
  }
  return true;
}

Comparison CompareWithoutIgnored(const std::string& kind, const Json& lhs,
                                 const Json& rhs) {
  Comparison comparison = CompareObjects(kind, lhs, rhs);
  const FieldSet ignored = IgnoredFields(kind);
  if (ignored.empty()) return comparison;
  comparison.added = comparison.added.RecursiveDifference(ignored);
  comparison.modified = comparison.modified.RecursiveDifference(ignored);
  comparison.removed = comparison.removed.RecursiveDifference(ignored);
  return comparison;
}

struct OthersUpdate {
  Comparison comparison;
  // Set only without `force`. The entries are then not updated, and the
  // apply must fail.
  std::vector<Conflict> conflicts;
};

// Takes from every entry but `workflow` the fields that changed from
// `old_object` to `new_object` and those removed, as upstream's
// Updater.update. Without `force`, changed fields that another entry owns
// are conflicts instead.
OthersUpdate UpdateOthers(const std::string& kind, const Json& old_object,
                          const Json& new_object, Managed& managed,
                          const std::string& workflow, bool force) {
  OthersUpdate result;
  result.comparison = CompareWithoutIgnored(kind, old_object, new_object);
  const FieldSet changed =
      result.comparison.modified.Union(result.comparison.added);
  std::map<std::string, FieldSet> conflicts;
  for (auto it = managed.begin(); it != managed.end();) {
    if (it->first == workflow) {
      ++it;
      continue;
    }
    // Upstream converts each entry to its apiVersion and drops those that
    // the server no longer serves. Here v1 is the only one served.
    if (it->second.api_version != kApiVersion) {
      it = managed.erase(it);
      continue;
    }
    FieldSet conflict = it->second.fields.Intersection(changed);
    if (!conflict.empty()) conflicts[it->first] = std::move(conflict);
    ++it;
  }
  if (!force && !conflicts.empty()) {
    for (const auto& [identifier, fields] : conflicts) {
      for (const FieldPath& path : fields.Paths()) {
        result.conflicts.push_back({identifier, path});
      }
    }
    return result;
  }

  for (const auto& [identifier, fields] : conflicts) {
    managed[identifier].fields = managed[identifier].fields.Difference(fields);
  }
  for (auto& [identifier, entry] : managed) {
    if (identifier == workflow) continue;
    entry.fields = entry.fields.Difference(result.comparison.removed);
  }
  std::erase_if(managed,
                [](const auto& item) { return item.second.fields.empty(); });
  return result;
}

// Gives `key` the fields that changed from `live` to `updated`, as
// upstream's Updater.Update.
void RecordUpdate(const std::string& kind, const Json& live,
                  const Json& updated, Managed& managed, const std::string& key,
                  const ManagerId& id) {
  OthersUpdate others = UpdateOthers(kind, live, updated, managed, key, true);
  ManagedEntry& entry = managed[key];
  entry.id = id;
  entry.fields = entry.fields.Union(others.comparison.modified)
                     .Union(others.comparison.added)
                     .Difference(others.comparison.removed)
                     .RecursiveDifference(IgnoredFields(kind));
  entry.api_version = kApiVersion;
  entry.applied = false;
  if (entry.fields.empty()) managed.erase(key);
}

// Merges the oldest Update entries beyond kMaxUpdateManagers into an
// "ancient-changes" entry per apiVersion, as upstream's capManagersManager.
void CapUpdateManagers(Managed& managed) {
  std::vector<std::string> updaters;
  for (const auto& [key, entry] : managed) {
    if (!entry.applied) updaters.push_back(key);
  }
  if (updaters.size() <= kMaxUpdateManagers) return;
  std::sort(updaters.begin(), updaters.end(),
            [&managed](const std::string& a, const std::string& b) {
              const int64_t a_seconds = Seconds(managed.at(a).time);
              const int64_t b_seconds = Seconds(managed.at(b).time);
              return a_seconds != b_seconds ? a_seconds < b_seconds : a < b;
            });

  std::map<std::string, std::string> first_of_version;
  size_t remaining = updaters.size();
  for (size_t i = 0; i < updaters.size() && remaining > kMaxUpdateManagers;
       ++i) {
    const std::string& key = updaters[i];
    const ManagedEntry entry = managed.at(key);
    const ManagerId bucket_id{kAncientChangesManager, kUpdate,
                              entry.api_version, ""};
    const std::string bucket = bucket_id.Identifier();
    auto first = first_of_version.find(entry.api_version);
    if (first == first_of_version.end()) {
      first_of_version[entry.api_version] = key;
      continue;
    }
    if (!managed.contains(bucket)) {
      ManagedEntry moved = managed.at(first->second);
      managed.erase(first->second);
      moved.id = bucket_id;
      managed[bucket] = std::move(moved);
    }
    ManagedEntry& target = managed[bucket];
    target.fields = entry.fields.Union(target.fields);
    target.api_version = entry.api_version;
    target.applied = entry.applied;
    managed.erase(key);
    --remaining;
    // The bucket takes the time of the newest entry merged into it.
    if (auto merged = managed.find(bucket); merged != managed.end()) {
      merged->second.time = entry.time;
    }
  }
}

std::string PrintManager(const std::string& identifier) {
  const Json id = Json::parse(identifier, nullptr, false);
  if (!id.is_object()) return GoQuote(identifier);
  std::string printed = GoQuote(StringAt(id, "manager"));
  const std::string subresource = StringAt(id, "subresource");
  if (!subresource.empty()) {
    printed += " with subresource " + GoQuote(subresource);
  }
  if (StringAt(id, "operation") == kUpdate) {
    printed += " using " + StringAt(id, "apiVersion");
  }
  return printed;
}

// The 409 of upstream's NewConflictError.
base::Status ConflictError(const std::vector<Conflict>& conflicts) {
  std::string message;
  if (conflicts.size() == 1) {
    message = "Apply failed with 1 conflict: conflict with " +
              PrintManager(conflicts[0].identifier) + ": " +
              PathString(conflicts[0].path);
  } else {
    std::map<std::string, std::vector<std::string>> by_manager;
    for (const Conflict& conflict : conflicts) {
      by_manager[conflict.identifier].push_back(PathString(conflict.path));
    }
    std::vector<std::string> lines;
    for (const auto& [identifier, paths] : by_manager) {
      lines.push_back("conflicts with " + PrintManager(identifier) + ":");
      for (const std::string& path : paths) lines.push_back("- " + path);
    }
    message = "Apply failed with " + std::to_string(conflicts.size()) +
              " conflicts: ";
    for (size_t i = 0; i < lines.size(); ++i) {
      message += (i > 0 ? "\n" : "") + lines[i];
    }
  }
  Json causes = Json::array();
  for (const Conflict& conflict : conflicts) {
    causes.push_back(
        {{"type", "FieldManagerConflict"},
         {"message", "conflict with " + PrintManager(conflict.identifier)},
         {"field", PathString(conflict.path)}});
  }
  base::Status status = base::AbortedError(message, "Conflict");
  status.SetPayload(
      kStatusCausesPayload,
      causes.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  return status;
}

// The group, version and kind of an object as Go's GroupVersionKind
// prints them: "/v1, Kind=Secret". An apiVersion with more than one slash
// does not parse, so the whole value is empty: "/, Kind=".
std::string GvkString(const Json& object) {
  const std::string api_version = StringAt(object, "apiVersion");
  const size_t slashes =
      std::count(api_version.begin(), api_version.end(), '/');
  if (slashes > 1) return "/, Kind=";
  std::string group;
  std::string version = api_version;
  if (slashes == 1) {
    group = api_version.substr(0, api_version.find('/'));
    version = api_version.substr(api_version.find('/') + 1);
  }
  return group + "/" + version + ", Kind=" + StringAt(object, "kind");
}

// "default/db; /v1, Kind=Secret", as upstream's objectGVKNN.
std::string DescribeObject(const Json& object) {
  const Json& metadata = MetadataOf(object);
  return StringAt(metadata, "namespace") + "/" + StringAt(metadata, "name") +
         "; " + GvkString(object);
}

std::string LastApplied(const Json& object) {
  const Json& metadata = MetadataOf(object);
  auto annotations = metadata.find("annotations");
  if (annotations == metadata.end()) return "";
  return StringAt(*annotations, kLastAppliedAnnotation);
}

// The fields of the last client-side apply that `live` still has with the
// same values, which kubectl's server-side apply may take over without a
// conflict, as upstream's lastAppliedManager. nullopt when there is no
// usable annotation.
std::optional<FieldSet> FieldsUnchangedSinceLastApply(const std::string& kind,
                                                      const Json& live) {
  const std::string text = LastApplied(live);
  if (text.empty()) return std::nullopt;
  const Json last = Json::parse(text, nullptr, false);
  if (!last.is_object() || StringAt(last, "kind").empty() ||
      StringAt(last, "apiVersion") != kApiVersion ||
      !SchemaErrors(kind, last, false).empty() ||
      !SchemaErrors(kind, live, false).empty()) {
    return std::nullopt;
  }
  const Comparison comparison = CompareObjects(kind, last, live);
  return FieldsOf(kind, last)
      .Difference(comparison.modified)
      .Difference(comparison.added)
      .Difference(comparison.removed);
}

// The annotation value that kubectl's client-side apply would write for
// `config`: its JSON without the annotation itself, and a newline.
std::string BuildLastApplied(Json config) {
  if (config.is_object() && config.contains("metadata") &&
      config["metadata"].is_object()) {
    Json& metadata = config["metadata"];
    if (metadata.contains("annotations") &&
        metadata["annotations"].is_object()) {
      metadata["annotations"].erase(kLastAppliedAnnotation);
      if (metadata["annotations"].empty()) metadata.erase("annotations");
    }
  }
  return GoJsonEncode(config) + "\n";
}

// Sets the annotation unless the annotations would then exceed their size
// limit, in which case it is dropped, as upstream's SetLastApplied.
void SetLastApplied(Json& object, const std::string& value) {
  Json& annotations = object["metadata"]["annotations"];
  if (!annotations.is_object()) annotations = Json::object();
  annotations[kLastAppliedAnnotation] = value;
  size_t total = 0;
  for (const auto& [key, annotation] : annotations.items()) {
    total += key.size();
    if (annotation.is_string()) total += annotation.get<std::string>().size();
  }
  if (total > kMaxAnnotationsSize) annotations.erase(kLastAppliedAnnotation);
}

// Removes what `last` applied and the new configuration no longer sets,
// unless another manager owns it, as upstream's Updater.prune.
Json Prune(const std::string& kind, const Json& merged, const Managed& managed,
           const std::optional<ManagedEntry>& last) {
  if (!last.has_value() || last->fields.empty() ||
      last->api_version != kApiVersion) {
    return merged;
  }
  auto ensure = [&kind](const FieldSet& fields) {
    return EnsureNamedFieldsAreMembers(kind, fields);
  };
  const FieldSet last_fields = ensure(last->fields);
  Json pruned = RemoveFields(kind, merged, last_fields);

  // Adds back what any manager (the applier's new configuration included)
  // owns.
  FieldSet owned;
  for (const auto& [key, entry] : managed) {
    if (entry.api_version == kApiVersion) owned = owned.Union(entry.fields);
  }
  const FieldSet merged_fields = ensure(FieldsOf(kind, merged));
  pruned =
      RemoveFields(kind, merged,
                   merged_fields.Difference(
                       ensure(FieldsOf(kind, pruned)).Union(ensure(owned))));

  // Removes only what the applier owned before.
  const FieldSet pruned_fields = ensure(FieldsOf(kind, pruned));
  return RemoveFields(
      kind, merged,
      merged_fields.Difference(pruned_fields).Intersection(last_fields));
}

struct ApplyStep {
  Json object;
  Managed managed;
  std::vector<Conflict> conflicts;
};

// One apply without the last-applied handling: the merge and prune of
// upstream's Updater.Apply, then the entry's time and the cap on Update
// entries.
base::StatusOr<ApplyStep> ApplyOnce(const std::string& kind, const Json& live,
                                    const Json& config, Managed managed,
                                    const std::string& manager, bool force,
                                    base::Time now) {
  const ManagerId id{manager, kApply, "", ""};
  const std::string key = id.Identifier();
  if (!ManagedFieldsOf(config).is_null()) {
    return base::InvalidArgumentError("metadata.managedFields must be nil",
                                      "BadRequest");
  }
  std::string errors = SchemaErrors(kind, config, false);
  if (!errors.empty()) {
    return UnknownError("failed to create typed patch object (" +
                        DescribeObject(config) + "): " + errors);
  }
  errors = SchemaErrors(kind, live, true);
  if (!errors.empty()) {
    return UnknownError("failed to create typed live object (" +
                        DescribeObject(live) + "): " + errors);
  }

  Json merged = MergeObjects(kind, live, config);
  std::optional<ManagedEntry> last;
  if (auto it = managed.find(key); it != managed.end()) last = it->second;
  ManagedEntry& entry = managed[key];
  entry.id = id;
  entry.fields =
      FieldsOf(kind, config).RecursiveDifference(IgnoredFields(kind));
  entry.api_version = kApiVersion;
  entry.applied = true;
  merged = Prune(kind, merged, managed, last);
  OthersUpdate others = UpdateOthers(kind, live, merged, managed, key, force);
  ApplyStep step;
  if (!others.conflicts.empty()) {
    step.conflicts = std::move(others.conflicts);
    return step;
  }

  StripServerSetFields(managed, key);
  if (merged != live) {
    if (auto applied = managed.find(key); applied != managed.end()) {
      applied->second.time = now;
    }
    DropNullFields(kind, merged);
    step.object = std::move(merged);
  } else {
    step.object = live;
    RemoveManagedFields(step.object);
  }
  CapUpdateManagers(managed);
  step.managed = std::move(managed);
  return step;
}

}  // namespace

Json UpdateManagedFields(const std::string& kind, const Json& live,
                         Json updated, const std::string& manager,
                         base::Time now) {
  const Json live_entries = ManagedFieldsOf(live);
  const Json requested = ManagedFieldsOf(updated);
  // An update that changes nothing, such as a client's rewrite of a stale
  // object, records no field, so every entry stays as stored.
  if (live_entries.is_array() && !live_entries.empty() &&
      (requested.is_null() || requested == live_entries) &&
      EqualIgnoringMetadata(live, updated,
                            {"managedFields", "resourceVersion", "selfLink"})) {
    updated["metadata"]["managedFields"] = live_entries;
    return updated;
  }
  Managed managed;
  if (!IsReset(requested)) {
    base::StatusOr<Managed> decoded = DecodeManaged(requested);
    if (!decoded.ok() || decoded->empty()) {
      // Clients that do not know managedFields leave them out; the stored
      // ones stay.
      decoded = DecodeManaged(live_entries);
    }
    if (decoded.ok()) managed = std::move(*decoded);
  }
  RemoveManagedFields(updated);

  // An object that does not fit the schema keeps what was stored, as
  // upstream's UpdateNoErrors.
  if (!SchemaErrors(kind, updated, true).empty() ||
      !SchemaErrors(kind, live, true).empty()) {
    if (!live_entries.is_null()) {
      updated["metadata"]["managedFields"] = live_entries;
    }
    return updated;
  }

  RecordUpdate(kind, live, updated, managed, kCurrentOperation,
               {kCurrentOperation, kUpdate, kApiVersion, ""});
  StripServerSetFields(managed, kCurrentOperation);
  auto current = managed.find(kCurrentOperation);
  if (current != managed.end()) {
    // The request changed something: the manager's entry takes the fields
    // and the time.
    const ManagerId id{manager, kUpdate, kApiVersion, ""};
    const std::string key = id.Identifier();
    ManagedEntry entry = std::move(current->second);
    managed.erase(current);
    if (auto previous = managed.find(key); previous != managed.end()) {
      entry.fields = entry.fields.Union(previous->second.fields);
    }
    entry.id = id;
    entry.time = now;
    managed[key] = std::move(entry);
  }
  CapUpdateManagers(managed);
  EncodeManaged(managed, updated);
  return updated;
}

base::StatusOr<Json> ApplyConfiguration(const std::string& kind,
                                        const Json& live, const Json& config,
                                        const std::string& manager, bool force,
                                        base::Time now) {
  base::StatusOr<Managed> managed = DecodeManaged(ManagedFieldsOf(live));
  if (!managed.ok()) {
    return UnknownError("failed to decode managed fields: " +
                        managed.status().message());
  }
  const std::string gvk = GvkString(config);
  if (gvk != "/" + std::string(kApiVersion) + ", Kind=" + kind) {
    return base::InvalidArgumentError("invalid object type: " + gvk,
                                      "BadRequest");
  }

  ASSIGN_OR_RETURN(ApplyStep step, ApplyOnce(kind, live, config, *managed,
                                             manager, force, now));
  if (!step.conflicts.empty() && manager == kKubectlManager) {
    // Fields that kubectl's client-side apply set and nobody changed since
    // pass to kubectl's server-side apply.
    std::optional<FieldSet> unchanged =
        FieldsUnchangedSinceLastApply(kind, live);
    if (unchanged.has_value()) {
      std::erase_if(step.conflicts, [&unchanged](const Conflict& conflict) {
        return unchanged->Has(conflict.path);
      });
      if (step.conflicts.empty()) {
        ASSIGN_OR_RETURN(
            step, ApplyOnce(kind, live, config, *managed, manager, true, now));
      }
    }
  }
  if (!step.conflicts.empty()) return ConflictError(step.conflicts);

  if (manager == kKubectlManager && !LastApplied(step.object).empty()) {
    SetLastApplied(step.object, BuildLastApplied(config));
  }
  EncodeManaged(step.managed, step.object);
  return std::move(step.object);
}

}  // namespace apiserver
