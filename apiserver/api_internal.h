// Helpers shared by the source files of ApiHandler: response builders,
// request body decoding, Tables and selectors. Internal to the
// apiserver_http library.
#ifndef APISERVER_API_INTERNAL_H_
#define APISERVER_API_INTERNAL_H_

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "apiserver/api_status.h"
#include "apiserver/http_server.h"
#include "apiserver/openapi.h"

namespace apiserver {

using Query = std::map<std::string, std::string>;

// A parsed /api/v1/... path: the resource, its namespace and the name, and
// what /metrics labels the request with.
struct ApiHandler::Route {
  const Resource* resource = nullptr;
  std::string ns;
  std::string name;
  Query query;
  // Metric labels: upstream's verb ("GET", "LIST", "WATCH", "POST", ...)
  // and scope ("resource", "namespace" or "cluster").
  std::string verb;
  std::string scope;
  // Whether the request came without credentials, as "system:anonymous".
  bool anonymous = false;
};

// One requirement of an equality-based label selector: "k=v", "k==v",
// "k!=v", "k" (exists) or "!k" (does not exist).
struct LabelRequirement {
  std::string key;
  enum class Op { kEquals, kNotEquals, kExists, kNotExists } op;
  std::string value;
};

// The labelSelector and fieldSelector of a list, watch or deletecollection.
// Field selectors support metadata.name and metadata.namespace with = or
// ==, as kubectl sends for `kubectl get secret x --watch`.
struct ApiHandler::Selector {
  std::vector<LabelRequirement> labels;
  std::map<std::string, std::string> fields;

  bool Matches(const Json& object) const;
  bool empty() const { return labels.empty() && fields.empty(); }
};

base::StatusOr<ApiHandler::Selector> ParseSelector(const Query& query);

const std::vector<const Resource*>& ServedResources();

ApiResponse JsonResponse(int status, const Json& body);
ApiResponse TextResponse(int status, std::string body);

// FailureStatus as a response with the HTTP code of its reason.
ApiResponse FailureResponse(const base::Status& status,
                            const Resource* resource = nullptr,
                            const std::string& name = "");

// Whether the Accept header asks for a meta.k8s.io/v1 Table.
bool WantsTable(const ApiRequest& request);
// A Table of `objects` as `kubectl get` prints them.
Json Table(const Resource& resource, const std::vector<Json>& objects,
           const std::string& resource_version, base::Time now);

// "32" for "v1.32.0".
std::string MinorVersion(const std::string& git_version);
Json ApiResourceList();
ApiResponse OpenApiV2Response(const ApiRequest& request,
                              const OpenApiOptions& options);

// How a write treats unknown and duplicate fields: upstream's
// fieldValidation directive.
enum class FieldValidation { kIgnore, kWarn, kStrict };

// The operations whose parameters ParseWriteParameters reads, as upstream
// names their options: CreateOptions, UpdateOptions and PatchOptions (for
// apply too).
enum class WriteVerb { kCreate, kUpdate, kPatch, kApply };

// The query parameters of a write.
struct WriteParameters {
  // fieldManager, or when it is empty the product of the User-Agent header
  // ("kubectl" for "kubectl/v1.32.4 (linux/amd64) kubernetes/4cb5f07"), as
  // upstream's managerOrUserAgent.
  std::string field_manager;
  FieldValidation validation = FieldValidation::kWarn;
  // force: whether an apply takes fields that other managers own.
  bool force = false;
};

// Reads fieldManager, fieldValidation and force as upstream's
// Validate{Create,Update,Patch}Options checks them. An empty
// fieldValidation is Warn when the server validates fields, and every value
// is Ignore when it does not. Fails with reason Invalid and every error in
// upstream's words, such as `PatchOptions.meta.k8s.io "" is invalid:
// fieldManager: Required value: is required for apply patch`. It rejects
// an apply without fieldManager, force on any other patch, a fieldManager
// over 128 bytes or with characters that are not printable, and a
// fieldValidation other than Ignore, Warn and Strict.
base::StatusOr<WriteParameters> ParseWriteParameters(
    const ApiRequest& request, const Query& query, WriteVerb verb,
    bool field_validation_enabled);

// The "Warning" response header value for one message: `299 - "<message>"`.
std::string WarningHeader(const std::string& message);

// Parses JSON text as upstream's decoder reads it: the value, plus the
// paths of duplicate object keys (the last one wins). Fails with a cause in
// Go's encoding/json words, such as `invalid character 'x' looking for
// beginning of value` or `unexpected end of JSON input`.
struct ParsedJson {
  Json value;
  std::vector<std::string> duplicate_fields;
};
base::StatusOr<ParsedJson> ParseJsonText(std::string_view text);

// Converts a YAML document to JSON as sigs.k8s.io/yaml does. Fails with
// `error converting YAML to JSON: yaml: line <n>: <cause>`.
base::StatusOr<Json> YamlToJson(std::string_view text);

// The keys that a YAML (or JSON) document repeats within one map, as
// go-yaml's strict decoding reports them: `line 2: key "a" already set in
// map`. Empty for a document that does not parse.
std::vector<std::string> YamlDuplicateKeys(std::string_view text);

// A POST or PUT body decoded into an object of `resource`'s kind.
struct DecodedBody {
  Json object;
  // Warning header values for fieldValidation=Warn.
  std::vector<std::string> warnings;
};

// Decodes a body by its Content-Type (JSON, YAML or Kubernetes protobuf),
// checks its apiVersion and kind as upstream's decoder does, applies
// `validation` to unknown and duplicate fields and drops unknown fields.
// Fails with reason BadRequest and upstream's message, for example
// `Secret in version "v1" cannot be handled as a Secret: strict decoding
// error: unknown field "spec"`, or reason UnsupportedMediaType.
base::StatusOr<DecodedBody> DecodeObjectBody(const ApiRequest& request,
                                             const Resource& resource,
                                             FieldValidation validation);

}  // namespace apiserver

#endif  // APISERVER_API_INTERNAL_H_
