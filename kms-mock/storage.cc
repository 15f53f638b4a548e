#include "kms-mock/storage.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "base/crypto.h"

namespace kms::internal {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kInstancePrefix = "i/";
constexpr std::string_view kKeyPrefix = "k/";
constexpr std::string_view kRegistrationPrefix = "r/";

int64_t ToNanos(base::Time t) { return t.time_since_epoch().count(); }
base::Time FromNanos(int64_t n) { return base::Time(base::Duration(n)); }

Json OptionalTime(const std::optional<base::Time>& t) {
  return t ? Json(ToNanos(*t)) : Json(nullptr);
}

std::optional<base::Time> ReadOptionalTime(const Json& json, const char* name) {
  if (!json.contains(name) || json[name].is_null()) return std::nullopt;
  return FromNanos(json[name].get<int64_t>());
}

Json EncodeInstance(const Instance& instance, uint64_t sequence) {
  return Json{{"id", instance.id},
              {"name", instance.name},
              {"type", InstanceTypeName(instance.type)},
              {"region", instance.region},
              {"sequence", sequence}};
}

Json EncodeKey(const KeyRecord& record) {
  const Key& key = record.meta;
  Json versions = Json::array();
  for (size_t i = 0; i < key.versions.size(); ++i) {
    versions.push_back(
        {{"id", key.versions[i].id},
         {"creation_date", ToNanos(key.versions[i].creation_date)},
         {"material", base::Base64Encode(record.materials[i])}});
  }
  Json json = {
      {"id", key.id},
      {"instance_id", key.instance_id},
      {"name", key.name},
      {"description", key.description},
      {"extractable", key.extractable},
      {"imported", key.imported},
      {"state", static_cast<int>(key.state)},
      {"creation_date", ToNanos(key.creation_date)},
      {"last_update_date", ToNanos(key.last_update_date)},
      {"expiration", OptionalTime(key.expiration)},
      {"last_rotate_date", OptionalTime(key.last_rotate_date)},
      {"deletion_date", OptionalTime(key.deletion_date)},
      {"restore_expiration_date", OptionalTime(key.restore_expiration_date)},
      {"purge_allowed_from", OptionalTime(key.purge_allowed_from)},
      {"dual_auth_delete", key.dual_auth_delete},
      {"dual_auth_authorized_until",
       OptionalTime(key.dual_auth_authorized_until)},
      {"versions", std::move(versions)},
      {"disabled_at", OptionalTime(record.disabled_at)},
      {"deactivate_at", OptionalTime(record.deactivate_at)},
      {"sequence", record.sequence},
  };
  if (record.state_before_deletion) {
    json["state_before_deletion"] =
        static_cast<int>(*record.state_before_deletion);
  }
  return json;
}

base::StatusOr<KeyRecord> DecodeKey(const Json& json) {
  KeyRecord record;
  Key& key = record.meta;
  key.id = json.at("id");
  key.instance_id = json.at("instance_id");
  key.name = json.at("name");
  key.description = json.at("description");
  key.extractable = json.at("extractable");
  key.imported = json.at("imported");
  key.state = static_cast<KeyState>(json.at("state").get<int>());
  key.creation_date = FromNanos(json.at("creation_date"));
  key.last_update_date = FromNanos(json.at("last_update_date"));
  key.expiration = ReadOptionalTime(json, "expiration");
  key.last_rotate_date = ReadOptionalTime(json, "last_rotate_date");
  key.deletion_date = ReadOptionalTime(json, "deletion_date");
  key.restore_expiration_date =
      ReadOptionalTime(json, "restore_expiration_date");
  key.purge_allowed_from = ReadOptionalTime(json, "purge_allowed_from");
  key.dual_auth_delete = json.at("dual_auth_delete");
  key.dual_auth_authorized_until =
      ReadOptionalTime(json, "dual_auth_authorized_until");

  for (const Json& version : json.at("versions")) {
    key.versions.push_back(
        {version.at("id"), FromNanos(version.at("creation_date"))});
    ASSIGN_OR_RETURN(
        std::string material,
        base::Base64Decode(version.at("material").get<std::string>()));
    record.materials.push_back(std::move(material));
  }
  if (key.versions.empty()) {
    return base::DataLossError("stored key " + key.id + " has no versions");
  }
  if (key.extractable) key.payload = record.materials.back();

  record.disabled_at = ReadOptionalTime(json, "disabled_at");
  record.deactivate_at = ReadOptionalTime(json, "deactivate_at");
  record.sequence = json.at("sequence");
  if (json.contains("state_before_deletion")) {
    record.state_before_deletion =
        static_cast<KeyState>(json["state_before_deletion"].get<int>());
  }
  return record;
}

Json EncodeRegistrations(const ServiceState& state, const std::string& key_id) {
  Json out = Json::array();
  for (const Registration& r : state.registrations) {
    if (r.key_id != key_id) continue;
    out.push_back({{"instance_id", r.instance_id},
                   {"key_id", r.key_id},
                   {"resource_crn", r.resource_crn},
                   {"description", r.description},
                   {"prevent_key_deletion", r.prevent_key_deletion},
                   {"creation_date", ToNanos(r.creation_date)}});
  }
  return out;
}

Registration DecodeRegistration(const Json& json) {
  Registration r;
  r.instance_id = json.at("instance_id");
  r.key_id = json.at("key_id");
  r.resource_crn = json.at("resource_crn");
  r.description = json.at("description");
  r.prevent_key_deletion = json.at("prevent_key_deletion");
  r.creation_date = FromNanos(json.at("creation_date"));
  return r;
}

base::Status Failed(const std::string& what, const rocksdb::Status& status) {
  return base::UnavailableError(what + ": " + status.ToString());
}

// Decodes one record into `state`. Adds (sequence, id) of a key to `keys`.
base::Status LoadRecord(std::string_view name, const Json& json,
                        ServiceState& state,
                        std::vector<std::pair<uint64_t, std::string>>& keys) {
  if (name.starts_with(kInstancePrefix)) {
    Instance instance;
    instance.id = json.at("id");
    instance.name = json.at("name");
    std::optional<InstanceType> type =
        ParseInstanceType(json.at("type").get<std::string>());
    if (!type)
      return base::DataLossError("bad instance type in " + std::string(name));
    instance.type = *type;
    instance.region = json.at("region");
    state.instance_sequences[instance.id] = json.at("sequence");
    state.instances[instance.id] = std::move(instance);
  } else if (name.starts_with(kKeyPrefix)) {
    ASSIGN_OR_RETURN(KeyRecord record, DecodeKey(json));
    keys.emplace_back(record.sequence, record.meta.id);
    state.keys[record.meta.id] = std::move(record);
  } else if (name.starts_with(kRegistrationPrefix)) {
    for (const Json& item : json) {
      state.registrations.push_back(DecodeRegistration(item));
    }
  }
  return base::OkStatus();
}

}  // namespace

KeyStore::KeyStore(std::unique_ptr<rocksdb::DB> db, bool sync)
    : db_(std::move(db)), sync_(sync) {}

KeyStore::~KeyStore() = default;

base::StatusOr<std::unique_ptr<KeyStore>> KeyStore::Open(
    const std::string& data_dir, bool sync) {
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* db = nullptr;
  rocksdb::Status status = rocksdb::DB::Open(options, data_dir, &db);
  if (!status.ok()) return Failed("cannot open " + data_dir, status);
  return std::unique_ptr<KeyStore>(
      new KeyStore(std::unique_ptr<rocksdb::DB>(db), sync));
}

base::Status KeyStore::Load(ServiceState& state) {
  std::vector<std::pair<uint64_t, std::string>> keys;
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string name = it->key().ToString();
    Json json = Json::parse(it->value().ToString(), nullptr, false);
    if (json.is_discarded()) {
      return base::DataLossError("stored record " + name + " is not JSON");
    }
    base::Status loaded;
    try {
      loaded = LoadRecord(name, json, state, keys);
    } catch (const Json::exception& e) {
      // nlohmann reports missing or mistyped fields by throwing.
      return base::DataLossError("stored record " + name +
                                 " is malformed: " + e.what());
    }
    RETURN_IF_ERROR(loaded);
  }
  if (!it->status().ok()) return Failed("cannot read keys", it->status());

  // Restore creation order, which the record names do not keep.
  std::vector<std::pair<uint64_t, std::string>> instances;
  for (const auto& [id, sequence] : state.instance_sequences) {
    instances.emplace_back(sequence, id);
  }
  std::ranges::sort(instances);
  std::ranges::sort(keys);
  uint64_t last = 0;
  for (const auto& [sequence, id] : instances) {
    state.instance_order.push_back(id);
    last = std::max(last, sequence);
  }
  for (const auto& [sequence, id] : keys) {
    state.key_order[state.keys.at(id).meta.instance_id].push_back(id);
    last = std::max(last, sequence);
  }
  state.next_sequence = last + 1;
  return base::OkStatus();
}

base::Status KeyStore::Write(const ServiceState& state, const DirtySet& dirty) {
  rocksdb::WriteBatch batch;
  for (const std::string& id : dirty.instances) {
    auto it = state.instances.find(id);
    if (it == state.instances.end()) continue;
    batch.Put(
        std::string(kInstancePrefix) + id,
        EncodeInstance(it->second, state.instance_sequences.at(id))
            .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  for (const std::string& id : dirty.keys) {
    std::string name = std::string(kKeyPrefix) + id;
    auto it = state.keys.find(id);
    if (it == state.keys.end()) {
      batch.Delete(name);  // purged
    } else {
      batch.Put(name, EncodeKey(it->second)
                          .dump(-1, ' ', false,
                                nlohmann::json::error_handler_t::replace));
    }
  }
  for (const std::string& key_id : dirty.registrations) {
    std::string name = std::string(kRegistrationPrefix) + key_id;
    Json list = EncodeRegistrations(state, key_id);
    if (list.empty()) {
      batch.Delete(name);
    } else {
      batch.Put(name, list.dump(-1, ' ', false,
                                nlohmann::json::error_handler_t::replace));
    }
  }

  rocksdb::WriteOptions options;
  options.sync = sync_;
  rocksdb::Status status = db_->Write(options, &batch);
  if (!status.ok()) return Failed("cannot write keys", status);
  return base::OkStatus();
}

}  // namespace kms::internal
