// Account: the cloud account that owns clusters and KMS instances, with its
// users, their IAM access policies, the API key stored per region and the
// service-to-service authorizations between services.
//
// Access follows IBM Cloud IAM as the managed service uses it:
//  - Platform roles, from least to most: Viewer, Operator, Editor,
//    Administrator. Service roles: Reader, Writer, Manager. A higher role
//    includes what the lower ones allow.
//  - A policy gives one user roles on one resource of a service: a cluster
//    (service "containers-kubernetes", resource = cluster id) or a KMS
//    instance (service "kms", resource = instance id). The resource "*"
//    means every resource of that service.
//  - The account owner has Administrator and Manager on everything.
//  - Each region stores one API key, which acts for the user who set it
//    with `ks api-key reset --region`. Clusters of that region reach the
//    KMS with the KMS roles of that user.
//
// With a storage path, every change is written to that JSON file before
// the call returns; a failed write returns an error and leaves memory ahead
// of the file.
//
// Thread-safe.
#ifndef SIM_ACCOUNT_H_
#define SIM_ACCOUNT_H_

#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/status.h"

namespace sim {

enum class PlatformRole { kViewer, kOperator, kEditor, kAdministrator };
enum class ServiceRole { kReader, kWriter, kManager };

// "Viewer", "Operator", "Editor", "Administrator".
std::string_view PlatformRoleName(PlatformRole role);
// Case-insensitive; nullopt for unknown names.
std::optional<PlatformRole> ParsePlatformRole(std::string_view name);
// "Reader", "Writer", "Manager".
std::string_view ServiceRoleName(ServiceRole role);
std::optional<ServiceRole> ParseServiceRole(std::string_view name);

// IAM service names of policies and authorizations.
inline constexpr char kClusterService[] = "containers-kubernetes";
inline constexpr char kKmsService[] = "kms";
// A policy resource that matches every resource of its service.
inline constexpr char kAllResources[] = "*";

struct User {
  std::string email;  // the user id in policies
  std::string name;
};

// The roles one user has on one resource; empty when it has none.
struct Roles {
  std::optional<PlatformRole> platform;
  std::optional<ServiceRole> service;
};

struct AccessPolicy {
  std::string user;      // email
  std::string service;   // kClusterService or kKmsService
  std::string resource;  // a cluster or instance id, or kAllResources
  Roles roles;
};

struct ApiKey {
  std::string id;  // "ApiKey-<uuid>"
  std::string region;
  std::string owner;  // the email of the user whose credentials it carries
  base::Time created;
};

// A service-to-service authorization, such as the Reader policy from the
// cluster service to a KMS instance that clusters of 1.18.8_1525 and later
// create when KMS is enabled.
struct ServiceAuthorization {
  std::string source_service = kClusterService;
  std::string target_service = kKmsService;
  std::string target_resource;  // an instance id, or kAllResources
  ServiceRole role = ServiceRole::kReader;
  base::Time created;
};

class Account {
 public:
  // An in-memory account whose owner is `owner_email`.
  explicit Account(std::string owner_email, std::string owner_name = "");

  // Loads the account stored at `path`, or creates one owned by
  // `owner_email` there when the file is missing. Fails with kDataLoss for
  // an unreadable or malformed file.
  static base::StatusOr<std::unique_ptr<Account>> Open(
      const std::string& path, const std::string& owner_email);

  Account(const Account&) = delete;
  Account& operator=(const Account&) = delete;

  const std::string& owner() const;

  // Adds a user. Fails with kAlreadyExists for a known email and with
  // kInvalidArgument for an email without '@'.
  base::Status AddUser(User user);
  base::StatusOr<User> GetUser(const std::string& email) const;
  std::vector<User> ListUsers() const;

  // Sets the roles of `user` on a cluster (an id, or kAllResources),
  // replacing the roles of an earlier policy on the same resource. Fails
  // with kNotFound for an unknown user.
  base::Status AssignClusterRoles(const std::string& user,
                                  const std::string& cluster_id, Roles roles);
  // The same for a KMS instance.
  base::Status AssignKmsRoles(const std::string& user,
                              const std::string& instance_id, Roles roles);
  std::vector<AccessPolicy> ListPolicies() const;

  // The highest roles `user` has on the resource, through policies on it or
  // on kAllResources; the owner has Administrator and Manager.
  Roles ClusterRoles(const std::string& user,
                     const std::string& cluster_id) const;
  Roles KmsRoles(const std::string& user, const std::string& instance_id) const;

  // Returns OK when `user` has at least `required` on the cluster, else
  // kPermissionDenied naming the user, the cluster, the role it has, the
  // role `action` needs and what to do.
  base::Status RequireClusterRole(const std::string& user,
                                  const std::string& cluster_id,
                                  const std::string& cluster_name,
                                  PlatformRole required,
                                  const std::string& action) const;

  // Stores an API key for `region` that acts for `user`, replacing the
  // region's previous key. Fails with kNotFound for an unknown user.
  base::StatusOr<ApiKey> ResetApiKey(const std::string& region,
                                     const std::string& user,
                                     const std::string& key_id, base::Time now);
  std::optional<ApiKey> GetApiKey(const std::string& region) const;

  // Adds an authorization unless an equal one (same source, target and
  // role) exists. Returns true when it was added.
  base::StatusOr<bool> AddServiceAuthorization(
      ServiceAuthorization authorization);
  // True when the cluster service may read `instance_id` (a Reader or
  // higher authorization on it or on every instance).
  bool HasKmsReaderAuthorization(const std::string& instance_id) const;
  std::vector<ServiceAuthorization> ListServiceAuthorizations() const;

  nlohmann::json ToJson() const;
  static base::StatusOr<std::unique_ptr<Account>> FromJson(
      const nlohmann::json& json);

 private:
  base::Status AssignRoles(const std::string& user, const std::string& service,
                           const std::string& resource, Roles roles);
  Roles RolesOn(const std::string& user, const std::string& service,
                const std::string& resource) const;
  // REQUIRES: mu_ held.
  base::Status SaveLocked() const;
  nlohmann::json ToJsonLocked() const;

  mutable std::mutex mu_;
  std::string owner_;                                 // guarded by mu_
  std::vector<User> users_;                           // guarded by mu_
  std::vector<AccessPolicy> policies_;                // guarded by mu_
  std::vector<ApiKey> api_keys_;                      // guarded by mu_
  std::vector<ServiceAuthorization> authorizations_;  // guarded by mu_
  std::string path_;  // guarded by mu_; empty for in-memory accounts
};

}  // namespace sim

#endif  // SIM_ACCOUNT_H_
