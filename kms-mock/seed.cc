#include "kms-mock/seed.h"

#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <vector>

#include "base/crypto.h"
#include "base/random.h"

namespace kms {
namespace {

struct SeedKey {
  CreateKeyRequest request;
  KeyState state = KeyState::kActive;
  std::vector<Registration> registrations;  // key and instance ids unset
};

struct SeedInstance {
  std::string id;
  std::string name;
  InstanceType type = InstanceType::kKeyProtect;
  std::vector<SeedKey> keys;
};

base::Status Invalid(const std::string& where, const std::string& message) {
  return base::InvalidArgumentError(where + ": " + message);
}

// Reads an optional scalar; fails when the node is present but not scalar.
base::StatusOr<std::optional<std::string>> Scalar(const YAML::Node& parent,
                                                  const std::string& name,
                                                  const std::string& where) {
  YAML::Node node = parent[name];
  if (!node || node.IsNull()) return std::optional<std::string>();
  if (!node.IsScalar()) return Invalid(where + "." + name, "must be a value");
  return std::optional<std::string>(node.as<std::string>());
}

base::StatusOr<bool> Bool(const YAML::Node& parent, const std::string& name,
                          const std::string& where, bool fallback) {
  ASSIGN_OR_RETURN(std::optional<std::string> text,
                   Scalar(parent, name, where));
  if (!text) return fallback;
  if (*text == "true") return true;
  if (*text == "false") return false;
  return Invalid(where + "." + name, "must be true or false, got " + *text);
}

base::StatusOr<std::vector<Registration>> ParseRegistrations(
    const YAML::Node& key, const std::string& where) {
  std::vector<Registration> out;
  YAML::Node list = key["registrations"];
  if (!list) return out;
  if (!list.IsSequence())
    return Invalid(where + ".registrations", "not a list");
  for (size_t i = 0; i < list.size(); ++i) {
    std::string at = where + ".registrations[" + std::to_string(i) + "]";
    Registration registration;
    ASSIGN_OR_RETURN(std::optional<std::string> crn,
                     Scalar(list[i], "crn", at));
    if (!crn || crn->empty()) return Invalid(at + ".crn", "is missing");
    registration.resource_crn = *crn;
    ASSIGN_OR_RETURN(registration.prevent_key_deletion,
                     Bool(list[i], "prevent_key_deletion", at, true));
    out.push_back(std::move(registration));
  }
  return out;
}

// Reads `versions:`, the versions after the first, each `{payload:
// <base64>}` or `{}` for generated material.
base::StatusOr<std::vector<std::optional<std::string>>> ParseVersions(
    const YAML::Node& key, const std::string& where) {
  std::vector<std::optional<std::string>> out;
  YAML::Node list = key["versions"];
  if (!list) return out;
  if (!list.IsSequence()) return Invalid(where + ".versions", "not a list");
  for (size_t i = 0; i < list.size(); ++i) {
    std::string at = where + ".versions[" + std::to_string(i) + "]";
    if (!list[i].IsMap() && !list[i].IsNull()) {
      return Invalid(at, "not a mapping");
    }
    ASSIGN_OR_RETURN(std::optional<std::string> payload,
                     Scalar(list[i], "payload", at));
    if (!payload) {
      out.push_back(std::nullopt);
      continue;
    }
    base::StatusOr<std::string> bytes = base::Base64Decode(*payload);
    if (!bytes.ok()) return Invalid(at + ".payload", "not valid base64");
    out.push_back(std::move(bytes).value());
  }
  return out;
}

base::StatusOr<SeedKey> ParseKey(const YAML::Node& node,
                                 const std::string& where) {
  if (!node.IsMap()) return Invalid(where, "not a mapping");
  SeedKey key;
  ASSIGN_OR_RETURN(std::optional<std::string> name,
                   Scalar(node, "name", where));
  if (!name || name->empty()) return Invalid(where + ".name", "is missing");
  key.request.name = *name;
  ASSIGN_OR_RETURN(key.request.id, Scalar(node, "id", where));
  ASSIGN_OR_RETURN(std::optional<std::string> description,
                   Scalar(node, "description", where));
  key.request.description = description.value_or("");
  ASSIGN_OR_RETURN(key.request.extractable,
                   Bool(node, "extractable", where, false));
  ASSIGN_OR_RETURN(key.request.dual_auth_delete,
                   Bool(node, "dual_auth_delete", where, false));

  ASSIGN_OR_RETURN(std::optional<std::string> payload,
                   Scalar(node, "payload", where));
  if (payload) {
    base::StatusOr<std::string> bytes = base::Base64Decode(*payload);
    if (!bytes.ok()) return Invalid(where + ".payload", "not valid base64");
    key.request.material = std::move(bytes).value();
  }
  ASSIGN_OR_RETURN(std::optional<std::string> expiration,
                   Scalar(node, "expiration", where));
  if (expiration) {
    key.request.expiration = base::ParseRfc3339(*expiration);
    if (!key.request.expiration) {
      return Invalid(where + ".expiration",
                     "not an RFC 3339 time: " + *expiration);
    }
  }
  ASSIGN_OR_RETURN(key.request.later_versions, ParseVersions(node, where));
  ASSIGN_OR_RETURN(std::optional<std::string> state,
                   Scalar(node, "state", where));
  if (state) {
    std::optional<KeyState> parsed = ParseKeyState(*state);
    if (!parsed || *parsed == KeyState::kPreActivation) {
      return Invalid(where + ".state",
                     "must be Active, Suspended, Deactivated or Destroyed, "
                     "got " +
                         *state);
    }
    key.state = *parsed;
  }
  // A Deactivated key is created as if its expiration had passed.
  key.request.deactivated = key.state == KeyState::kDeactivated;
  ASSIGN_OR_RETURN(key.registrations, ParseRegistrations(node, where));
  if (key.state == KeyState::kDestroyed && !key.registrations.empty()) {
    return Invalid(where + ".registrations",
                   "a Destroyed key cannot have registrations");
  }
  return key;
}

base::StatusOr<std::vector<SeedInstance>> ParseSeed(const std::string& text) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return base::InvalidArgumentError(std::string("seed is not YAML: ") +
                                      e.what());
  }
  YAML::Node list = root["instances"];
  if (!list || !list.IsSequence()) {
    return base::InvalidArgumentError("seed needs an instances: list");
  }
  std::vector<SeedInstance> out;
  for (size_t i = 0; i < list.size(); ++i) {
    std::string where = "instances[" + std::to_string(i) + "]";
    const YAML::Node& node = list[i];
    if (!node.IsMap()) return Invalid(where, "not a mapping");
    SeedInstance instance;
    ASSIGN_OR_RETURN(std::optional<std::string> id, Scalar(node, "id", where));
    instance.id = id.value_or("");
    ASSIGN_OR_RETURN(std::optional<std::string> name,
                     Scalar(node, "name", where));
    instance.name = name.value_or(instance.id);
    ASSIGN_OR_RETURN(std::optional<std::string> type,
                     Scalar(node, "type", where));
    if (type) {
      std::optional<InstanceType> parsed = ParseInstanceType(*type);
      if (!parsed) {
        return Invalid(where + ".type",
                       "must be key-protect or hpcs, got " + *type);
      }
      instance.type = *parsed;
    }
    YAML::Node keys = node["keys"];
    if (keys && !keys.IsSequence())
      return Invalid(where + ".keys", "not a list");
    for (size_t k = 0; keys && k < keys.size(); ++k) {
      std::string at = where + ".keys[" + std::to_string(k) + "]";
      ASSIGN_OR_RETURN(SeedKey key, ParseKey(keys[k], at));
      instance.keys.push_back(std::move(key));
    }
    out.push_back(std::move(instance));
  }
  return out;
}

// Brings a new key into the seed's state through the lifecycle, so that the
// key carries the dates a real transition sets.
base::Status MoveToState(KeyService& service, const std::string& instance_id,
                         const Key& key, KeyState state) {
  switch (state) {
    case KeyState::kSuspended:
      return service.Disable(instance_id, key.id);
    case KeyState::kDestroyed:
      if (key.dual_auth_delete) {
        RETURN_IF_ERROR(service.SetKeyForDeletion(instance_id, key.id));
      }
      return service.Delete(instance_id, key.id).status();
    default:
      return base::OkStatus();  // Active, or Deactivated from creation
  }
}

base::Status CreateKey(KeyService& service, const std::string& instance_id,
                       const SeedKey& seed) {
  ASSIGN_OR_RETURN(Key key, service.CreateKey(instance_id, seed.request));
  for (Registration registration : seed.registrations) {
    registration.instance_id = instance_id;
    registration.key_id = key.id;
    RETURN_IF_ERROR(service.Register(registration));
  }
  return MoveToState(service, instance_id, key, seed.state);
}

// Prefixes an error with the seed entry it came from, keeping its code and
// reason.
base::Status Located(const std::string& where, const base::Status& status) {
  return base::Status(status.code(), where + ": " + status.message(),
                      status.reason());
}

base::StatusOr<Instance> CopyInstance(const KeyService& from, KeyService& to,
                                      const std::string& instance_id) {
  ASSIGN_OR_RETURN(Instance instance, from.GetInstance(instance_id));
  return to.CreateInstance(instance.name, instance.type, instance.id);
}

// Whether any instance of `service` has a key with this id.
bool KeyIdTaken(const KeyService& service, const std::string& key_id) {
  return std::ranges::any_of(service.ListInstances(),
                             [&](const Instance& instance) {
                               return service.GetKey(instance.id, key_id).ok();
                             });
}

// Creates the seed's instances and keys in `target`, skipping each entry
// whose id `existing` already has. Errors name the entry that failed.
base::Status Populate(KeyService& target, const KeyService& existing,
                      const std::vector<SeedInstance>& instances,
                      int& created_keys) {
  for (size_t i = 0; i < instances.size(); ++i) {
    const SeedInstance& seed = instances[i];
    std::string where = "instances[" + std::to_string(i) + "]";
    bool exists = !seed.id.empty() && existing.GetInstance(seed.id).ok();
    std::string instance_id = seed.id;
    if (!exists || !target.GetInstance(seed.id).ok()) {
      // In a rehearsal, an instance that exists already is copied into the
      // scratch service, so that its new keys have somewhere to go.
      base::StatusOr<Instance> created =
          exists ? CopyInstance(existing, target, seed.id)
                 : target.CreateInstance(seed.name, seed.type, seed.id);
      if (!created.ok()) return Located(where, created.status());
      instance_id = created->id;
    }
    for (size_t k = 0; k < seed.keys.size(); ++k) {
      const SeedKey& key = seed.keys[k];
      std::string at = where + ".keys[" + std::to_string(k) + "]";
      bool key_exists = key.request.id
                            ? existing.GetKey(instance_id, *key.request.id).ok()
                            : exists;
      if (key_exists) continue;
      if (key.request.id && KeyIdTaken(existing, *key.request.id)) {
        return Invalid(at + ".id", "key id " + *key.request.id +
                                       " belongs to a key of another instance");
      }
      base::Status status = CreateKey(target, instance_id, key);
      if (!status.ok()) return Located(at, status);
      ++created_keys;
    }
  }
  return base::OkStatus();
}

}  // namespace

base::Status ApplySeed(KeyService& service, const std::string& yaml_text) {
  ASSIGN_OR_RETURN(std::vector<SeedInstance> instances, ParseSeed(yaml_text));

  // A rehearsal on a scratch in-memory service finds every error that the
  // service itself would report (material sizes, names, states) before
  // anything is written, so a failed seed leaves the service unchanged.
  base::SeededRandom scratch_random(0);
  KeyService scratch(service.clock(), scratch_random);
  int rehearsed_keys = 0;
  RETURN_IF_ERROR(Populate(scratch, service, instances, rehearsed_keys));

  int created_keys = 0;
  RETURN_IF_ERROR(Populate(service, service, instances, created_keys));
  spdlog::info("kms: seeded {} instances, created {} keys", instances.size(),
               created_keys);
  return base::OkStatus();
}

base::Status LoadSeedFile(KeyService& service, const std::string& path) {
  std::ifstream file(path);
  if (!file) return base::NotFoundError("cannot open seed file " + path);
  std::stringstream text;
  text << file.rdbuf();
  base::Status status = ApplySeed(service, text.str());
  if (!status.ok()) {
    return base::Status(status.code(), path + ": " + status.message(),
                        status.reason());
  }
  return base::OkStatus();
}

}  // namespace kms
