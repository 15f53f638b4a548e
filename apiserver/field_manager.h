// Field management as kube-apiserver's field manager does it
// (k8s.io/apimachinery/pkg/util/managedfields): metadata.managedFields
// records, per manager and operation, the fields that the manager set, and
// server-side apply merges a manager's configuration into an object by
// those records. Internal to the apiserver library.
//
// Each entry of metadata.managedFields has manager, operation ("Apply" or
// "Update"), apiVersion, time, fieldsType "FieldsV1" and fieldsV1, the set
// of fields. apiVersion, kind and the metadata fields that the server sets
// (name, namespace, uid, resourceVersion, creationTimestamp, generation,
// selfLink, managedFields) are never owned, and neither is a Namespace's
// status. More than ten Update entries are merged, oldest first, into one
// named "ancient-changes".
//
// Thread-safe: the functions keep no state.
#ifndef APISERVER_FIELD_MANAGER_H_
#define APISERVER_FIELD_MANAGER_H_

#include <nlohmann/json.hpp>
#include <string>

#include "base/clock.h"
#include "base/status.h"

namespace apiserver {

// The annotation in which kubectl's client-side apply keeps the last
// configuration it applied.
inline constexpr char kLastAppliedAnnotation[] =
    "kubectl.kubernetes.io/last-applied-configuration";

// The Status payload (base::Status::GetPayload) in which an apply conflict
// carries its causes: a JSON array of upstream's StatusCause objects,
// {"type": "FieldManagerConflict", "message": "conflict with \"m\" using
// v1", "field": ".data.password"}.
inline constexpr char kStatusCausesPayload[] =
    "k8s.io/apimachinery/pkg/apis/meta/v1.StatusCause";

// Records a create, update or patch by `manager` in the managedFields of
// `updated`, an object of `kind`, and returns it. `live` is the stored
// object, or {} for a create. As upstream's FieldManager.UpdateNoErrors:
// the manager's Update entry gains the fields that differ from `live`
// (time `now`), other entries lose them and the fields that `updated`
// removed, and emptied entries go. The managedFields that `updated`
// carries replace the stored ones when they decode and are not empty; []
// or [{}] clears them. When the fields cannot be computed, `updated`
// keeps the managedFields of `live`.
nlohmann::json UpdateManagedFields(const std::string& kind,
                                   const nlohmann::json& live,
                                   nlohmann::json updated,
                                   const std::string& manager, base::Time now);

// Applies `config`, the configuration that `manager` intends for an object
// of `kind`, to `live` (the stored object, or {} when there is none), as
// upstream's FieldManager.Apply, and returns the object to store. The
// result merges `config` into `live` and removes the fields that the
// manager applied before but leaves out now, unless another manager owns
// them. The manager's Apply entry gets exactly the fields of `config`, and
// time `now` when anything changed. `force` takes fields that other
// managers own with other values; without it those fields fail the apply.
// For the manager "kubectl" (kubectl's own), fields that the annotation
// kubectl.kubernetes.io/last-applied-configuration shows unchanged since
// a client-side apply are taken as if forced, and that annotation is kept
// up to date.
//
// Fails with:
// - reason BadRequest: `invalid object type: /v1, Kind=ConfigMap` when
//   config's apiVersion and kind are not v1 and `kind`, and
//   `metadata.managedFields must be nil`;
// - reason Unknown (HTTP 500 without a reason): `failed to create typed
//   patch object (default/db; /v1, Kind=Secret): .spec: field not declared
//   in schema` when config does not fit the schema, and `failed to decode
//   managed fields: ...` when the stored ones are corrupt;
// - reason Conflict (HTTP 409): `Apply failed with 1 conflict: conflict
//   with "kubectl-client-side-apply" using v1: .data.password`, with the
//   causes as the kStatusCausesPayload payload.
base::StatusOr<nlohmann::json> ApplyConfiguration(const std::string& kind,
                                                  const nlohmann::json& live,
                                                  const nlohmann::json& config,
                                                  const std::string& manager,
                                                  bool force, base::Time now);

}  // namespace apiserver

#endif  // APISERVER_FIELD_MANAGER_H_
