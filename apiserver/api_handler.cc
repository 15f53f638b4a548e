// ApiHandler: routing of the Kubernetes REST paths onto the Registry, Status
// errors, selectors, and the create, read, update, patch and delete verbs.
// Discovery, OpenAPI, health and metrics are in api_discovery.cc; watches in
// api_watch.cc; body decoding in api_body.cc.
#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <optional>
#include <utility>
#include <vector>

#include "apiserver/api_internal.h"
#include "apiserver/field_manager.h"
#include "apiserver/strategic_merge.h"
#include "apiserver/validation.h"

namespace apiserver {
namespace {

// Patches of one object retry this often when a concurrent write
// conflicts, as upstream's patcher retries.
constexpr int kPatchAttempts = 5;

const Resource* FindResource(const std::string& name) {
  for (const Resource* resource : ServedResources()) {
    if (resource->name == name) return resource;
  }
  return nullptr;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] == '%' && i + 2 < text.size() &&
               HexValue(text[i + 1]) >= 0 && HexValue(text[i + 2]) >= 0) {
      out +=
          static_cast<char>(HexValue(text[i + 1]) * 16 + HexValue(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

// Calls `visit(name, value)` for each parameter of the query string `text`
// in order, percent-decoded.
template <typename Visit>
void ForEachQueryParameter(std::string_view text, Visit visit) {
  while (!text.empty()) {
    const size_t end = std::min(text.find('&'), text.size());
    std::string_view pair = text.substr(0, end);
    const size_t equals = pair.find('=');
    if (!pair.empty()) {
      visit(PercentDecode(pair.substr(0, equals)),
            equals == std::string_view::npos
                ? ""
                : PercentDecode(pair.substr(equals + 1)));
    }
    text.remove_prefix(std::min(end + 1, text.size()));
  }
}

Query ParseQuery(std::string_view text) {
  Query query;
  ForEachQueryParameter(text, [&query](std::string name, std::string value) {
    query[std::move(name)] = std::move(value);
  });
  return query;
}

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> segments;
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    const size_t end = std::min(path.find('/'), path.size());
    segments.push_back(PercentDecode(path.substr(0, end)));
    path.remove_prefix(end);
  }
  return segments;
}

// The HTTP code of each StatusReason.
int HttpCode(const std::string& reason) {
  static const std::map<std::string, int> codes = {
      {"BadRequest", 400},
      {"Unauthorized", 401},
      {"Forbidden", 403},
      {"NotFound", 404},
      {"MethodNotAllowed", 405},
      {"NotAcceptable", 406},
      {"AlreadyExists", 409},
      {"Conflict", 409},
      {"Gone", 410},
      {"Expired", 410},
      {"RequestEntityTooLarge", 413},
      {"UnsupportedMediaType", 415},
      {"Invalid", 422},
      {"TooManyRequests", 429},
      {"InternalError", 500},
      {"ServiceUnavailable", 503},
      {"Timeout", 504},
  };
  auto it = codes.find(reason);
  return it == codes.end() ? 500 : it->second;
}

std::string ReasonOf(const base::Status& status) {
  if (!status.reason().empty()) return status.reason();
  switch (status.code()) {
    case base::Code::kNotFound:
      return "NotFound";
    case base::Code::kAlreadyExists:
      return "AlreadyExists";
    case base::Code::kAborted:
      return "Conflict";
    case base::Code::kInvalidArgument:
      return "BadRequest";
    case base::Code::kPermissionDenied:
      return "Forbidden";
    case base::Code::kUnavailable:
      return "ServiceUnavailable";
    case base::Code::kDeadlineExceeded:
      return "Timeout";
    default:
      return "InternalError";
  }
}

ApiResponse NotFoundPath() {
  return FailureResponse(base::NotFoundError(
      "the server could not find the requested resource", "NotFound"));
}

ApiResponse MethodNotAllowed() {
  return FailureResponse(base::Status(
      base::Code::kUnimplemented,
      "the server does not allow this method on the requested resource",
      "MethodNotAllowed"));
}

std::string NameOf(const Json& object) {
  if (!object.is_object()) return "";
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return "";
  auto name = metadata->find("name");
  return name != metadata->end() && name->is_string() ? name->get<std::string>()
                                                      : "";
}

std::string MediaType(const ApiRequest& request) {
  auto header = request.headers.find("content-type");
  if (header == request.headers.end()) return "";
  std::string type = header->second.substr(0, header->second.find(';'));
  while (!type.empty() && type.back() == ' ') type.pop_back();
  return type;
}

void AddWarnings(const std::vector<std::string>& messages,
                 ApiResponse& response) {
  for (const std::string& message : messages) {
    response.headers.emplace_back("Warning", WarningHeader(message));
  }
}

// Upstream's limit on the operations of one JSON patch.
constexpr size_t kMaxJsonPatchOperations = 10000;

std::string GoJsonTypeOf(const Json& value) {
  if (value.is_string()) return "string";
  if (value.is_number()) return "number";
  if (value.is_boolean()) return "bool";
  if (value.is_array()) return "array";
  if (value.is_object()) return "object";
  return "null";
}

// Checks that a JSON patch is a list of operation objects, as upstream's
// jsonPatcher decodes it: strictly into []handlers.jsonPatchOp unless
// fieldValidation is Ignore, else with jsonpatch.DecodePatch.
base::Status CheckJsonPatchShape(const Json& patch,
                                 FieldValidation validation) {
  const bool strict = validation != FieldValidation::kIgnore;
  std::string go_type;
  const Json* wrong = nullptr;
  if (!patch.is_array()) {
    wrong = &patch;
    go_type = strict ? "[]handlers.jsonPatchOp" : "jsonpatch.Patch";
  } else {
    for (const Json& operation : patch) {
      if (operation.is_object() || operation.is_null()) continue;
      wrong = &operation;
      go_type = strict ? "handlers.jsonPatchOp" : "jsonpatch.Operation";
      break;
    }
  }
  if (wrong != nullptr) {
    return base::InvalidArgumentError(
        std::string(strict ? "error decoding patch: " : "") +
            "json: cannot unmarshal " + GoJsonTypeOf(*wrong) +
            " into Go value of type " + go_type,
        "BadRequest");
  }
  if (patch.size() > kMaxJsonPatchOperations) {
    return base::Status(
        base::Code::kInvalidArgument,
        "Request entity too large: The allowed maximum operations in a JSON "
        "patch is " +
            std::to_string(kMaxJsonPatchOperations) + ", got " +
            std::to_string(patch.size()),
        "RequestEntityTooLarge");
  }
  return base::OkStatus();
}

// Upstream's limit on how much the "copy" operations of one JSON patch may
// grow the object: json-patch's AccumulatedCopySizeLimit, which
// kube-apiserver sets to JSONPatchMaxCopyBytes, 3 MiB by default
// (k8s.io/apiserver server.NewConfig), as large as a request body.
constexpr size_t kMaxJsonPatchCopyBytes = kMaxApiRequestBodyBytes;

// A JSON patch that does not apply fails as upstream's: HTTP 422 with a
// fixed message, empty details and none of the cause, because
// kube-apiserver passes json-patch's error to NewGenericServerResponse as
// an expected response, which leaves the causes out.
base::Status JsonPatchFailure() {
  base::Status status(
      base::Code::kInvalidArgument,
      "the server rejected our request due to an error in our request",
      "Invalid");
  status.SetPayload(kStatusDetailsPayload, "{}");
  return status;
}

// Applies a JSON patch (RFC 6902) one operation at a time, so that the
// "copy" operations can be counted before they run. As in json-patch, each
// copy adds the JSON size of its value, and the patch fails once the sum
// exceeds kMaxJsonPatchCopyBytes. json-patch's error there is "Unable
// to complete the copy, the accumulated size increase of copy is <sum>,
// exceeding the limit 3145728", which the client never sees (see
// JsonPatchFailure).
// NOTE: json-patch measures the value as it marshals it (raw bytes from
// the patch, Go's escaping of <, > and &); the compact dump here may
// differ by a few bytes.
base::StatusOr<Json> ApplyJsonPatchOperations(const Json& current,
                                              const Json& patch) {
  Json patched = current;
  size_t copied_bytes = 0;
  try {
    for (const Json& operation : patch) {
      if (operation.is_object() && operation.contains("op") &&
          operation["op"] == "copy" && operation.contains("from")) {
        const Json::json_pointer from(operation["from"].get<std::string>());
        copied_bytes += patched.at(from).dump().size();
        if (copied_bytes > kMaxJsonPatchCopyBytes) return JsonPatchFailure();
      }
      patched.patch_inplace(Json::array({operation}));
    }
  } catch (const Json::exception&) {
    return JsonPatchFailure();
  }
  return patched;
}

// Applies a JSON merge patch or JSON patch (RFC 7386, RFC 6902).
base::StatusOr<Json> ApplyJsonPatch(const std::string& type,
                                    const Json& current, const Json& patch) {
  if (type == "application/merge-patch+json") {
    Json patched = current;
    patched.merge_patch(patch);
    return patched;
  }
  return ApplyJsonPatchOperations(current, patch);
}

std::string JoinErrors(const std::vector<std::string>& errors) {
  std::string joined;
  for (const std::string& error : errors) {
    joined += (joined.empty() ? "" : ", ") + error;
  }
  return joined;
}

// Parses the limit parameter of a list.
base::StatusOr<int64_t> ParseLimit(const Query& query) {
  auto it = query.find("limit");
  if (it == query.end() || it->second.empty()) return 0;
  int64_t limit = 0;
  const char* end = it->second.data() + it->second.size();
  auto [parsed_end, error] = std::from_chars(it->second.data(), end, limit);
  if (error != std::errc() || parsed_end != end) {
    return base::InvalidArgumentError(
        "limit: Invalid value: " + GoQuote(it->second) +
            ": must be a non-negative integer",
        "BadRequest");
  }
  return std::max<int64_t>(limit, 0);
}

constexpr char kAnonymousUser[] = "system:anonymous";

ApiResponse Unauthorized() {
  return JsonResponse(401, {{"kind", "Status"},
                            {"apiVersion", "v1"},
                            {"metadata", Json::object()},
                            {"status", "Failure"},
                            {"message", "Unauthorized"},
                            {"reason", "Unauthorized"},
                            {"code", 401}});
}

ApiResponse Forbidden(const std::string& message, const Json& details) {
  Json body = {
      {"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", Json::object()},
      {"status", "Failure"}, {"message", message}, {"reason", "Forbidden"},
      {"code", 403}};
  if (!details.empty()) body["details"] = details;
  return JsonResponse(403, body);
}

// RBAC's 403 for a path outside the API, such as /api or /openapi/v2.
ApiResponse ForbiddenPath(const std::string& method, const std::string& path) {
  return Forbidden("forbidden: User \"" + std::string(kAnonymousUser) +
                       "\" cannot " + Lower(method) + " path \"" + path + "\"",
                   Json::object());
}

// RBAC's 403 for a resource request, worded as upstream's authorizer
// reports a denied verb on a resource.
ApiResponse ForbiddenResource(const std::string& method,
                              const ApiHandler::Route& route) {
  const bool watch = route.query.contains("watch") &&
                     QueryValue(route.query, "watch") != "false" &&
                     QueryValue(route.query, "watch") != "0";
  std::string verb = Lower(method);
  if (method == "GET")
    verb = watch ? "watch" : route.name.empty() ? "list" : "get";
  if (method == "POST") verb = "create";
  if (method == "PUT") verb = "update";
  if (method == "DELETE" && route.name.empty()) verb = "deletecollection";

  const std::string& resource = route.resource->name;
  // Upstream takes a namespace's own name as the namespace of a request
  // on it.
  const std::string ns = route.resource->namespaced ? route.ns : route.name;
  Json details = {{"kind", resource}};
  std::string message = resource;
  if (!route.name.empty()) {
    details["name"] = route.name;
    message += " " + GoQuote(route.name);
  }
  message += " is forbidden: User \"" + std::string(kAnonymousUser) +
             "\" cannot " + verb + " resource " + GoQuote(resource) +
             " in API group \"\" " +
             (ns.empty() ? std::string("at the cluster scope")
                         : "in the namespace " + GoQuote(ns));
  return Forbidden(message, details);
}

// Compares without an early exit, so the time taken does not tell how much
// of a guessed token was right.
bool TokensEqual(const std::string& a, const std::string& b) {
  return a.size() == b.size() &&
         CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

std::string QueryValue(const Query& query, const std::string& key) {
  auto it = query.find(key);
  return it == query.end() ? "" : it->second;
}

std::string Lower(std::string text) {
  for (char& c : text) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return text;
}

std::vector<std::string> QueryValues(const ApiRequest& request,
                                     std::string_view name) {
  std::vector<std::string> values;
  const size_t question = request.target.find('?');
  if (question == std::string::npos) return values;
  ForEachQueryParameter(std::string_view(request.target).substr(question + 1),
                        [&values, name](std::string key, std::string value) {
                          if (key == name) values.push_back(std::move(value));
                        });
  return values;
}

std::optional<ApiResponse> ApiHandler::Authenticate(const ApiRequest& request,
                                                    bool& anonymous) const {
  anonymous = false;
  if (options_.bearer_tokens.empty()) return std::nullopt;
  auto header = request.headers.find("authorization");
  std::string_view value =
      header == request.headers.end() ? "" : std::string_view(header->second);
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  const size_t space = value.find(' ');
  // As upstream's bearer token authenticator: another scheme, or none,
  // leaves the request to the anonymous authenticator.
  if (space == std::string_view::npos ||
      Lower(std::string(value.substr(0, space))) != "bearer") {
    anonymous = true;
    return std::nullopt;
  }
  // The token ends at the next space, so "Bearer  x" has an empty one.
  std::string_view token = value.substr(space + 1);
  token = token.substr(0, token.find(' '));
  bool known = false;
  for (const auto& [candidate, user] : options_.bearer_tokens) {
    known = TokensEqual(candidate, std::string(token)) || known;
  }
  if (known) return std::nullopt;
  return Unauthorized();
}

const std::vector<const Resource*>& ServedResources() {
  static const std::vector<const Resource*> resources = {
      &ConfigMapsResource(), &NamespacesResource(), &SecretsResource()};
  return resources;
}

ApiResponse JsonResponse(int status, const Json& body) {
  ApiResponse response;
  response.status = status;
  response.body = body.dump(-1, ' ', false, Json::error_handler_t::replace);
  return response;
}

ApiResponse TextResponse(int status, std::string body) {
  ApiResponse response;
  response.status = status;
  response.content_type = "text/plain; charset=utf-8";
  response.body = std::move(body);
  return response;
}

Json FailureStatus(const base::Status& status, const Resource* resource,
                   const std::string& name) {
  const std::string reason = ReasonOf(status);
  const int code = HttpCode(reason);
  Json details = Json::object();
  std::string message = status.message();
  const std::optional<std::string> causes =
      status.GetPayload(kStatusCausesPayload);
  const std::optional<std::string> given_details =
      status.GetPayload(kStatusDetailsPayload);
  if (given_details.has_value()) {
    details = Json::parse(*given_details, nullptr, false);
  } else if (causes.has_value()) {
    // An apply conflict names its fields and no object, as upstream's
    // NewApplyConflict.
    details["causes"] = Json::parse(*causes, nullptr, false);
  } else if (reason == "InternalError") {
    details["causes"] = Json::array({{{"message", message}}});
    message = "Internal error occurred: " + message;
  } else if (reason == "Timeout" &&
             message.starts_with("Too large resource version")) {
    details["causes"] =
        Json::array({{{"reason", "ResourceVersionTooLarge"},
                      {"message", "Too large resource version"}}});
    details["retryAfterSeconds"] = 1;
  } else if (resource != nullptr && !name.empty() &&
             (reason == "NotFound" || reason == "AlreadyExists" ||
              reason == "Conflict" || reason == "Invalid" ||
              reason == "Forbidden")) {
    details["name"] = name;
    details["kind"] = reason == "Invalid" ? resource->kind : resource->name;
  }
  Json body = {
      {"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", Json::object()},
      {"status", "Failure"}, {"message", message}, {"reason", reason},
      {"code", code}};
  // Upstream's StatusReasonUnknown is empty, which the Status leaves out.
  if (reason == "Unknown") body.erase("reason");
  // Given details go out even when empty, as upstream's "details": {}.
  if (!details.empty() || given_details.has_value()) {
    body["details"] = details;
  }
  return body;
}

ApiResponse FailureResponse(const base::Status& status,
                            const Resource* resource, const std::string& name) {
  Json body = FailureStatus(status, resource, name);
  const int code = body["code"].get<int>();
  return JsonResponse(code, body);
}

ApiHandler::ApiHandler(Registry& registry, base::Clock& clock,
                       ApiHandlerOptions options)
    : registry_(registry), clock_(clock), options_(std::move(options)) {}

ApiResponse ApiHandler::Handle(const ApiRequest& request) {
  const base::Time started = clock_.Now();
  Route route;
  route.verb = request.method;
  std::optional<ApiResponse> rejected = Authenticate(request, route.anonymous);
  ApiResponse response =
      rejected ? std::move(*rejected) : Dispatch(request, route);
  const double seconds =
      std::chrono::duration<double>(clock_.Now() - started).count();
  request_metrics_.Record(route.verb,
                          route.resource ? route.resource->name : "",
                          route.scope, response.status, seconds);
  return response;
}

bool ApiHandler::IsDryRun(const ApiRequest& request) {
  const size_t question = request.target.find('?');
  const Query query = ParseQuery(
      question == std::string::npos ? "" : request.target.substr(question + 1));
  if (request.method == "DELETE") {
    base::StatusOr<DeleteOptions> options = ParseDeleteOptions(request, query);
    return options.ok() && options->dry_run;
  }
  auto dry_run = query.find("dryRun");
  if (dry_run == query.end()) return false;
  std::vector<FieldError> errors;
  return ParseDryRun({dry_run->second}, errors) && errors.empty();
}

ApiResponse ApiHandler::Dispatch(const ApiRequest& request, Route& route) {
  const size_t question = request.target.find('?');
  const std::string path = request.target.substr(0, question);
  const Query query = ParseQuery(
      question == std::string::npos ? "" : request.target.substr(question + 1));
  const std::vector<std::string> segments = SplitPath(path);

  if (path == "/healthz" || path == "/livez" || path == "/readyz" ||
      path.starts_with("/healthz/") || path.starts_with("/livez/") ||
      path.starts_with("/readyz/")) {
    return HandleHealth(path, query);
  }
  const bool resource_path =
      segments.size() >= 3 && segments[0] == "api" && segments[1] == "v1";
  if (!resource_path) {
    if (route.anonymous && path != "/version" && path != "/version/") {
      return ForbiddenPath(request.method, path);
    }
    if (request.method != "GET") return MethodNotAllowed();
    return HandleNonResource(request, path, query);
  }

  // /api/v1/{resource}[/{name}] or /api/v1/namespaces/{ns}/{resource}[/..].
  route.query = query;
  if (segments[2] == "namespaces" && segments.size() >= 5) {
    route.ns = segments[3];
    route.resource = FindResource(segments[4]);
    if (segments.size() == 6) route.name = segments[5];
    if (segments.size() > 6 || route.resource == nullptr ||
        !route.resource->namespaced) {
      route.resource = nullptr;
      return NotFoundPath();
    }
  } else {
    route.resource = FindResource(segments[2]);
    if (segments.size() == 4) route.name = segments[3];
    if (segments.size() > 4 || route.resource == nullptr) {
      route.resource = nullptr;
      return NotFoundPath();
    }
    // A namespaced resource without a namespace can only be listed.
    if (route.resource->namespaced && !route.name.empty()) {
      route.resource = nullptr;
      return NotFoundPath();
    }
  }
  route.scope = !route.name.empty() ? "resource"
                : !route.ns.empty() ? "namespace"
                                    : "cluster";
  if (route.anonymous) return ForbiddenResource(request.method, route);
  return HandleResource(request, route);
}

ApiResponse ApiHandler::HandleResource(const ApiRequest& request,
                                       Route& route) {
  const Resource& resource = *route.resource;
  if (route.name.empty()) {
    if (request.method == "POST") return Create(request, route);
    if (request.method != "GET" && request.method != "DELETE") {
      return MethodNotAllowed();
    }
    base::StatusOr<Selector> selector = ParseSelector(route.query, resource);
    if (!selector.ok()) return FailureResponse(selector.status());
    if (request.method == "DELETE") {
      // Upstream serves no deletecollection of namespaces.
      if (!resource.namespaced) return MethodNotAllowed();
      route.verb = "DELETECOLLECTION";
      return DeleteCollection(request, route, *selector);
    }
    const std::string watch = QueryValue(route.query, "watch");
    if (route.query.contains("watch") && watch != "false" && watch != "0") {
      route.verb = "WATCH";
      return Watch(request, route, *selector);
    }
    route.verb = "LIST";
    return List(request, route, *selector);
  }

  if (request.method == "GET") {
    base::StatusOr<Json> object = registry_.Get(resource, route.ns, route.name);
    if (!object.ok()) {
      return FailureResponse(object.status(), &resource, route.name);
    }
    if (WantsTable(request)) {
      return JsonResponse(200, Table(resource, {*object}, "", clock_.Now()));
    }
    return JsonResponse(200, *object);
  }
  if (request.method == "PUT") return Replace(request, route);
  if (request.method == "PATCH") return Patch(request, route);
  if (request.method == "DELETE") {
    // NOTE: propagationPolicy and gracePeriodSeconds are validated and then
    // ignored: every delete is immediate and nothing has dependents.
    base::StatusOr<DeleteOptions> options =
        ParseDeleteOptions(request, route.query);
    if (!options.ok()) return FailureResponse(options.status());
    base::StatusOr<Json> deleted =
        registry_.Delete(resource, route.ns, route.name, *options);
    if (!deleted.ok()) {
      return FailureResponse(deleted.status(), &resource, route.name);
    }
    return JsonResponse(200,
                        {{"kind", "Status"},
                         {"apiVersion", "v1"},
                         {"metadata", Json::object()},
                         {"status", "Success"},
                         {"details",
                          {{"name", route.name},
                           {"kind", resource.name},
                           {"uid", (*deleted)["metadata"].value("uid", "")}}}});
  }
  return MethodNotAllowed();
}

ApiResponse ApiHandler::List(const ApiRequest& request, const Route& route,
                             const Selector& selector) {
  const Resource& resource = *route.resource;
  base::StatusOr<int64_t> limit = ParseLimit(route.query);
  if (!limit.ok()) return FailureResponse(limit.status());
  ListOptions options;
  options.limit = *limit;
  options.continue_token = QueryValue(route.query, "continue");
  options.resource_version = QueryValue(route.query, "resourceVersion");
  options.resource_version_match =
      QueryValue(route.query, "resourceVersionMatch");
  if (!selector.empty()) {
    options.filter = [selector](const Json& item) {
      return selector.Matches(item);
    };
  }

  base::StatusOr<Json> list = registry_.List(resource, route.ns, options);
  if (!list.ok()) {
    Json status = FailureStatus(list.status(), &resource);
    // An expired continue token comes back with one that continues at the
    // latest revision, as upstream's handleCompactedErrorForPaging does.
    if (list.status().reason() == "Expired" &&
        !options.continue_token.empty()) {
      base::StatusOr<ContinueToken> token =
          DecodeContinueToken(options.continue_token);
      if (token.ok()) {
        status["metadata"]["continue"] =
            EncodeContinueToken(token->start_key, -1);
      }
    }
    return JsonResponse(status["code"].get<int>(), status);
  }
  if (!WantsTable(request)) return JsonResponse(200, *list);
  std::vector<Json> items((*list)["items"].begin(), (*list)["items"].end());
  Json table =
      Table(resource, items, (*list)["metadata"].value("resourceVersion", ""),
            clock_.Now());
  for (const char* field : {"continue", "remainingItemCount"}) {
    if ((*list)["metadata"].contains(field)) {
      table["metadata"][field] = (*list)["metadata"][field];
    }
  }
  return JsonResponse(200, table);
}

ApiResponse ApiHandler::Create(const ApiRequest& request, const Route& route) {
  const Resource& resource = *route.resource;
  base::StatusOr<WriteParameters> parameters =
      ParseWriteParameters(request, route.query, WriteVerb::kCreate,
                           options_.server_side_field_validation);
  if (!parameters.ok()) return FailureResponse(parameters.status());
  base::StatusOr<DecodedBody> body =
      DecodeObjectBody(request, resource, parameters->validation);
  if (!body.ok()) return FailureResponse(body.status());
  const std::string name = NameOf(body->object);
  base::StatusOr<Json> created =
      registry_.Create(resource, route.ns, std::move(body->object),
                       {parameters->field_manager, parameters->dry_run});
  if (!created.ok()) {
    return FailureResponse(created.status(), &resource, name);
  }
  ApiResponse response = JsonResponse(201, *created);
  AddWarnings(body->warnings, response);
  return response;
}

ApiResponse ApiHandler::Replace(const ApiRequest& request, const Route& route) {
  const Resource& resource = *route.resource;
  base::StatusOr<WriteParameters> parameters =
      ParseWriteParameters(request, route.query, WriteVerb::kUpdate,
                           options_.server_side_field_validation);
  if (!parameters.ok()) return FailureResponse(parameters.status());
  base::StatusOr<DecodedBody> body =
      DecodeObjectBody(request, resource, parameters->validation);
  if (!body.ok()) return FailureResponse(body.status());
  if (NameOf(body->object) != route.name) {
    return FailureResponse(base::InvalidArgumentError(
        "the name of the object (" + NameOf(body->object) +
            ") does not match the name on the URL (" + route.name + ")",
        "BadRequest"));
  }
  base::StatusOr<UpdateResult> updated =
      registry_.Update(resource, route.ns, std::move(body->object),
                       {parameters->field_manager, parameters->dry_run});
  if (!updated.ok()) {
    return FailureResponse(updated.status(), &resource, route.name);
  }
  ApiResponse response = JsonResponse(200, updated->object);
  AddWarnings(body->warnings, response);
  return response;
}

ApiResponse ApiHandler::Patch(const ApiRequest& request, const Route& route) {
  const Resource& resource = *route.resource;
  const std::string type = MediaType(request);
  if (type == "application/apply-patch+yaml") return Apply(request, route);
  const bool strategic = type == "application/strategic-merge-patch+json";
  if (!strategic && type != "application/merge-patch+json" &&
      type != "application/json-patch+json") {
    return FailureResponse(base::InvalidArgumentError(
        "the body of the request was in an unknown format - accepted media "
        "types include: application/json-patch+json, "
        "application/merge-patch+json, "
        "application/strategic-merge-patch+json, application/apply-patch+yaml",
        "UnsupportedMediaType"));
  }
  base::StatusOr<WriteParameters> parameters =
      ParseWriteParameters(request, route.query, WriteVerb::kPatch,
                           options_.server_side_field_validation);
  if (!parameters.ok()) return FailureResponse(parameters.status());
  const FieldValidation validation = parameters->validation;
  base::StatusOr<ParsedJson> patch = ParseJsonText(request.body);
  if (!patch.ok()) return FailureResponse(patch.status());
  if (type == "application/json-patch+json") {
    base::Status shape = CheckJsonPatchShape(patch->value, validation);
    if (!shape.ok()) return FailureResponse(shape);
  }
  // A patch that sets a resourceVersion is a precondition, so its conflict
  // goes back to the client instead of being retried.
  const bool precondition = patch->value.is_object() &&
                            !patch->value.value("metadata", Json::object())
                                 .value("resourceVersion", "")
                                 .empty();

  for (int attempt = 1;; ++attempt) {
    base::StatusOr<Json> current =
        registry_.Get(resource, route.ns, route.name);
    if (!current.ok()) {
      return FailureResponse(current.status(), &resource, route.name);
    }
    base::StatusOr<Json> patched =
        strategic ? StrategicMergePatch(*current, patch->value, resource.kind)
                  : ApplyJsonPatch(type, *current, patch->value);
    if (!patched.ok()) {
      return FailureResponse(patched.status(), &resource, route.name);
    }

    std::vector<std::string> field_errors;
    for (const std::string& field : UnknownFields(resource.kind, *patched)) {
      field_errors.push_back("unknown field " + GoQuote(field));
    }
    for (const std::string& field : patch->duplicate_fields) {
      field_errors.push_back("duplicate field " + GoQuote(field));
    }
    if (!field_errors.empty() && validation == FieldValidation::kStrict) {
      const std::string cause =
          "strict decoding error: " + JoinErrors(field_errors);
      if (strategic) {
        return FailureResponse(base::InvalidArgumentError(
            " \"\" is invalid: patch: Invalid value: " +
                GoQuote(GoFormat(patch->value)) + ": " + cause,
            "Invalid"));
      }
      return FailureResponse(base::InvalidArgumentError(cause, "BadRequest"));
    }
    PruneUnknownFields(resource.kind, *patched);
    if (NameOf(*patched) != route.name) {
      return FailureResponse(base::InvalidArgumentError(
          "the name of the object (" + NameOf(*patched) +
              ") does not match the name on the URL (" + route.name + ")",
          "BadRequest"));
    }

    base::StatusOr<UpdateResult> updated =
        registry_.Update(resource, route.ns, std::move(*patched),
                         {parameters->field_manager, parameters->dry_run});
    if (updated.ok()) {
      ApiResponse response = JsonResponse(200, updated->object);
      if (validation == FieldValidation::kWarn) {
        AddWarnings(field_errors, response);
      }
      return response;
    }
    // A write between the read and the update conflicts on the
    // resourceVersion that the read returned; read again and retry.
    if (updated.status().reason() != "Conflict" || precondition ||
        attempt == kPatchAttempts) {
      return FailureResponse(updated.status(), &resource, route.name);
    }
  }
}

ApiResponse ApiHandler::DeleteCollection(const ApiRequest& request,
                                         const Route& route,
                                         const Selector& selector) {
  const Resource& resource = *route.resource;
  base::StatusOr<DeleteOptions> options =
      ParseDeleteOptions(request, route.query);
  if (!options.ok()) return FailureResponse(options.status());
  std::function<bool(const Json&)> filter;
  if (!selector.empty()) {
    filter = [selector](const Json& item) { return selector.Matches(item); };
  }
  base::StatusOr<Json> deleted =
      registry_.DeleteCollection(resource, route.ns, filter, *options);
  if (!deleted.ok()) return FailureResponse(deleted.status(), &resource);
  return JsonResponse(200, *deleted);
}

}  // namespace apiserver
