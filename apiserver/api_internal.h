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
#include "apiserver/validation.h"

namespace apiserver {

// The query parameters of a request. A repeated parameter keeps its last
// value, and QueryValues returns all of them.
// NOTE: upstream's query decoding keeps the first value of a repeated
// single-value parameter (Convert_Slice_string_To_string), not the last.
using Query = std::map<std::string, std::string>;

// Returns the value of query parameter `key`, or "" when it is absent.
std::string QueryValue(const Query& query, const std::string& key);

// Returns `text` with ASCII letters in lower case.
std::string Lower(std::string text);

// Every value of the query parameter `name` of `request`, in order, as
// upstream's url.Values keeps them (for list parameters such as dryRun).
std::vector<std::string> QueryValues(const ApiRequest& request,
                                     std::string_view name);

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

// One requirement of a label selector, as upstream's labels.Requirement:
// "k in (a,b)", "k notin (a)", "k=v", "k==v", "k!=v", "k" (exists), "!k"
// (does not exist), "k>1" or "k<1".
struct LabelRequirement {
  enum class Op {
    kIn,
    kNotIn,
    kEquals,
    kNotEquals,
    kExists,
    kDoesNotExist,
    kGreaterThan,
    kLessThan
  };
  std::string key;
  Op op = Op::kExists;
  std::vector<std::string> values;
};

// One term of a field selector: "field=value", "field==value" or
// "field!=value".
struct FieldRequirement {
  std::string field;
  bool equals = true;
  std::string value;
};

// The labelSelector and fieldSelector of a list, watch or deletecollection.
struct ApiHandler::Selector {
  std::vector<LabelRequirement> labels;
  std::vector<FieldRequirement> fields;

  bool Matches(const Json& object) const;
  bool empty() const { return labels.empty() && fields.empty(); }
};

// Parses the labelSelector and fieldSelector parameters as upstream's
// labels.Parse and fields.ParseSelector do, and checks the fields that
// `resource` can be selected by: metadata.name, metadata.namespace and type
// for Secrets, metadata.name and status.phase for Namespaces, and
// metadata.name and metadata.namespace for ConfigMaps. Fails with reason
// BadRequest and upstream's message, such as `unable to parse requirement:
// found '!', expected: identifier` or `field label not supported: data`.
base::StatusOr<ApiHandler::Selector> ParseSelector(const Query& query,
                                                   const Resource& resource);

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
  // dryRun=All: validate and admit, but store nothing.
  bool dry_run = false;
};

// Checks the values of a dryRun parameter as upstream's ValidateDryRun
// does: "All" is the only known one, and any other adds the error
// `dryRun: Unsupported value: []string{"x"}: supported values: "All"`.
// Returns whether the request is a dry run.
bool ParseDryRun(const std::vector<std::string>& values,
                 std::vector<FieldError>& errors);

// The DeleteOptions of a DELETE or a deletecollection, as upstream's
// handlers read them: from the body when there is one (JSON, kind
// DeleteOptions), else from the gracePeriodSeconds, propagationPolicy,
// orphanDependents and dryRun query parameters. Fails with reason
// BadRequest for a query value that does not parse, such as
// `strconv.ParseInt: parsing "abc": invalid syntax`, a status without
// reason (HTTP 500) for a body that does not decode, and reason Invalid for
// options that ValidateDeleteOptions rejects.
base::StatusOr<DeleteOptions> ParseDeleteOptions(const ApiRequest& request,
                                                 const Query& query);

// Reads fieldManager, dryRun, fieldValidation and force as upstream's
// Validate{Create,Update,Patch}Options checks them. An empty
// fieldValidation is Warn when the server validates fields, and every value
// is Ignore when it does not. Fails with reason Invalid and every error in
// upstream's words, such as `PatchOptions.meta.k8s.io "" is invalid:
// fieldManager: Required value: is required for apply patch`. It rejects
// an apply without fieldManager, force on any other patch, a fieldManager
// over 128 bytes or with characters that are not printable, a dryRun
// other than All, and a fieldValidation other than Ignore, Warn and Strict.
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
