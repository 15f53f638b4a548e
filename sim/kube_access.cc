#include "sim/kube_access.h"

namespace sim {
namespace {

bool IsReadVerb(std::string_view verb) {
  return verb == "get" || verb == "list" || verb == "watch";
}

// Whether the ClusterRole bound for `role` allows `verb` on `resource`.
bool RoleAllows(ServiceRole role, std::string_view verb,
                const apiserver::Resource& resource) {
  switch (role) {
    case ServiceRole::kManager:
      return true;
    case ServiceRole::kWriter:
      // `edit` writes namespaced objects; namespaces stay read-only.
      return resource.namespaced || IsReadVerb(verb);
    case ServiceRole::kReader:
      // `view` leaves out Secrets, whose data would escalate access.
      return IsReadVerb(verb) && resource.name != "secrets";
  }
  return false;
}

}  // namespace

std::string KubernetesUserName(const std::string& email) {
  return "IAM#" + email;
}

base::Status AuthorizeKubernetes(const Account& account,
                                 const std::string& cluster_id,
                                 const std::string& email,
                                 std::string_view verb,
                                 const apiserver::Resource& resource,
                                 const std::string& ns,
                                 const std::string& name) {
  if (!account.GetUser(email).ok()) {
    return base::Status(base::Code::kUnauthenticated, "Unauthorized",
                        "Unauthorized");
  }
  Roles roles = account.ClusterRoles(email, cluster_id);
  if (roles.service && RoleAllows(*roles.service, verb, resource)) {
    return base::OkStatus();
  }
  std::string object =
      name.empty() ? resource.name : resource.name + " \"" + name + "\"";
  std::string scope = resource.namespaced && !ns.empty()
                          ? "in the namespace \"" + ns + "\""
                          : "at the cluster scope";
  return base::PermissionDeniedError(
      object + " is forbidden: User \"" + KubernetesUserName(email) +
          "\" cannot " + std::string(verb) + " resource \"" + resource.name +
          "\" in API group \"\" " + scope,
      "Forbidden");
}

}  // namespace sim
