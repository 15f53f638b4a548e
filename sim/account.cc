#include "sim/account.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "sim/json_file.h"

namespace sim {
namespace {

using nlohmann::json;

constexpr std::array<std::string_view, 4> kPlatformRoleNames = {
    "Viewer", "Operator", "Editor", "Administrator"};
constexpr std::array<std::string_view, 3> kServiceRoleNames = {
    "Reader", "Writer", "Manager"};

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return std::ranges::equal(a, b, [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) ==
           std::tolower(static_cast<unsigned char>(y));
  });
}

template <typename T>
std::optional<T> Max(std::optional<T> a, std::optional<T> b) {
  if (!a) return b;
  if (!b) return a;
  return std::max(*a, *b);
}

std::string RoleText(std::optional<PlatformRole> role) {
  if (!role) return "no platform role";
  return "the " + std::string(PlatformRoleName(*role)) + " platform role";
}

json RolesToJson(const Roles& roles) {
  json out = json::object();
  if (roles.platform) out["platform"] = PlatformRoleName(*roles.platform);
  if (roles.service) out["service"] = ServiceRoleName(*roles.service);
  return out;
}

base::StatusOr<Roles> RolesFromJson(const json& in) {
  Roles roles;
  if (in.contains("platform")) {
    roles.platform = ParsePlatformRole(in["platform"].get<std::string>());
    if (!roles.platform) {
      return base::DataLossError(
          "unknown platform role " +
          in["platform"].dump(-1, ' ', false,
                              nlohmann::json::error_handler_t::replace));
    }
  }
  if (in.contains("service")) {
    roles.service = ParseServiceRole(in["service"].get<std::string>());
    if (!roles.service) {
      return base::DataLossError(
          "unknown service role " +
          in["service"].dump(-1, ' ', false,
                             nlohmann::json::error_handler_t::replace));
    }
  }
  return roles;
}

base::StatusOr<std::unique_ptr<Account>> ParseAccount(const json& in) {
  auto account = std::make_unique<Account>(in.at("owner").get<std::string>());
  for (const json& user : in.value("users", json::array())) {
    User parsed{user.at("email").get<std::string>(),
                user.value("name", std::string())};
    if (parsed.email == account->owner()) continue;
    RETURN_IF_ERROR(account->AddUser(std::move(parsed)));
  }
  for (const json& policy : in.value("policies", json::array())) {
    ASSIGN_OR_RETURN(Roles roles, RolesFromJson(policy.at("roles")));
    std::string user = policy.at("user").get<std::string>();
    std::string service = policy.at("service").get<std::string>();
    std::string resource = policy.at("resource").get<std::string>();
    base::Status assigned =
        service == kKmsService
            ? account->AssignKmsRoles(user, resource, roles)
            : account->AssignClusterRoles(user, resource, roles);
    RETURN_IF_ERROR(assigned);
  }
  for (const json& key : in.value("api_keys", json::array())) {
    ASSIGN_OR_RETURN(base::Time created, TimeFromJson(key.at("created")));
    RETURN_IF_ERROR(account
                        ->ResetApiKey(key.at("region").get<std::string>(),
                                      key.at("owner").get<std::string>(),
                                      key.at("id").get<std::string>(), created)
                        .status());
  }
  for (const json& item : in.value("service_authorizations", json::array())) {
    ServiceAuthorization authorization;
    authorization.source_service = item.at("source_service").get<std::string>();
    authorization.target_service = item.at("target_service").get<std::string>();
    authorization.target_resource =
        item.at("target_resource").get<std::string>();
    std::optional<ServiceRole> role =
        ParseServiceRole(item.at("role").get<std::string>());
    if (!role)
      return base::DataLossError(
          "unknown role " +
          item.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    authorization.role = *role;
    ASSIGN_OR_RETURN(authorization.created, TimeFromJson(item.at("created")));
    RETURN_IF_ERROR(account->AddServiceAuthorization(authorization).status());
  }
  return account;
}

}  // namespace

std::string_view PlatformRoleName(PlatformRole role) {
  return kPlatformRoleNames[static_cast<size_t>(role)];
}

std::optional<PlatformRole> ParsePlatformRole(std::string_view name) {
  for (size_t i = 0; i < kPlatformRoleNames.size(); ++i) {
    if (EqualsIgnoreCase(name, kPlatformRoleNames[i])) {
      return static_cast<PlatformRole>(i);
    }
  }
  return std::nullopt;
}

std::string_view ServiceRoleName(ServiceRole role) {
  return kServiceRoleNames[static_cast<size_t>(role)];
}

std::optional<ServiceRole> ParseServiceRole(std::string_view name) {
  for (size_t i = 0; i < kServiceRoleNames.size(); ++i) {
    if (EqualsIgnoreCase(name, kServiceRoleNames[i])) {
      return static_cast<ServiceRole>(i);
    }
  }
  return std::nullopt;
}

Account::Account(std::string owner_email, std::string owner_name)
    : owner_(owner_email) {
  users_.push_back({std::move(owner_email), std::move(owner_name)});
}

base::StatusOr<std::unique_ptr<Account>> Account::Open(
    const std::string& path, const std::string& owner_email) {
  base::StatusOr<json> stored = ReadJsonFile(path);
  std::unique_ptr<Account> account;
  if (stored.ok()) {
    ASSIGN_OR_RETURN(account, FromJson(*stored));
  } else if (stored.status().code() == base::Code::kNotFound) {
    account = std::make_unique<Account>(owner_email);
  } else {
    return stored.status();
  }
  std::lock_guard lock(account->mu_);
  account->path_ = path;
  RETURN_IF_ERROR(account->SaveLocked());
  return account;
}

const std::string& Account::owner() const {
  // The owner never changes after construction.
  return owner_;
}

base::Status Account::AddUser(User user) {
  if (user.email.find('@') == std::string::npos) {
    return base::InvalidArgumentError("invalid user email \"" + user.email +
                                      "\": expected an address such as "
                                      "dev@example.com");
  }
  std::lock_guard lock(mu_);
  for (const User& known : users_) {
    if (known.email == user.email) {
      return base::AlreadyExistsError("user " + user.email +
                                      " is already a member of the account");
    }
  }
  users_.push_back(std::move(user));
  return SaveLocked();
}

base::StatusOr<User> Account::GetUser(const std::string& email) const {
  std::lock_guard lock(mu_);
  for (const User& user : users_) {
    if (user.email == email) return user;
  }
  return base::NotFoundError("user " + email +
                             " is not a member of the account; invite the "
                             "user first");
}

std::vector<User> Account::ListUsers() const {
  std::lock_guard lock(mu_);
  return users_;
}

base::Status Account::AssignRoles(const std::string& user,
                                  const std::string& service,
                                  const std::string& resource, Roles roles) {
  RETURN_IF_ERROR(GetUser(user).status());
  std::lock_guard lock(mu_);
  std::erase_if(policies_, [&](const AccessPolicy& policy) {
    return policy.user == user && policy.service == service &&
           policy.resource == resource;
  });
  if (roles.platform || roles.service) {
    policies_.push_back({user, service, resource, roles});
  }
  return SaveLocked();
}

base::Status Account::AssignClusterRoles(const std::string& user,
                                         const std::string& cluster_id,
                                         Roles roles) {
  return AssignRoles(user, kClusterService, cluster_id, roles);
}

base::Status Account::AssignKmsRoles(const std::string& user,
                                     const std::string& instance_id,
                                     Roles roles) {
  return AssignRoles(user, kKmsService, instance_id, roles);
}

std::vector<AccessPolicy> Account::ListPolicies() const {
  std::lock_guard lock(mu_);
  return policies_;
}

Roles Account::RolesOn(const std::string& user, const std::string& service,
                       const std::string& resource) const {
  std::lock_guard lock(mu_);
  if (user == owner_) {
    return {PlatformRole::kAdministrator, ServiceRole::kManager};
  }
  Roles best;
  for (const AccessPolicy& policy : policies_) {
    if (policy.user != user || policy.service != service) continue;
    if (policy.resource != resource && policy.resource != kAllResources) {
      continue;
    }
    best.platform = Max(best.platform, policy.roles.platform);
    best.service = Max(best.service, policy.roles.service);
  }
  return best;
}

Roles Account::ClusterRoles(const std::string& user,
                            const std::string& cluster_id) const {
  return RolesOn(user, kClusterService, cluster_id);
}

Roles Account::KmsRoles(const std::string& user,
                        const std::string& instance_id) const {
  return RolesOn(user, kKmsService, instance_id);
}

base::Status Account::RequireClusterRole(const std::string& user,
                                         const std::string& cluster_id,
                                         const std::string& cluster_name,
                                         PlatformRole required,
                                         const std::string& action) const {
  RETURN_IF_ERROR(GetUser(user).status());
  std::optional<PlatformRole> held = ClusterRoles(user, cluster_id).platform;
  if (held && *held >= required) return base::OkStatus();
  return base::PermissionDeniedError(
      "user " + user + " has " + RoleText(held) + " on cluster " +
      cluster_name + ", but " + action + " needs the " +
      std::string(PlatformRoleName(required)) +
      " platform role; ask an account administrator to assign it");
}

base::StatusOr<ApiKey> Account::ResetApiKey(const std::string& region,
                                            const std::string& user,
                                            const std::string& key_id,
                                            base::Time now) {
  RETURN_IF_ERROR(GetUser(user).status());
  std::lock_guard lock(mu_);
  std::erase_if(api_keys_,
                [&](const ApiKey& key) { return key.region == region; });
  ApiKey key{key_id, region, user, now};
  api_keys_.push_back(key);
  RETURN_IF_ERROR(SaveLocked());
  return key;
}

std::optional<ApiKey> Account::GetApiKey(const std::string& region) const {
  std::lock_guard lock(mu_);
  for (const ApiKey& key : api_keys_) {
    if (key.region == region) return key;
  }
  return std::nullopt;
}

base::StatusOr<bool> Account::AddServiceAuthorization(
    ServiceAuthorization authorization) {
  std::lock_guard lock(mu_);
  for (const ServiceAuthorization& known : authorizations_) {
    if (known.source_service == authorization.source_service &&
        known.target_service == authorization.target_service &&
        known.target_resource == authorization.target_resource &&
        known.role == authorization.role) {
      return false;
    }
  }
  authorizations_.push_back(std::move(authorization));
  RETURN_IF_ERROR(SaveLocked());
  return true;
}

bool Account::HasKmsReaderAuthorization(const std::string& instance_id) const {
  std::lock_guard lock(mu_);
  return std::ranges::any_of(authorizations_, [&](const auto& item) {
    return item.source_service == kClusterService &&
           item.target_service == kKmsService &&
           (item.target_resource == instance_id ||
            item.target_resource == kAllResources);
  });
}

std::vector<ServiceAuthorization> Account::ListServiceAuthorizations() const {
  std::lock_guard lock(mu_);
  return authorizations_;
}

json Account::ToJson() const {
  std::lock_guard lock(mu_);
  return ToJsonLocked();
}

json Account::ToJsonLocked() const {
  json out = {{"owner", owner_},
              {"users", json::array()},
              {"policies", json::array()},
              {"api_keys", json::array()},
              {"service_authorizations", json::array()}};
  for (const User& user : users_) {
    out["users"].push_back({{"email", user.email}, {"name", user.name}});
  }
  for (const AccessPolicy& policy : policies_) {
    out["policies"].push_back({{"user", policy.user},
                               {"service", policy.service},
                               {"resource", policy.resource},
                               {"roles", RolesToJson(policy.roles)}});
  }
  for (const ApiKey& key : api_keys_) {
    out["api_keys"].push_back({{"id", key.id},
                               {"region", key.region},
                               {"owner", key.owner},
                               {"created", TimeToJson(key.created)}});
  }
  for (const ServiceAuthorization& item : authorizations_) {
    out["service_authorizations"].push_back(
        {{"source_service", item.source_service},
         {"target_service", item.target_service},
         {"target_resource", item.target_resource},
         {"role", ServiceRoleName(item.role)},
         {"created", TimeToJson(item.created)}});
  }
  return out;
}

base::StatusOr<std::unique_ptr<Account>> Account::FromJson(const json& in) {
  // nlohmann::json reports missing or mistyped fields by exception; they
  // must not leave this function.
  try {
    return ParseAccount(in);
  } catch (const json::exception& error) {
    return base::DataLossError(std::string("malformed account state: ") +
                               error.what());
  }
}

base::Status Account::SaveLocked() const {
  if (path_.empty()) return base::OkStatus();
  return WriteJsonFile(path_, ToJsonLocked());
}

}  // namespace sim
