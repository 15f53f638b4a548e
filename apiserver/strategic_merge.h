// Strategic merge patch ("application/strategic-merge-patch+json") as
// k8s.io/apimachinery/pkg/util/strategicpatch applies it, with the list
// rules of the served kinds' OpenAPI schemas. Internal to the apiserver
// library.
//
// Maps merge key by key and a null value deletes its key. A list replaces
// the original unless its schema has x-kubernetes-patch-strategy "merge":
// then a list of primitives takes the union, and a list of objects merges
// element by element on x-kubernetes-patch-merge-key. Directives:
//   {"$patch": "replace"} in a map or list: the patch replaces the original;
//   {"$patch": "delete"} in a map: the map becomes empty; as a list element
//     with the merge key: that element is removed;
//   "$retainKeys": [...]: original keys outside the list are dropped;
//   "$deleteFromPrimitiveList/<field>": [...]: those values leave the list;
//   "$setElementOrder/<field>": [...]: the listed elements come first, in
//     that order.
// No directive is left in the result.
#ifndef APISERVER_STRATEGIC_MERGE_H_
#define APISERVER_STRATEGIC_MERGE_H_

#include <nlohmann/json.hpp>
#include <string>

#include "base/status.h"

namespace apiserver {

// Applies `patch` to `original`, an object of `kind` (a served kind, or any
// other for plain merging). Errors carry upstream's messages: reason
// BadRequest for a malformed directive ("invalid patch format of primitive
// list") or a patch that is not an object, reason Invalid for "patch content
// doesn't match retainKeys list" and "lists of lists are not supported",
// and reason InternalError for an unknown $patch value ("unknown patch type:
// foo in map: map[...]") or a list element without its merge key.
base::StatusOr<nlohmann::json> StrategicMergePatch(
    const nlohmann::json& original, const nlohmann::json& patch,
    const std::string& kind);

// Formats a JSON value as Go's fmt prints the map[string]interface{} that
// encoding/json decodes it into: map[a:1 b:[x y]], keys sorted. Upstream
// error messages embed patches in this form.
std::string GoFormat(const nlohmann::json& value);

}  // namespace apiserver

#endif  // APISERVER_STRATEGIC_MERGE_H_
