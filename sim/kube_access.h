// Kubernetes authorization of a managed cluster: which account users may
// call which verb on which resource of a cluster's API.
//
// The managed service synchronizes IAM service roles on a cluster into
// Kubernetes RBAC role bindings for the user "IAM#<email>":
//   Reader   -> the `view` ClusterRole: get and list, but not Secrets
//   Writer   -> the `edit` ClusterRole: read and write namespaced objects,
//               Secrets included; get and list namespaces
//   Manager  -> the `cluster-admin` ClusterRole: everything
// Policies in this model apply to a whole cluster, so every binding covers
// all namespaces. Platform roles (Viewer ... Administrator) govern `ks`
// commands only and grant no Kubernetes access. The account owner has
// Manager on every cluster.
#ifndef SIM_KUBE_ACCESS_H_
#define SIM_KUBE_ACCESS_H_

#include <string>
#include <string_view>

#include "apiserver/registry.h"
#include "base/status.h"
#include "sim/account.h"

namespace sim {

// The Kubernetes user name of an account user: "IAM#<email>".
std::string KubernetesUserName(const std::string& email);

// Returns OK when `email` may call `verb` ("get", "list", "create",
// "update" or "delete") on `resource` in namespace `ns` (empty: every
// namespace, or a cluster-scoped resource) of cluster `cluster_id`. `name`
// is the object's name, empty for list and create. Fails as kube-apiserver
// does:
//  - kUnauthenticated, reason Unauthorized, for a user who is not a member
//    of the account;
//  - kPermissionDenied, reason Forbidden, with upstream's message, e.g.
//    `secrets "db" is forbidden: User "IAM#a@example.com" cannot get
//    resource "secrets" in API group "" in the namespace "default"`.
base::Status AuthorizeKubernetes(const Account& account,
                                 const std::string& cluster_id,
                                 const std::string& email,
                                 std::string_view verb,
                                 const apiserver::Resource& resource,
                                 const std::string& ns,
                                 const std::string& name);

}  // namespace sim

#endif  // SIM_KUBE_ACCESS_H_
