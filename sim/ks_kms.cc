// `ks kms ...` and `ks api-key ...`.
#include "sim/ks_internal.h"
#include "sim/names.h"

namespace sim::ks {
namespace {

std::string TypeText(kms::InstanceType type) {
  return type == kms::InstanceType::kHyperProtect
             ? "Hyper Protect Crypto Services"
             : "Key Protect";
}

// Finds a KMS instance on which the acting user has at least `platform` or
// `service` (either suffices).
base::StatusOr<kms::Instance> FindInstance(Context& ctx, const std::string& id,
                                           std::optional<PlatformRole> platform,
                                           std::optional<ServiceRole> service,
                                           const std::string& action) {
  base::StatusOr<kms::Instance> instance = ctx.env->kms().GetInstance(id);
  if (!instance.ok()) {
    return base::NotFoundError("KMS instance " + id +
                               " not found; list instances with `ks kms "
                               "instance ls`");
  }
  Roles roles = ctx.env->account().KmsRoles(ctx.user, id);
  bool allowed = (platform && roles.platform && *roles.platform >= *platform) ||
                 (service && roles.service && *roles.service >= *service);
  if (allowed) return instance;
  std::string needed =
      service
          ? "the " + std::string(ServiceRoleName(*service)) + " service role"
          : "the " + std::string(PlatformRoleName(*platform)) +
                " platform role";
  return base::PermissionDeniedError(
      "user " + ctx.user + " cannot " + action + " in KMS instance " +
      instance->name + ": it needs " + needed +
      " on the instance; ask an account administrator to assign it");
}

json InstanceJson(const kms::Instance& instance) {
  return {{"id", instance.id},
          {"name", instance.name},
          {"type", kms::InstanceTypeName(instance.type)},
          {"region", instance.region}};
}

json KeyJson(const kms::Key& key) {
  json out = {{"id", key.id},
              {"name", key.name},
              {"instanceID", key.instance_id},
              {"extractable", key.extractable},
              {"state", kms::KeyStateName(key.state)},
              {"versions", key.versions.size()},
              {"creationDate", base::FormatRfc3339(key.creation_date)}};
  if (key.expiration) {
    out["expirationDate"] = base::FormatRfc3339(*key.expiration);
  }
  return out;
}

base::Status ListInstances(Context& ctx) {
  std::vector<kms::Instance> visible;
  for (const kms::Instance& instance : ctx.env->kms().ListInstances()) {
    Roles roles = ctx.env->account().KmsRoles(ctx.user, instance.id);
    if (roles.platform || roles.service) visible.push_back(instance);
  }
  if (ctx.json_output) {
    json out = json::array();
    for (const kms::Instance& instance : visible) {
      out.push_back(InstanceJson(instance));
    }
    PrintJson(ctx.out, out);
    return base::OkStatus();
  }
  std::vector<std::vector<std::string>> rows = {
      {"Name", "ID", "Type", "Region"}};
  for (const kms::Instance& instance : visible) {
    rows.push_back(
        {instance.name, instance.id, TypeText(instance.type), instance.region});
  }
  PrintTable(ctx.out, rows);
  return base::OkStatus();
}

base::Status ListRootKeys(Context& ctx, const std::string& instance_id) {
  ASSIGN_OR_RETURN(kms::Instance instance,
                   FindInstance(ctx, instance_id, PlatformRole::kViewer,
                                ServiceRole::kReader, "list root keys"));
  ASSIGN_OR_RETURN(std::vector<kms::Key> keys,
                   ctx.env->kms().ListKeys(instance.id));
  std::erase_if(keys, [](const kms::Key& key) { return key.extractable; });
  if (ctx.json_output) {
    json out = json::array();
    for (const kms::Key& key : keys) out.push_back(KeyJson(key));
    PrintJson(ctx.out, out);
    return base::OkStatus();
  }
  std::vector<std::vector<std::string>> rows = {
      {"Root Key Name", "Root Key ID", "State"}};
  for (const kms::Key& key : keys) {
    rows.push_back(
        {key.name, key.id, std::string(kms::KeyStateName(key.state))});
  }
  PrintTable(ctx.out, rows);
  return base::OkStatus();
}

struct EnableFlags {
  std::string cluster;
  std::string instance_id;
  std::string crk;
  bool public_endpoint = false;
};

base::Status EnableKms(Context& ctx, const EnableFlags& flags) {
  ASSIGN_OR_RETURN(Cluster * cluster, FindCluster(ctx, flags.cluster));
  RETURN_IF_ERROR(cluster->EnableKmsAs(ctx.user, flags.instance_id, flags.crk,
                                       flags.public_endpoint));
  if (ctx.json_output) {
    PrintJson(ctx.out, {{"cluster", cluster->spec().name},
                        {"masterStatus", cluster->MasterStatusText()}});
  } else {
    ctx.out << "Enabling the key management service on cluster "
            << cluster->spec().name << " with root key " << flags.crk
            << "...\nOK\n"
            << "The enablement takes a few minutes; run `ks cluster get -c "
            << cluster->spec().name
            << "` until Master Status is Ready and Key Management Service is "
               "enabled.\n";
  }
  return base::OkStatus();
}

struct KeyFlags {
  std::string instance_id;
  std::string key_id;
  bool force = false;
};

// Runs one key action of `ks kms key` and prints the key afterwards.
base::Status KeyAction(Context& ctx, const std::string& verb,
                       const KeyFlags& flags) {
  kms::KeyService& service = ctx.env->kms();
  // Key Protect lets Writers rotate and needs Managers for state changes.
  bool writer_enough = verb == "rotate";
  ASSIGN_OR_RETURN(
      kms::Instance instance,
      FindInstance(ctx, flags.instance_id, std::nullopt,
                   writer_enough ? ServiceRole::kWriter : ServiceRole::kManager,
                   verb + " keys"));
  base::Status done;
  if (verb == "disable") {
    done = service.Disable(instance.id, flags.key_id);
  } else if (verb == "enable") {
    done = service.Enable(instance.id, flags.key_id);
  } else if (verb == "rotate") {
    done = service.Rotate(instance.id, flags.key_id).status();
  } else if (verb == "delete") {
    done = service.Delete(instance.id, flags.key_id, flags.force).status();
  } else if (verb == "restore") {
    done = service.Restore(instance.id, flags.key_id).status();
  }
  RETURN_IF_ERROR(done);
  base::StatusOr<kms::Key> key = service.GetKey(instance.id, flags.key_id);
  if (ctx.json_output) {
    PrintJson(ctx.out, key.ok() ? KeyJson(*key) : json(nullptr));
  } else if (key.ok()) {
    ctx.out << "Key " << key->id << " is " << kms::KeyStateName(key->state)
            << "\n";
  }
  return base::OkStatus();
}

struct CreateKeyFlags {
  std::string instance_id;
  std::string name;
  bool standard = false;
  std::string expires_in;
};

base::Status CreateKey(Context& ctx, const CreateKeyFlags& flags) {
  ASSIGN_OR_RETURN(kms::Instance instance,
                   FindInstance(ctx, flags.instance_id, std::nullopt,
                                ServiceRole::kWriter, "create keys"));
  RETURN_IF_ERROR(ValidateKeyName(flags.name));
  kms::CreateKeyRequest request;
  request.name = flags.name;
  request.extractable = flags.standard;
  if (!flags.expires_in.empty()) {
    std::optional<base::Duration> delta = base::ParseDuration(flags.expires_in);
    if (!delta || *delta <= base::Duration::zero()) {
      return base::InvalidArgumentError("invalid --expires-in \"" +
                                        flags.expires_in +
                                        "\": expected a length such as 2h "
                                        "or 30d");
    }
    request.expiration = ctx.env->clock().Now() + *delta;
  }
  ASSIGN_OR_RETURN(kms::Key key,
                   ctx.env->kms().CreateKey(instance.id, request));
  if (ctx.json_output) {
    PrintJson(ctx.out, KeyJson(key));
  } else {
    ctx.out << "Created " << (key.extractable ? "standard" : "root") << " key "
            << key.name << " with ID " << key.id << "\n";
  }
  return base::OkStatus();
}

void AddKeyCommands(CLI::App& kms_group, Commands& commands) {
  CLI::App* key = Commands::Group(
      kms_group, "key",
      "Act on keys as a user of the KMS instance would (create, disable, "
      "enable, rotate, delete, restore)");

  auto create_flags = Flag<CreateKeyFlags>();
  CLI::App* create = commands.Add(
      *key, "create", "Create a key (a root key unless --standard)",
      [create_flags](Context& ctx) { return CreateKey(ctx, *create_flags); });
  create
      ->add_option("--instance-id", create_flags->instance_id,
                   "KMS instance ID")
      ->required();
  create->add_option("--name", create_flags->name, "Key name")->required();
  create->add_flag("--standard", create_flags->standard,
                   "Create an extractable standard key instead of a root key");
  create->add_option("--expires-in", create_flags->expires_in,
                     "Set expirationDate this far ahead, e.g. 2h or 30d");

  for (const char* verb :
       {"disable", "enable", "rotate", "delete", "restore"}) {
    auto flags = Flag<KeyFlags>();
    std::string name = verb;
    CLI::App* command = commands.Add(
        *key, name, "Run the " + name + " action on a key",
        [flags, name](Context& ctx) { return KeyAction(ctx, name, *flags); });
    command->add_option("--instance-id", flags->instance_id, "KMS instance ID")
        ->required();
    command->add_option("--key", flags->key_id, "Key ID")->required();
    if (name == "delete") {
      command->add_flag("--force", flags->force,
                        "Delete even while a cluster registered the key");
    }
  }
}

void AddInstanceCommands(CLI::App& kms_group, Commands& commands) {
  CLI::App* instance =
      Commands::Group(kms_group, "instance", "Manage KMS instances");
  commands.Add(*instance, "ls", "List KMS instances", ListInstances);

  auto name = Flag<std::string>();
  auto type = Flag<std::string>("key-protect");
  CLI::App* create = commands.Add(
      *instance, "create", "Create a KMS instance",
      [name, type](Context& ctx) -> base::Status {
        if (ctx.user != ctx.env->account().owner() &&
            ctx.env->account().KmsRoles(ctx.user, kAllResources).platform <
                PlatformRole::kEditor) {
          return base::PermissionDeniedError(
              "user " + ctx.user +
              " cannot create KMS instances: it needs the Editor platform "
              "role on all KMS instances");
        }
        RETURN_IF_ERROR(ValidateInstanceName(*name));
        ASSIGN_OR_RETURN(kms::Instance created,
                         ctx.env->kms().CreateInstance(
                             *name, *kms::ParseInstanceType(*type)));
        if (ctx.json_output) {
          PrintJson(ctx.out, InstanceJson(created));
        } else {
          ctx.out << "Created " << TypeText(created.type) << " instance "
                  << created.name << " with ID " << created.id << "\n";
        }
        return base::OkStatus();
      });
  create->add_option("--name", *name, "Instance name")->required();
  create->add_option("--type", *type, "key-protect or hpcs")
      ->check(CLI::IsMember({"key-protect", "hpcs"}))
      ->capture_default_str();
}

void AddApiKeyCommands(CLI::App& app, Commands& commands) {
  CLI::App* api_key =
      Commands::Group(app, "api-key", "Show or set the API key of a region");

  auto cluster_name = Flag<std::string>();
  CLI::App* info = commands.Add(
      *api_key, "info", "Show whose API key a cluster's region uses",
      [cluster_name](Context& ctx) {
        ASSIGN_OR_RETURN(Cluster * cluster, FindCluster(ctx, *cluster_name));
        const std::string& region = cluster->spec().region;
        std::optional<ApiKey> key = ctx.env->account().GetApiKey(region);
        if (!key) {
          return base::NotFoundError("no API key is set for region " + region +
                                     "; run `ks api-key reset --region " +
                                     region + "`");
        }
        base::StatusOr<User> owner = ctx.env->account().GetUser(key->owner);
        std::string name = owner.ok() ? owner->name : "";
        if (ctx.json_output) {
          PrintJson(
              ctx.out,
              {{"name", name}, {"email", key->owner}, {"region", region}});
        } else {
          PrintTable(ctx.out, {{"Name", "Email"},
                               {name.empty() ? "-" : name, key->owner}});
        }
        return base::OkStatus();
      });
  info->add_option("-c,--cluster", *cluster_name, "Cluster name or ID")
      ->required();

  auto region = Flag<std::string>();
  CLI::App* reset = commands.Add(
      *api_key, "reset",
      "Store an API key for a region that acts for the current user",
      [region](Context& ctx) {
        if (ctx.env->account().ClusterRoles(ctx.user, kAllResources).platform !=
            PlatformRole::kAdministrator) {
          return base::PermissionDeniedError(
              "user " + ctx.user +
              " cannot reset the API key: it needs the Administrator "
              "platform role on all clusters");
        }
        ASSIGN_OR_RETURN(ApiKey key, ctx.env->account().ResetApiKey(
                                         *region, ctx.user,
                                         "ApiKey-" + ctx.env->random().Uuid(),
                                         ctx.env->clock().Now()));
        if (ctx.json_output) {
          PrintJson(ctx.out, {{"region", key.region}, {"email", key.owner}});
        } else {
          ctx.out << "The API key for region " << key.region << " now acts for "
                  << key.owner << "\n";
        }
        return base::OkStatus();
      });
  reset->add_option("--region", *region, "Region, e.g. us-south")->required();
}

}  // namespace

void AddKmsCommands(CLI::App& app, Commands& commands) {
  CLI::App* kms_group =
      Commands::Group(app, "kms", "Manage key management service providers");
  AddInstanceCommands(*kms_group, commands);

  CLI::App* crk = Commands::Group(*kms_group, "crk", "Show root keys");
  auto crk_instance = Flag<std::string>();
  CLI::App* crk_ls =
      commands.Add(*crk, "ls", "List the root keys of a KMS instance",
                   [crk_instance](Context& ctx) {
                     return ListRootKeys(ctx, *crk_instance);
                   });
  crk_ls->add_option("--instance-id", *crk_instance, "KMS instance ID")
      ->required();

  auto enable_flags = Flag<EnableFlags>();
  CLI::App* enable = commands.Add(
      *kms_group, "enable",
      "Enable a KMS provider on a cluster, or rotate to a new root key",
      [enable_flags](Context& ctx) { return EnableKms(ctx, *enable_flags); });
  enable
      ->add_option("-c,--cluster", enable_flags->cluster, "Cluster name or ID")
      ->required();
  enable
      ->add_option("--instance-id", enable_flags->instance_id,
                   "KMS instance ID")
      ->required();
  enable->add_option("--crk", enable_flags->crk, "Root key ID")->required();
  enable->add_flag("--public-endpoint", enable_flags->public_endpoint,
                   "Reach the KMS over its public service endpoint (default: "
                   "private)");

  auto disable_cluster = Flag<std::string>();
  CLI::App* disable = commands.Add(
      *kms_group, "disable",
      "Disable the KMS provider (always fails: it cannot be disabled)",
      [disable_cluster](Context& ctx) {
        ASSIGN_OR_RETURN(Cluster * cluster, FindCluster(ctx, *disable_cluster));
        return cluster->DisableKms();
      });
  disable->add_option("-c,--cluster", *disable_cluster, "Cluster name or ID")
      ->required();

  AddKeyCommands(*kms_group, commands);
  AddApiKeyCommands(app, commands);
}

}  // namespace sim::ks
