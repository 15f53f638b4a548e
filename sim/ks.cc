#include "sim/ks.h"

#include <algorithm>

#include "base/clock_limits.h"
#include "sim/command_line.h"
#include "sim/ks_internal.h"
#include "sim/names.h"

namespace sim {
namespace ks {

CLI::App* Commands::Add(CLI::App& parent, const std::string& name,
                        const std::string& description, Action action,
                        bool needs_state) {
  leaves_.push_back({std::move(action), needs_state});
  const Leaf* leaf = &leaves_.back();
  CLI::App* command = parent.add_subcommand(name, description);
  command->callback([this, leaf] { chosen_ = leaf; });
  return command;
}

CLI::App* Commands::Group(CLI::App& parent, const std::string& name,
                          const std::string& description) {
  CLI::App* group = parent.add_subcommand(name, description);
  group->require_subcommand(1);
  return group;
}

void PrintTable(std::ostream& out,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size())
        line += std::string(widths[i] - row[i].size() + 3, ' ');
    }
    out << line << "\n";
  }
}

void PrintJson(std::ostream& out, const json& value) {
  out << value.dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
      << "\n";
}

base::StatusOr<Cluster*> FindCluster(Context& ctx, const std::string& name) {
  ASSIGN_OR_RETURN(Cluster * cluster, ctx.env->FindCluster(name));
  // A cluster the user has no role on is reported like a missing one, as
  // IAM hides resources without access.
  if (!ctx.env->account().ClusterRoles(ctx.user, cluster->id()).platform) {
    return base::NotFoundError(
        "cluster " + name + " not found, or user " + ctx.user +
        " has no access to it; ask an account administrator for at least "
        "the Viewer platform role on it");
  }
  return cluster;
}

base::StatusOr<Cluster*> FindClusterWithRole(Context& ctx,
                                             const std::string& name,
                                             PlatformRole required,
                                             const std::string& action) {
  ASSIGN_OR_RETURN(Cluster * cluster, FindCluster(ctx, name));
  RETURN_IF_ERROR(ctx.env->account().RequireClusterRole(
      ctx.user, cluster->id(), cluster->spec().name, required, action));
  return cluster;
}

namespace {

// --- clock ---

void AddClockCommands(CLI::App& app, Commands& commands) {
  CLI::App* clock = Commands::Group(app, "clock", "Show or move the clock");
  commands.Add(*clock, "show", "Show the clock", [](Context& ctx) {
    if (ctx.json_output) {
      PrintJson(ctx.out,
                {{"clock", ctx.host.ClockDescription()},
                 {"now", base::FormatRfc3339(ctx.env->clock().Now())}});
    } else {
      ctx.out << "Clock: " << ctx.host.ClockDescription() << "\n";
    }
    return base::OkStatus();
  });

  auto duration = Flag<std::string>();
  CLI::App* advance = commands.Add(
      *clock, "advance",
      "Move the clock forward, running everything due on the way",
      [duration](Context& ctx) {
        std::optional<base::Duration> delta = base::ParseDuration(*duration);
        if (!delta || *delta < base::Duration::zero()) {
          return base::InvalidArgumentError(
              "invalid duration \"" + *duration +
              "\": expected a length such as 90s, 15m, 2h or 1d");
        }
        if (!base::CanAdvance(ctx.env->clock().Now(), *delta)) {
          return base::InvalidArgumentError(
              "the clock cannot move past " +
              base::FormatRfc3339(base::Time::max()) + "; advance it less");
        }
        RETURN_IF_ERROR(ctx.host.AdvanceClock(*delta));
        if (ctx.json_output) {
          PrintJson(ctx.out,
                    {{"now", base::FormatRfc3339(ctx.env->clock().Now())}});
        } else {
          ctx.out << "Clock: " << ctx.host.ClockDescription() << "\n";
        }
        return base::OkStatus();
      });
  advance->add_option("duration", *duration, "How far, e.g. 10m, 2h, 1d")
      ->required();
}

// --- iam ---

base::Status RequireOwner(Context& ctx) {
  if (ctx.user == ctx.env->account().owner()) return base::OkStatus();
  return base::PermissionDeniedError(
      "only the account owner " + ctx.env->account().owner() +
      " can manage users and access policies; run the command with --user " +
      ctx.env->account().owner());
}

base::StatusOr<Roles> ParseRoles(const std::string& platform,
                                 const std::string& service) {
  Roles roles;
  if (!platform.empty()) {
    roles.platform = ParsePlatformRole(platform);
    if (!roles.platform) {
      return base::InvalidArgumentError(
          "invalid platform role \"" + platform +
          "\": expected Viewer, Operator, Editor or Administrator");
    }
  }
  if (!service.empty()) {
    roles.service = ParseServiceRole(service);
    if (!roles.service) {
      return base::InvalidArgumentError("invalid service role \"" + service +
                                        "\": expected Reader, Writer or "
                                        "Manager");
    }
  }
  if (!roles.platform && !roles.service) {
    return base::InvalidArgumentError(
        "missing role: pass --platform-role, --service-role or both");
  }
  return roles;
}

struct PolicyFlags {
  std::string email;
  std::string cluster;
  bool all_clusters = false;
  std::string kms_instance;
  bool all_kms_instances = false;
  std::string platform_role;
  std::string service_role;
};

base::Status SetPolicy(Context& ctx, const PolicyFlags& flags) {
  RETURN_IF_ERROR(RequireOwner(ctx));
  int targets = !flags.cluster.empty() + flags.all_clusters +
                !flags.kms_instance.empty() + flags.all_kms_instances;
  if (targets != 1) {
    return base::InvalidArgumentError(
        "pass exactly one of --cluster, --all-clusters, --kms-instance and "
        "--all-kms-instances");
  }
  ASSIGN_OR_RETURN(Roles roles,
                   ParseRoles(flags.platform_role, flags.service_role));
  Account& account = ctx.env->account();
  if (!flags.cluster.empty() || flags.all_clusters) {
    std::string resource = kAllResources;
    if (!flags.cluster.empty()) {
      ASSIGN_OR_RETURN(Cluster * cluster, ctx.env->FindCluster(flags.cluster));
      resource = cluster->id();
    }
    RETURN_IF_ERROR(account.AssignClusterRoles(flags.email, resource, roles));
  } else {
    std::string resource = kAllResources;
    if (!flags.kms_instance.empty()) {
      base::StatusOr<kms::Instance> instance =
          ctx.env->kms().GetInstance(flags.kms_instance);
      if (!instance.ok()) {
        return base::NotFoundError("KMS instance " + flags.kms_instance +
                                   " not found; list instances with `ks kms "
                                   "instance ls`");
      }
      resource = instance->id;
    }
    RETURN_IF_ERROR(account.AssignKmsRoles(flags.email, resource, roles));
  }
  if (!ctx.json_output) ctx.out << "OK\n";
  return base::OkStatus();
}

json RolesJson(const Roles& roles) {
  json out = json::object();
  if (roles.platform) out["platformRole"] = PlatformRoleName(*roles.platform);
  if (roles.service) out["serviceRole"] = ServiceRoleName(*roles.service);
  return out;
}

base::Status ListPolicies(Context& ctx) {
  std::vector<AccessPolicy> policies = ctx.env->account().ListPolicies();
  if (ctx.json_output) {
    json out = json::array();
    for (const AccessPolicy& policy : policies) {
      json item = {{"user", policy.user},
                   {"service", policy.service},
                   {"resource", policy.resource}};
      item.update(RolesJson(policy.roles));
      out.push_back(item);
    }
    PrintJson(ctx.out, out);
    return base::OkStatus();
  }
  std::vector<std::vector<std::string>> rows = {
      {"User", "Service", "Resource", "Platform Role", "Service Role"}};
  for (const AccessPolicy& policy : policies) {
    rows.push_back({policy.user, policy.service, policy.resource,
                    policy.roles.platform
                        ? std::string(PlatformRoleName(*policy.roles.platform))
                        : "-",
                    policy.roles.service
                        ? std::string(ServiceRoleName(*policy.roles.service))
                        : "-"});
  }
  PrintTable(ctx.out, rows);
  return base::OkStatus();
}

base::Status ListUsers(Context& ctx) {
  std::vector<User> users = ctx.env->account().ListUsers();
  const std::string& owner = ctx.env->account().owner();
  if (ctx.json_output) {
    json out = json::array();
    for (const User& user : users) {
      out.push_back({{"email", user.email},
                     {"name", user.name},
                     {"owner", user.email == owner}});
    }
    PrintJson(ctx.out, out);
    return base::OkStatus();
  }
  std::vector<std::vector<std::string>> rows = {{"Email", "Name", "Owner"}};
  for (const User& user : users) {
    rows.push_back({user.email, user.name.empty() ? "-" : user.name,
                    user.email == owner ? "yes" : "no"});
  }
  PrintTable(ctx.out, rows);
  return base::OkStatus();
}

base::Status ListAuthorizations(Context& ctx) {
  std::vector<ServiceAuthorization> items =
      ctx.env->account().ListServiceAuthorizations();
  if (ctx.json_output) {
    json out = json::array();
    for (const ServiceAuthorization& item : items) {
      out.push_back({{"sourceService", item.source_service},
                     {"targetService", item.target_service},
                     {"targetResource", item.target_resource},
                     {"role", ServiceRoleName(item.role)},
                     {"created", base::FormatRfc3339(item.created)}});
    }
    PrintJson(ctx.out, out);
    return base::OkStatus();
  }
  std::vector<std::vector<std::string>> rows = {
      {"Source Service", "Target Service", "Target Resource", "Role"}};
  for (const ServiceAuthorization& item : items) {
    rows.push_back({item.source_service, item.target_service,
                    item.target_resource,
                    std::string(ServiceRoleName(item.role))});
  }
  PrintTable(ctx.out, rows);
  return base::OkStatus();
}

void AddIamCommands(CLI::App& app, Commands& commands) {
  CLI::App* iam = Commands::Group(
      app, "iam", "Manage users, access policies and authorizations");
  CLI::App* user = Commands::Group(*iam, "user", "Manage users");

  auto email = Flag<std::string>();
  auto name = Flag<std::string>();
  CLI::App* add = commands.Add(
      *user, "add", "Invite a user to the account",
      [email, name](Context& ctx) {
        RETURN_IF_ERROR(RequireOwner(ctx));
        RETURN_IF_ERROR(ctx.env->account().AddUser({*email, *name}));
        if (!ctx.json_output) ctx.out << "OK\n";
        return base::OkStatus();
      });
  add->add_option("--email", *email, "The user's email")->required();
  add->add_option("--name", *name, "The user's name");
  commands.Add(*user, "ls", "List the account's users", ListUsers);

  CLI::App* policy = Commands::Group(*iam, "policy", "Manage access policies");
  auto flags = Flag<PolicyFlags>();
  CLI::App* set = commands.Add(
      *policy, "set",
      "Give a user roles on a cluster or KMS instance, replacing earlier "
      "roles on it",
      [flags](Context& ctx) { return SetPolicy(ctx, *flags); });
  set->add_option("--email", flags->email, "The user's email")->required();
  set->add_option("-c,--cluster", flags->cluster, "A cluster name or ID");
  set->add_flag("--all-clusters", flags->all_clusters, "Every cluster");
  set->add_option("--kms-instance", flags->kms_instance, "A KMS instance ID");
  set->add_flag("--all-kms-instances", flags->all_kms_instances,
                "Every KMS instance");
  set->add_option("--platform-role", flags->platform_role,
                  "Viewer, Operator, Editor or Administrator");
  set->add_option("--service-role", flags->service_role,
                  "Reader, Writer or Manager");
  commands.Add(*policy, "ls", "List access policies", ListPolicies);

  CLI::App* authorization = Commands::Group(
      *iam, "authorization", "Show service-to-service authorizations");
  commands.Add(*authorization, "ls", "List service-to-service authorizations",
               ListAuthorizations);
}

// --- init ---

void AddInitCommand(CLI::App& app, Commands& commands,
                    std::shared_ptr<KsInitFlags> init,
                    std::shared_ptr<KsGlobalFlags> global) {
  CLI::App* command = commands.Add(
      app, "init", "Create a new state directory",
      [init, global](Context& ctx) {
        RETURN_IF_ERROR(ctx.host.Init(*global, *init));
        if (ctx.json_output) {
          PrintJson(ctx.out, {{"state", global->state_dir},
                              {"owner", init->owner},
                              {"clock", init->clock}});
        } else {
          ctx.out << "Created state directory " << global->state_dir
                  << " owned by " << init->owner << " with a " << init->clock
                  << " clock\n";
        }
        return base::OkStatus();
      },
      /*needs_state=*/false);
  command->add_option("--owner", init->owner, "Email of the account owner")
      ->capture_default_str();
  command
      ->add_option("--clock", init->clock,
                   "simulated: time moves only with `clock advance`; real: "
                   "time follows the wall clock between commands")
      ->check(CLI::IsMember({"simulated", "real"}))
      ->capture_default_str();
  command
      ->add_option("--speed", init->speed,
                   "Virtual seconds per real second on a real clock")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  command->add_option("--start", init->start,
                      "Virtual start time, RFC 3339 (default "
                      "2026-01-01T00:00:00Z)");
  command->add_option("--seed", init->seed, "Seed of ids and key material")
      ->capture_default_str();
}

int Fail(std::ostream& err, const base::Status& status) {
  err << "FAILED\n" << status.message() << "\n";
  return 1;
}

}  // namespace
}  // namespace ks

std::vector<std::string> WithKsUser(std::vector<std::string> args,
                                    const std::string& user) {
  if (user.empty()) return args;
  for (const std::string& arg : args) {
    if (arg == "--user" || arg.starts_with("--user=")) return args;
  }
  args.insert(args.begin(), {"--user", user});
  return args;
}

int RunKs(KsHost& host, const std::vector<std::string>& args, std::ostream& out,
          std::ostream& err) {
  using ks::Commands;
  CLI::App app{
      "Managed cluster commands, as `ibmcloud ks` offers them, on simulated "
      "clusters"};
  app.name("ks");
  app.require_subcommand(1);
  // Global flags may follow the command words, as in `cluster ls --output
  // json`.
  app.fallthrough();
  auto global = ks::Flag<KsGlobalFlags>();
  auto init = ks::Flag<KsInitFlags>();
  std::string output = "text";
  app.add_option("--state", global->state_dir,
                 "State directory (or $SIM_KS_STATE)")
      ->envname("SIM_KS_STATE");
  app.add_option("--user", global->user,
                 "Email of the acting user (or $SIM_KS_USER; default: the "
                 "account owner)")
      ->envname("SIM_KS_USER");
  app.add_option("--output", output, "Output format: text or json")
      ->check(CLI::IsMember({"text", "json"}));

  Commands commands;
  ks::AddInitCommand(app, commands, init, global);
  ks::AddClusterCommands(app, commands);
  ks::AddKmsCommands(app, commands);
  ks::AddIamCommands(app, commands);
  ks::AddClockCommands(app, commands);

  // Values end up in tables, errors and recorded scenarios, and no flag
  // takes a line break or another control character.
  for (const std::string& arg : args) {
    if (base::Status printable = RejectControlCharacters("argument", arg);
        !printable.ok()) {
      err << "FAILED\n" << printable.message() << "\n";
      return 2;
    }
  }

  try {
    std::vector<std::string> reversed(args.rbegin(), args.rend());
    app.parse(reversed);
  } catch (const CLI::ParseError& error) {
    if (std::string unknown = UnknownCommandMessage(app, error);
        !unknown.empty()) {
      err << unknown << "\n";
      return 2;
    }
    int code = app.exit(error, out, err);
    return code == 0 ? 0 : 2;
  }
  const Commands::Leaf* leaf = commands.chosen();
  if (leaf == nullptr) {
    err << "FAILED\nmissing command; run with --help to list them\n";
    return 2;
  }

  ks::Context ctx{host, nullptr, "", output == "json", out};
  if (leaf->needs_state) {
    base::StatusOr<Environment*> env = host.Open(*global);
    if (!env.ok()) return ks::Fail(err, env.status());
    ctx.env = *env;
    ctx.user = global->user.empty() ? ctx.env->account().owner() : global->user;
    if (base::Status member = ctx.env->account().GetUser(ctx.user).status();
        !member.ok()) {
      (void)host.Close();
      return ks::Fail(err, member);
    }
  }
  base::Status result = leaf->action(ctx);
  if (leaf->needs_state) {
    base::Status closed = host.Close();
    if (result.ok() && !closed.ok()) result = closed;
  }
  if (!result.ok()) return ks::Fail(err, result);
  return 0;
}

}  // namespace sim
