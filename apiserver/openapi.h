// OpenAPI schemas of the served kinds (core/v1 Secret, ConfigMap, Namespace,
// their lists and the meta/v1 types they use), in the names and shapes that
// kube-apiserver publishes, and what the server derives from them: the
// /openapi/v2 and /openapi/v3 documents, the unknown-field check of
// fieldValidation, and the list merge rules of strategic merge patch.
// Internal to the apiserver library.
//
// Definitions are named as upstream's ("io.k8s.api.core.v1.Secret",
// "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta") and carry upstream's
// extensions: x-kubernetes-group-version-kind on top-level kinds, and
// x-kubernetes-patch-strategy / x-kubernetes-patch-merge-key on the lists
// that strategic merge patch merges (metadata.finalizers,
// metadata.ownerReferences, status.conditions of a Namespace).
//
// Thread-safe: every function reads constant data built on first use.
#ifndef APISERVER_OPENAPI_H_
#define APISERVER_OPENAPI_H_

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace apiserver {

// Options of the published documents.
struct OpenApiOptions {
  std::string git_version = "v1.32.0";
  // Whether write operations list the fieldValidation query parameter.
  // kubectl validates on the server when they do, and otherwise validates
  // on the client against the /openapi/v2 schemas.
  bool field_validation = true;
};

// The "definitions" object of the v2 document: schema name to schema, with
// "$ref": "#/definitions/<name>" references.
const nlohmann::json& OpenApiDefinitions();

// Returns the definition name of a served kind ("Secret" ->
// "io.k8s.api.core.v1.Secret"), or "" for other kinds.
std::string DefinitionNameOfKind(const std::string& kind);

// Follows "$ref" (v2 form) and a single-element "allOf" to the schema they
// name. Returns `schema` itself when it is no reference, and nullptr for a
// reference to an unknown definition.
const nlohmann::json* ResolveSchema(const nlohmann::json& schema);

// The swagger 2.0 document of /openapi/v2.
nlohmann::json OpenApiV2Document(const OpenApiOptions& options);

// Encodes a swagger 2.0 document in the protobuf form of gnostic's
// openapi_v2.Document, which kubectl requests from /openapi/v2 as
// "application/com.github.proto-openapi.spec.v2.v1.0+protobuf". Handles
// the parts OpenApiV2Document produces: info, paths with their operations,
// parameters and responses, definitions with their schemas, and vendor
// extensions (as YAML text, which JSON is).
std::string EncodeOpenApiV2Protobuf(const nlohmann::json& document);

// The OpenAPI 3.0 document of /openapi/v3/api/v1, with the same schemas
// under components.schemas ("$ref": "#/components/schemas/<name>").
nlohmann::json OpenApiV3CoreV1Document(const OpenApiOptions& options);

// Returns the fields of `object` that the schema of `kind` does not define,
// as upstream's strict decoding names them ("spec", "metadata.bogus",
// "metadata.ownerReferences[0].foo"), in key order. Empty for unknown kinds.
std::vector<std::string> UnknownFields(const std::string& kind,
                                       const nlohmann::json& object);

// Removes the fields that UnknownFields reports, as decoding into upstream's
// Go types drops them.
void PruneUnknownFields(const std::string& kind, nlohmann::json& object);

}  // namespace apiserver

#endif  // APISERVER_OPENAPI_H_
