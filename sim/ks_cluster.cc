// `ks cluster ...`, `ks worker ...` and `ks data-shield ...`.
#include "sim/json_file.h"
#include "sim/ks_internal.h"

namespace sim::ks {
namespace {

constexpr char kDefaultVersion[] = "1.19.16_1540";

std::string ClusterState(const Cluster& cluster) {
  return std::string(MasterHealthName(cluster.health()));
}

json KmsJson(const Cluster& cluster) {
  if (!cluster.kms_enabled()) return nullptr;
  json providers = json::array();
  for (const KmsProviderInfo& provider : cluster.KmsProviders()) {
    providers.push_back({{"name", provider.name},
                         {"type", kms::InstanceTypeName(provider.type)},
                         {"instanceID", provider.instance_id},
                         {"crkID", provider.key_id},
                         {"followsKeyRotation", provider.follows_key_rotation},
                         {"current", provider.current}});
  }
  return {{"providerType", kms::InstanceTypeName(*cluster.kms_provider_type())},
          {"instanceID", *cluster.kms_instance_id()},
          {"crkID", *cluster.crk_id()},
          {"publicEndpoint", cluster.kms_public_endpoint()},
          {"keyRegistered", cluster.kms_key_registered()},
          {"providers", providers}};
}

json ClusterJson(const Cluster& cluster) {
  Features features = cluster.features();
  return {
      {"name", cluster.spec().name},
      {"id", cluster.id()},
      {"state", ClusterState(cluster)},
      {"createdDate", base::FormatRfc3339(cluster.created())},
      {"region", cluster.spec().region},
      {"location", cluster.spec().zone},
      {"provider", InfrastructureName(cluster.spec().infrastructure)},
      {"workerCount", cluster.Workers().size()},
      {"masterKubeVersion", cluster.version().ToString()},
      {"masterURL", "https://" + cluster.master_endpoint()},
      {"masterStatus", cluster.MasterStatusText()},
      {"masterHealth", MasterHealthName(cluster.health())},
      {"masterHealthMessage", cluster.HealthMessage()},
      {"keyManagementService", cluster.kms_enabled() ? "enabled" : "disabled"},
      {"kms", KmsJson(cluster)},
      {"dataShield", cluster.data_shield_enabled()},
      {"features",
       {{"rewritesExistingSecrets", features.rewrites_existing_secrets},
        {"registersRootKey", features.registers_root_key},
        {"reportsKeyHealth", features.reports_key_health}}},
  };
}

base::Status ListClusters(Context& ctx) {
  std::vector<Cluster*> visible;
  for (Cluster* cluster : ctx.env->Clusters()) {
    if (ctx.env->account().ClusterRoles(ctx.user, cluster->id()).platform) {
      visible.push_back(cluster);
    }
  }
  if (ctx.json_output) {
    json out = json::array();
    for (Cluster* cluster : visible) out.push_back(ClusterJson(*cluster));
    PrintJson(ctx.out, out);
    return base::OkStatus();
  }
  std::vector<std::vector<std::string>> rows = {
      {"Name", "ID", "State", "Created", "Workers", "Location", "Version",
       "Provider"}};
  for (Cluster* cluster : visible) {
    rows.push_back(
        {cluster->spec().name, cluster->id(), ClusterState(*cluster),
         base::FormatRfc3339(cluster->created()),
         std::to_string(cluster->Workers().size()), cluster->spec().zone,
         cluster->version().ToString(),
         std::string(InfrastructureName(cluster->spec().infrastructure))});
  }
  PrintTable(ctx.out, rows);
  return base::OkStatus();
}

base::Status GetCluster(Context& ctx, const std::string& name) {
  ASSIGN_OR_RETURN(Cluster * cluster, FindCluster(ctx, name));
  if (ctx.json_output) {
    PrintJson(ctx.out, ClusterJson(*cluster));
    return base::OkStatus();
  }
  std::ostream& out = ctx.out;
  out << "Name: " << cluster->spec().name << "\n"
      << "ID: " << cluster->id() << "\n"
      << "State: " << ClusterState(*cluster) << "\n"
      << "Created: " << base::FormatRfc3339(cluster->created()) << "\n"
      << "Location: " << cluster->spec().zone << "\n"
      << "Region: " << cluster->spec().region << "\n"
      << "Infrastructure: "
      << InfrastructureName(cluster->spec().infrastructure) << "\n"
      << "Workers: " << cluster->Workers().size() << "\n"
      << "Version: " << cluster->version().ToString() << "\n"
      << "Master URL: https://" << cluster->master_endpoint() << "\n"
      << "Master Status: " << cluster->MasterStatusText() << "\n"
      << "Master Health: " << MasterHealthName(cluster->health()) << "\n"
      << "Key Management Service: "
      << (cluster->kms_enabled() ? "enabled" : "disabled") << "\n";
  if (cluster->kms_enabled()) {
    out << "KMS Provider: "
        << (*cluster->kms_provider_type() == kms::InstanceType::kHyperProtect
                ? "Hyper Protect Crypto Services"
                : "Key Protect")
        << "\n"
        << "KMS Instance ID: " << *cluster->kms_instance_id() << "\n"
        << "Root Key ID: " << *cluster->crk_id() << "\n"
        << "KMS Endpoint: "
        << (cluster->kms_public_endpoint() ? "public" : "private") << "\n"
        << "Root Key Registered: "
        << (cluster->kms_key_registered() ? "yes" : "no") << "\n";
  }
  out << "Data Shield: "
      << (cluster->data_shield_enabled() ? "enabled" : "disabled") << "\n";
  return base::OkStatus();
}

base::Status WriteKubeconfig(Context& ctx, const std::string& name) {
  ASSIGN_OR_RETURN(Cluster * cluster,
                   FindClusterWithRole(ctx, name, PlatformRole::kViewer,
                                       "downloading the cluster "
                                       "configuration"));
  base::StatusOr<std::string> config = cluster->Kubeconfig(ctx.user);
  if (!config.ok()) {
    std::string hint = cluster->kms_enabled()
                           ? "; if root key " + *cluster->crk_id() +
                                 " was disabled, enable it in KMS instance " +
                                 *cluster->kms_instance_id() +
                                 " and try again once `ks cluster get -c " +
                                 cluster->spec().name +
                                 "` shows the master Ready"
                           : "";
    return base::UnavailableError(config.status().message() + hint);
  }

  // The kubeconfig contains the cluster's bearer token.
  std::string dir = ctx.host.KubeconfigDir();
  std::string path = dir + "/" + cluster->spec().name + ".yaml";
  base::Status written = CreatePrivateDirectory(dir);
  if (written.ok()) written = WritePrivateFile(path, *config);
  if (!written.ok()) {
    return base::FailedPreconditionError(written.message() + "; check that " +
                                         dir + " is writable");
  }

  if (ctx.json_output) {
    PrintJson(ctx.out,
              {{"cluster", cluster->spec().name},
               {"kubeconfig", path},
               {"context", cluster->spec().name + "/" + cluster->id()}});
  } else {
    ctx.out << "The configuration for " << cluster->spec().name
            << " was downloaded successfully.\n"
            << "export KUBECONFIG=" << path << "\n";
  }
  return base::OkStatus();
}

struct CreateFlags {
  std::string name;
  std::string version = kDefaultVersion;
  std::string flavor;
  int workers = 1;
  std::string region = "us-south";
  std::string zone;
};

base::Status CreateCluster(Context& ctx, const CreateFlags& flags,
                           Infrastructure infrastructure) {
  ASSIGN_OR_RETURN(Version version, Version::Parse(flags.version));
  if (flags.workers < 1) {
    return base::InvalidArgumentError(
        "invalid --workers " + std::to_string(flags.workers) +
        ": a new cluster needs at least 1 worker");
  }
  ClusterSpec spec;
  spec.name = flags.name;
  spec.version = version;
  spec.infrastructure = infrastructure;
  spec.region = flags.region;
  spec.workers = flags.workers;
  spec.flavor = flags.flavor;
  spec.zone = flags.zone;
  ASSIGN_OR_RETURN(Cluster * cluster,
                   ctx.env->CreateCluster(std::move(spec), ctx.user));
  if (ctx.json_output) {
    PrintJson(ctx.out, {{"id", cluster->id()}, {"name", cluster->spec().name}});
  } else {
    ctx.out << "Created cluster " << cluster->spec().name << " with ID "
            << cluster->id() << "\n";
  }
  return base::OkStatus();
}

void AddCreateCommands(CLI::App& cluster, Commands& commands) {
  CLI::App* create = Commands::Group(cluster, "create", "Create a cluster");
  for (auto [name, infrastructure] :
       {std::pair{"classic", Infrastructure::kClassic},
        std::pair{"vpc-gen2", Infrastructure::kVpc}}) {
    auto flags = Flag<CreateFlags>();
    CLI::App* command = commands.Add(
        *create, name,
        std::string("Create a ") +
            (infrastructure == Infrastructure::kVpc ? "VPC" : "classic") +
            " cluster",
        [flags, infrastructure](Context& ctx) {
          return CreateCluster(ctx, *flags, infrastructure);
        });
    command->add_option("--name", flags->name, "Cluster name")->required();
    command
        ->add_option("--version", flags->version,
                     "Kubernetes version, e.g. 1.17, 1.18.8_1525")
        ->capture_default_str();
    command->add_option("--flavor", flags->flavor,
                        "Worker flavor (default b3c.4x16 on classic, "
                        "bx2.4x16 on VPC)");
    command->add_option("--workers", flags->workers, "Number of workers")
        ->capture_default_str();
    command->add_option("--region", flags->region, "Region")
        ->capture_default_str();
    command->add_option("--zone", flags->zone,
                        "Zone (default: the region's first zone)");
  }
}

void AddMasterCommands(CLI::App& cluster, Commands& commands) {
  CLI::App* master = Commands::Group(cluster, "master", "Manage the master");
  auto name = Flag<std::string>();
  auto version = Flag<std::string>();
  auto force = Flag<bool>(false);
  CLI::App* update = commands.Add(
      *master, "update", "Update the master to a newer version",
      // `force` is captured only to keep the flag's storage alive: CLI11
      // writes -f into it while parsing, after this function has returned.
      [name, version, force](Context& ctx) {
        ASSIGN_OR_RETURN(
            Cluster * cluster,
            FindClusterWithRole(ctx, *name, PlatformRole::kOperator,
                                "updating the master"));
        ASSIGN_OR_RETURN(Version target, Version::Parse(*version));
        RETURN_IF_ERROR(cluster->UpdateMaster(target));
        if (!ctx.json_output) {
          ctx.out << "Updating the master of " << cluster->spec().name << " to "
                  << target.ToString() << "...\nOK\n";
        }
        return base::OkStatus();
      });
  update->add_option("-c,--cluster", *name, "Cluster name or ID")->required();
  update->add_option("--version", *version, "Target version")->required();
  update->add_flag("-f", *force, "Skip the confirmation (always skipped)");

  auto refresh_name = Flag<std::string>();
  CLI::App* refresh = commands.Add(
      *master, "refresh", "Restart the master components",
      [refresh_name](Context& ctx) {
        ASSIGN_OR_RETURN(
            Cluster * cluster,
            FindClusterWithRole(ctx, *refresh_name, PlatformRole::kOperator,
                                "refreshing the master"));
        RETURN_IF_ERROR(cluster->RefreshMaster());
        if (!ctx.json_output) ctx.out << "OK\n";
        return base::OkStatus();
      });
  refresh->add_option("-c,--cluster", *refresh_name, "Cluster name or ID")
      ->required();
}

// --- workers ---

json WorkerJson(const Worker& worker) {
  return {{"id", worker.id},
          {"privateIP", worker.private_ip},
          {"flavor", worker.flavor},
          {"state", WorkerStateName(worker.state)},
          {"zone", worker.zone},
          {"kubeVersion", worker.version.ToString()},
          {"luksSecret", worker.luks_secret.empty() ? json(nullptr)
                                                    : json(worker.luks_secret)},
          {"luksKeyGeneration", worker.luks_key_generation}};
}

std::string WorkerStatus(const Worker& worker) {
  switch (worker.state) {
    case WorkerState::kNormal:
      return "Ready";
    case WorkerState::kReloading:
      return "Reloading";
    case WorkerState::kUpdating:
      return "Updating";
  }
  return "Unknown";
}

base::Status ListWorkers(Context& ctx, const std::string& name) {
  ASSIGN_OR_RETURN(Cluster * cluster, FindCluster(ctx, name));
  std::vector<Worker> workers = cluster->Workers();
  if (ctx.json_output) {
    json out = json::array();
    for (const Worker& worker : workers) out.push_back(WorkerJson(worker));
    PrintJson(ctx.out, out);
    return base::OkStatus();
  }
  std::vector<std::vector<std::string>> rows = {
      {"ID", "Primary IP", "Flavor", "State", "Status", "Zone", "Version"}};
  for (const Worker& worker : workers) {
    rows.push_back({worker.id, worker.private_ip, worker.flavor,
                    std::string(WorkerStateName(worker.state)),
                    WorkerStatus(worker), worker.zone,
                    worker.version.ToString()});
  }
  PrintTable(ctx.out, rows);
  return base::OkStatus();
}

// Reloads or updates workers, checking all of them first so that a bad id
// changes nothing.
base::Status ChangeWorkers(Context& ctx, const std::string& name,
                           const std::vector<std::string>& ids, bool reload) {
  ASSIGN_OR_RETURN(
      Cluster * cluster,
      FindClusterWithRole(ctx, name, PlatformRole::kOperator,
                          reload ? "reloading workers" : "updating workers"));
  for (const std::string& id : ids) {
    ASSIGN_OR_RETURN(Worker worker, cluster->GetWorker(id));
    if (worker.state != WorkerState::kNormal) {
      return base::FailedPreconditionError(
          "cannot " + std::string(reload ? "reload" : "update") + " worker " +
          id + ": it is " + std::string(WorkerStateName(worker.state)) +
          "; wait until its state is normal");
    }
  }
  for (const std::string& id : ids) {
    RETURN_IF_ERROR(reload ? cluster->ReloadWorker(id)
                           : cluster->UpdateWorker(id));
    if (!ctx.json_output) {
      ctx.out << (reload ? "Reloading" : "Updating") << " worker " << id
              << "...\n";
    }
  }
  if (!ctx.json_output) ctx.out << "OK\n";
  return base::OkStatus();
}

void AddWorkerCommands(CLI::App& app, Commands& commands) {
  CLI::App* worker = Commands::Group(app, "worker", "Manage worker nodes");

  auto ls_cluster = Flag<std::string>();
  CLI::App* ls = commands.Add(
      *worker, "ls", "List the workers of a cluster",
      [ls_cluster](Context& ctx) { return ListWorkers(ctx, *ls_cluster); });
  ls->add_option("-c,--cluster", *ls_cluster, "Cluster name or ID")->required();

  for (bool reload : {true, false}) {
    auto cluster = Flag<std::string>();
    auto ids = Flag<std::vector<std::string>>();
    auto force = Flag<bool>(false);
    CLI::App* command = commands.Add(
        *worker, reload ? "reload" : "update",
        reload ? "Reload workers; rotates the LUKS keys of classic workers"
               : "Update workers to the master's version; rotates the LUKS "
                 "keys of classic workers",
        // `force` is captured to keep the flag's storage alive, as above.
        [cluster, ids, force, reload](Context& ctx) {
          return ChangeWorkers(ctx, *cluster, *ids, reload);
        });
    command->add_option("-c,--cluster", *cluster, "Cluster name or ID")
        ->required();
    command->add_option("-w,--worker", *ids, "Worker ID; repeat for several")
        ->required();
    command->add_flag("-f", *force, "Skip the confirmation (always skipped)");
  }

  auto add_cluster = Flag<std::string>();
  auto flavor = Flag<std::string>();
  auto count = Flag<int>(1);
  CLI::App* add = commands.Add(
      *worker, "add", "Add workers to a cluster",
      [add_cluster, flavor, count](Context& ctx) {
        ASSIGN_OR_RETURN(
            Cluster * cluster,
            FindClusterWithRole(ctx, *add_cluster, PlatformRole::kOperator,
                                "adding workers"));
        ASSIGN_OR_RETURN(std::vector<Worker> added,
                         cluster->AddWorkers(*flavor, *count));
        if (ctx.json_output) {
          json out = json::array();
          for (const Worker& worker : added) out.push_back(WorkerJson(worker));
          PrintJson(ctx.out, out);
        } else {
          for (const Worker& worker : added) {
            ctx.out << "Added worker " << worker.id << "\n";
          }
        }
        return base::OkStatus();
      });
  add->add_option("-c,--cluster", *add_cluster, "Cluster name or ID")
      ->required();
  add->add_option("--flavor", *flavor,
                  "Worker flavor (default: the "
                  "infrastructure's default)");
  add->add_option("--count", *count, "Number of workers")
      ->capture_default_str();
}

void AddDataShieldCommands(CLI::App& app, Commands& commands) {
  CLI::App* data_shield =
      Commands::Group(app, "data-shield", "Manage Data Shield");
  auto name = Flag<std::string>();
  CLI::App* enable = commands.Add(
      *data_shield, "enable",
      "Enable Data Shield (needs an SGX-capable classic bare metal worker)",
      [name](Context& ctx) {
        ASSIGN_OR_RETURN(
            Cluster * cluster,
            FindClusterWithRole(ctx, *name, PlatformRole::kAdministrator,
                                "enabling Data Shield"));
        RETURN_IF_ERROR(cluster->EnableDataShield());
        if (!ctx.json_output) ctx.out << "OK\n";
        return base::OkStatus();
      });
  enable->add_option("-c,--cluster", *name, "Cluster name or ID")->required();
}

}  // namespace

void AddClusterCommands(CLI::App& app, Commands& commands) {
  CLI::App* cluster = Commands::Group(app, "cluster", "Manage clusters");
  commands.Add(*cluster, "ls", "List clusters", ListClusters);

  auto get_name = Flag<std::string>();
  CLI::App* get = commands.Add(
      *cluster, "get", "Show a cluster",
      [get_name](Context& ctx) { return GetCluster(ctx, *get_name); });
  get->add_option("-c,--cluster", *get_name, "Cluster name or ID")->required();

  auto config_name = Flag<std::string>();
  CLI::App* config =
      commands.Add(*cluster, "config", "Download a kubeconfig for the cluster",
                   [config_name](Context& ctx) {
                     return WriteKubeconfig(ctx, *config_name);
                   });
  config->add_option("-c,--cluster", *config_name, "Cluster name or ID")
      ->required();

  AddCreateCommands(*cluster, commands);
  AddMasterCommands(*cluster, commands);
  AddWorkerCommands(app, commands);
  AddDataShieldCommands(app, commands);
}

}  // namespace sim::ks
