// ApiHandler: routing of the Kubernetes REST paths onto the Registry, and
// the JSON of discovery, Tables, Status errors and health checks.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <optional>
#include <utility>
#include <vector>

#include "apiserver/http_server.h"
#include "apiserver/protobuf_codec.h"
#include "apiserver/validation.h"
#include "base/crypto.h"

namespace apiserver {
namespace {

using Query = std::map<std::string, std::string>;

// Patches of one object retry this often when a concurrent write
// conflicts, as upstream's patcher retries.
constexpr int kPatchAttempts = 5;

const std::vector<const Resource*>& ServedResources() {
  static const std::vector<const Resource*> resources = {
      &ConfigMapsResource(), &NamespacesResource(), &SecretsResource()};
  return resources;
}

const Resource* FindResource(const std::string& name) {
  for (const Resource* resource : ServedResources()) {
    if (resource->name == name) return resource;
  }
  return nullptr;
}

std::string SingularName(const Resource& resource) {
  return resource.name.substr(0, resource.name.size() - 1);
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

Query ParseQuery(std::string_view text) {
  Query query;
  while (!text.empty()) {
    const size_t end = std::min(text.find('&'), text.size());
    std::string_view pair = text.substr(0, end);
    const size_t equals = pair.find('=');
    if (!pair.empty()) {
      query[PercentDecode(pair.substr(0, equals))] =
          equals == std::string_view::npos
              ? ""
              : PercentDecode(pair.substr(equals + 1));
    }
    text.remove_prefix(std::min(end + 1, text.size()));
  }
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

// Builds the v1 Status of a failed request. `kind` and `name` fill
// details as upstream's errors do for the reasons that name an object.
ApiResponse FailureResponse(const base::Status& status,
                            const Resource* resource = nullptr,
                            const std::string& name = "") {
  const std::string reason = ReasonOf(status);
  const int code = HttpCode(reason);
  Json details = Json::object();
  std::string message = status.message();
  if (reason == "InternalError") {
    details["causes"] = Json::array({{{"message", message}}});
    message = "Internal error occurred: " + message;
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
  if (!details.empty()) body["details"] = details;
  return JsonResponse(code, body);
}

Json Body(const ApiResponse& response) {
  return Json::parse(response.body, nullptr, false);
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

// "32" for "v1.32.0".
std::string MinorVersion(const std::string& git_version) {
  const size_t first = git_version.find('.');
  if (first == std::string::npos) return "";
  const size_t second = git_version.find('.', first + 1);
  return git_version.substr(first + 1, second - first - 1);
}

// Formats an age as kubectl's duration.HumanDuration does: "45s", "3m20s",
// "5h", "12d".
std::string HumanDuration(base::Duration age) {
  using std::chrono::duration_cast;
  const int64_t seconds = duration_cast<std::chrono::seconds>(age).count();
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 120) return std::to_string(seconds) + "s";
  const int64_t minutes = seconds / 60;
  if (minutes < 10) {
    return std::to_string(minutes) + "m" +
           (seconds % 60 == 0 ? "" : std::to_string(seconds % 60) + "s");
  }
  if (minutes < 180) return std::to_string(minutes) + "m";
  const int64_t hours = minutes / 60;
  if (hours < 8) {
    return std::to_string(hours) + "h" +
           (minutes % 60 == 0 ? "" : std::to_string(minutes % 60) + "m");
  }
  if (hours < 48) return std::to_string(hours) + "h";
  if (hours < 24 * 8) {
    return std::to_string(hours / 24) + "d" +
           (hours % 24 == 0 ? "" : std::to_string(hours % 24) + "h");
  }
  if (hours < 24 * 365 * 2) return std::to_string(hours / 24) + "d";
  const int64_t years = hours / 24 / 365;
  const int64_t days = hours / 24 % 365;
  if (hours < 24 * 365 * 8) {
    return std::to_string(years) + "y" +
           (days == 0 ? "" : std::to_string(days) + "d");
  }
  return std::to_string(years) + "y";
}

bool WantsTable(const ApiRequest& request) {
  auto it = request.headers.find("accept");
  return it != request.headers.end() &&
         it->second.find("as=Table") != std::string::npos;
}

Json Column(const std::string& name, const std::string& type,
            const std::string& format, const std::string& description) {
  return {{"name", name},
          {"type", type},
          {"format", format},
          {"description", description},
          {"priority", 0}};
}

Json TableColumns(const Resource& resource) {
  Json columns = Json::array();
  columns.push_back(Column("Name", "string", "name",
                           "Name must be unique within a namespace."));
  if (resource.kind == "Secret") {
    columns.push_back(Column("Type", "string", "",
                             "Used to facilitate "
                             "programmatic handling of secret data."));
  }
  if (resource.kind == "Namespace") {
    columns.push_back(
        Column("Status", "string", "", "The status of the namespace"));
  } else {
    columns.push_back(
        Column("Data", "integer", "", "Number of keys in the object's data."));
  }
  columns.push_back(Column("Age", "string", "",
                           "CreationTimestamp is a timestamp representing "
                           "the server time when this object was created."));
  return columns;
}

// One row of `kubectl get`, with the object's metadata for -A and labels.
Json TableRow(const Resource& resource, const Json& object, base::Time now) {
  const Json& metadata = object["metadata"];
  Json cells = Json::array({metadata.value("name", "")});
  if (resource.kind == "Secret") cells.push_back(object.value("type", ""));
  if (resource.kind == "Namespace") {
    cells.push_back(object.value("status", Json::object()).value("phase", ""));
  } else {
    size_t count = object.value("data", Json::object()).size();
    count += object.value("binaryData", Json::object()).size();
    cells.push_back(count);
  }
  std::optional<base::Time> created =
      base::ParseRfc3339(metadata.value("creationTimestamp", ""));
  cells.push_back(created.has_value() ? HumanDuration(now - *created)
                                      : "<unknown>");
  return {{"cells", cells},
          {"object",
           {{"kind", "PartialObjectMetadata"},
            {"apiVersion", "meta.k8s.io/v1"},
            {"metadata", metadata}}}};
}

Json Table(const Resource& resource, const std::vector<Json>& objects,
           const std::string& resource_version, base::Time now) {
  Json rows = Json::array();
  for (const Json& object : objects) {
    rows.push_back(TableRow(resource, object, now));
  }
  Json metadata = Json::object();
  if (!resource_version.empty()) {
    metadata["resourceVersion"] = resource_version;
  }
  return {{"kind", "Table"},
          {"apiVersion", "meta.k8s.io/v1"},
          {"metadata", metadata},
          {"columnDefinitions", TableColumns(resource)},
          {"rows", rows}};
}

Json ApiResourceList() {
  Json resources = Json::array();
  for (const Resource* resource : ServedResources()) {
    Json entry = {
        {"name", resource->name},
        {"singularName", SingularName(*resource)},
        {"namespaced", resource->namespaced},
        {"kind", resource->kind},
        {"verbs", {"create", "delete", "get", "list", "patch", "update"}}};
    if (resource->kind == "ConfigMap") entry["shortNames"] = {"cm"};
    if (resource->kind == "Namespace") entry["shortNames"] = {"ns"};
    resources.push_back(entry);
  }
  return {{"kind", "APIResourceList"},
          {"apiVersion", "v1"},
          {"groupVersion", "v1"},
          {"resources", resources}};
}

// The OpenAPI v3 document of /api/v1, reduced to what kubectl reads: each
// PATCH operation with its group-version-kind and the fieldValidation
// parameter, which tells kubectl to leave validation to the server instead
// of downloading schemas.
// NOTE: components.schemas is empty, so clients that need the object
// schemas (kubectl explain, client-side validation) get no types.
Json OpenApiV3CoreV1(const std::string& git_version) {
  Json paths = Json::object();
  const Json parameters = Json::array(
      {{{"name", "dryRun"}, {"in", "query"}, {"schema", {{"type", "string"}}}},
       {{"name", "fieldManager"},
        {"in", "query"},
        {"schema", {{"type", "string"}}}},
       {{"name", "fieldValidation"},
        {"in", "query"},
        {"schema", {{"type", "string"}}}},
       {{"name", "force"},
        {"in", "query"},
        {"schema", {{"type", "boolean"}}}}});
  for (const Resource* resource : ServedResources()) {
    const std::string path =
        resource->namespaced
            ? "/api/v1/namespaces/{namespace}/" + resource->name + "/{name}"
            : "/api/v1/" + resource->name + "/{name}";
    paths[path]["patch"] = {
        {"operationId",
         "patchCoreV1" + std::string(resource->namespaced ? "Namespaced" : "") +
             resource->kind},
        {"parameters", parameters},
        {"responses", {{"200", {{"description", "OK"}}}}},
        {"x-kubernetes-action", "patch"},
        {"x-kubernetes-group-version-kind",
         {{"group", ""}, {"version", "v1"}, {"kind", resource->kind}}}};
  }
  return {{"openapi", "3.0.0"},
          {"info", {{"title", "Kubernetes"}, {"version", git_version}}},
          {"paths", paths},
          {"components", {{"schemas", Json::object()}}}};
}

// The OpenAPI v2 document with no paths or definitions. kubectl validates a
// v1 List against it on the client, and skips types that have no schema.
// It asks for the protobuf form of gnostic's openapi_v2.Document, whose
// field 1 is swagger and field 2 is info (title 1, version 2).
ApiResponse OpenApiV2(const ApiRequest& request,
                      const std::string& git_version) {
  auto accept = request.headers.find("accept");
  if (accept == request.headers.end() ||
      accept->second.find("protobuf") == std::string::npos) {
    return JsonResponse(
        200, {{"swagger", "2.0"},
              {"info", {{"title", "Kubernetes"}, {"version", git_version}}},
              {"paths", Json::object()},
              {"definitions", Json::object()}});
  }
  auto field = [](char tag, const std::string& bytes) {
    // Tag, one-byte length and payload; every payload here is short.
    return std::string(1, tag) + static_cast<char>(bytes.size()) + bytes;
  };
  const std::string info =
      field('\x0a', "Kubernetes") + field('\x12', git_version);
  ApiResponse response;
  response.content_type =
      "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";
  response.body = field('\x0a', "2.0") + field('\x12', info);
  return response;
}

// One requirement of an equality-based label selector: "k=v", "k==v",
// "k!=v", "k" (exists) or "!k" (does not exist).
struct LabelRequirement {
  std::string key;
  enum class Op { kEquals, kNotEquals, kExists, kNotExists } op;
  std::string value;
};

base::StatusOr<std::vector<LabelRequirement>> ParseLabelSelector(
    const std::string& selector) {
  std::vector<LabelRequirement> requirements;
  size_t start = 0;
  while (start <= selector.size() && !selector.empty()) {
    const size_t end = std::min(selector.find(',', start), selector.size());
    std::string part = selector.substr(start, end - start);
    std::erase_if(part, [](char c) { return c == ' '; });
    LabelRequirement requirement;
    const size_t not_equals = part.find("!=");
    const size_t equals = part.find('=');
    if (part.find('(') != std::string::npos || part.empty()) {
      // NOTE: set-based requirements ("k in (a,b)") are not supported.
      return base::InvalidArgumentError(
          "unable to parse requirement: " + GoQuote(part), "BadRequest");
    }
    if (not_equals != std::string::npos) {
      requirement = {part.substr(0, not_equals),
                     LabelRequirement::Op::kNotEquals,
                     part.substr(not_equals + 2)};
    } else if (equals != std::string::npos) {
      const size_t value_start =
          part.compare(equals, 2, "==") == 0 ? equals + 2 : equals + 1;
      requirement = {part.substr(0, equals), LabelRequirement::Op::kEquals,
                     part.substr(value_start)};
    } else if (part.starts_with("!")) {
      requirement = {part.substr(1), LabelRequirement::Op::kNotExists, ""};
    } else {
      requirement = {part, LabelRequirement::Op::kExists, ""};
    }
    requirements.push_back(std::move(requirement));
    start = end + 1;
  }
  return requirements;
}

bool MatchesLabels(const Json& object,
                   const std::vector<LabelRequirement>& requirements) {
  const Json labels = object["metadata"].value("labels", Json::object());
  for (const LabelRequirement& requirement : requirements) {
    auto it = labels.find(requirement.key);
    const bool exists = it != labels.end() && it->is_string();
    const std::string value = exists ? it->get<std::string>() : "";
    switch (requirement.op) {
      case LabelRequirement::Op::kEquals:
        if (!exists || value != requirement.value) return false;
        break;
      case LabelRequirement::Op::kNotEquals:
        if (exists && value == requirement.value) return false;
        break;
      case LabelRequirement::Op::kExists:
        if (!exists) return false;
        break;
      case LabelRequirement::Op::kNotExists:
        if (exists) return false;
        break;
    }
  }
  return true;
}

}  // namespace

// The labelSelector and fieldSelector of a list or watch. Field selectors
// support metadata.name and metadata.namespace with = or ==, as kubectl
// sends for `kubectl get secret x --watch`.
struct ApiHandler::Selector {
  std::vector<LabelRequirement> labels;
  std::map<std::string, std::string> fields;

  bool Matches(const Json& object) const {
    if (!MatchesLabels(object, labels)) return false;
    for (const auto& [field, value] : fields) {
      const std::string name = field.substr(std::string("metadata.").size());
      if (object["metadata"].value(name, "") != value) return false;
    }
    return true;
  }
};

namespace {

base::StatusOr<ApiHandler::Selector> ParseSelector(const Query& query) {
  ApiHandler::Selector selector;
  auto labels = query.find("labelSelector");
  if (labels != query.end()) {
    ASSIGN_OR_RETURN(selector.labels, ParseLabelSelector(labels->second));
  }
  auto fields = query.find("fieldSelector");
  if (fields == query.end()) return selector;
  ASSIGN_OR_RETURN(std::vector<LabelRequirement> requirements,
                   ParseLabelSelector(fields->second));
  for (const LabelRequirement& requirement : requirements) {
    if (requirement.op != LabelRequirement::Op::kEquals ||
        (requirement.key != "metadata.name" &&
         requirement.key != "metadata.namespace")) {
      return base::InvalidArgumentError(
          "field label not supported: " + requirement.key, "BadRequest");
    }
    selector.fields[requirement.key] = requirement.value;
  }
  return selector;
}

// Applies a PATCH body of the given media type to `current`.
base::StatusOr<Json> ApplyPatch(const std::string& content_type,
                                const Json& current, const Json& patch) {
  const std::string type = content_type.substr(0, content_type.find(';'));
  if (type == "application/merge-patch+json" ||
      type == "application/strategic-merge-patch+json") {
    // NOTE: a strategic merge patch is applied as a JSON merge patch. For
    // Secrets, ConfigMaps and Namespaces the two differ only in $patch
    // directives and in how lists such as spec.finalizers merge.
    Json patched = current;
    patched.merge_patch(patch);
    return patched;
  }
  if (type == "application/json-patch+json") {
    try {
      return current.patch(patch);
    } catch (const Json::exception& error) {
      return base::Status(base::Code::kInvalidArgument, error.what(),
                          "Invalid");
    }
  }
  return base::Status(
      base::Code::kInvalidArgument,
      "the body of the request was in an unknown format - accepted media "
      "types include: application/json-patch+json, "
      "application/merge-patch+json, application/strategic-merge-patch+json",
      "UnsupportedMediaType");
}

// Decodes a POST or PUT body in JSON or Kubernetes protobuf, by its
// Content-Type.
base::StatusOr<Json> DecodeBody(const ApiRequest& request) {
  auto content_type = request.headers.find("content-type");
  if (content_type != request.headers.end() &&
      content_type->second.starts_with(kProtobufContentType)) {
    return DecodeKubernetesProtobuf(request.body);
  }
  Json body = Json::parse(request.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    return base::InvalidArgumentError("the request body is not a JSON object",
                                      "BadRequest");
  }
  return body;
}

}  // namespace

// A parsed /api/v1/... path: the resource, its namespace and the name.
struct ApiHandler::Route {
  const Resource* resource = nullptr;
  std::string ns;
  std::string name;
  std::map<std::string, std::string> query;
};

ApiHandler::ApiHandler(Registry& registry, base::Clock& clock,
                       ApiHandlerOptions options)
    : registry_(registry), clock_(clock), options_(std::move(options)) {}

ApiResponse ApiHandler::Handle(const ApiRequest& request) {
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
  if (request.method != "GET" &&
      (segments.size() < 2 || segments[0] != "api")) {
    return MethodNotAllowed();
  }
  if (path == "/version") {
    return JsonResponse(200, {{"major", "1"},
                              {"minor", MinorVersion(options_.git_version)},
                              {"gitVersion", options_.git_version},
                              {"gitCommit", "simulated"},
                              {"gitTreeState", "clean"},
                              {"buildDate", "2026-01-01T00:00:00Z"},
                              {"goVersion", "go1.22.0"},
                              {"compiler", "gc"},
                              {"platform", "linux/amd64"}});
  }
  if (segments == std::vector<std::string>{"api"}) {
    return JsonResponse(200, {{"kind", "APIVersions"},
                              {"versions", {"v1"}},
                              {"serverAddressByClientCIDRs", Json::array()}});
  }
  if (segments == std::vector<std::string>{"apis"}) {
    return JsonResponse(200, {{"kind", "APIGroupList"},
                              {"apiVersion", "v1"},
                              {"groups", Json::array()}});
  }
  if (segments == std::vector<std::string>{"api", "v1"}) {
    return JsonResponse(200, ApiResourceList());
  }
  if (segments == std::vector<std::string>{"openapi", "v2"}) {
    return OpenApiV2(request, options_.git_version);
  }
  if (segments == std::vector<std::string>{"openapi", "v3"}) {
    const std::string hash =
        base::Sha256Hex(OpenApiV3CoreV1(options_.git_version).dump());
    return JsonResponse(
        200,
        {{"paths",
          {{"api/v1",
            {{"serverRelativeURL", "/openapi/v3/api/v1?hash=" + hash}}}}}});
  }
  if (segments == std::vector<std::string>{"openapi", "v3", "api", "v1"}) {
    return JsonResponse(200, OpenApiV3CoreV1(options_.git_version));
  }
  if (segments.size() < 3 || segments[0] != "api" || segments[1] != "v1") {
    return NotFoundPath();
  }

  // /api/v1/{resource}[/{name}] or /api/v1/namespaces/{ns}/{resource}[/..].
  Route route;
  route.query = query;
  if (segments[2] == "namespaces" && segments.size() >= 5) {
    route.ns = segments[3];
    route.resource = FindResource(segments[4]);
    if (segments.size() == 6) route.name = segments[5];
    if (segments.size() > 6 || route.resource == nullptr ||
        !route.resource->namespaced) {
      return NotFoundPath();
    }
  } else {
    route.resource = FindResource(segments[2]);
    if (segments.size() == 4) route.name = segments[3];
    if (segments.size() > 4 || route.resource == nullptr) {
      return NotFoundPath();
    }
    // A namespaced resource without a namespace can only be listed.
    if (route.resource->namespaced && !route.name.empty()) {
      return NotFoundPath();
    }
  }
  return HandleResource(request, route);
}

ApiResponse ApiHandler::HandleResource(const ApiRequest& request,
                                       const Route& route) {
  const Resource& resource = *route.resource;
  const bool collection = route.name.empty();

  if (collection && request.method == "GET") {
    base::StatusOr<Selector> selector = ParseSelector(route.query);
    if (!selector.ok()) return FailureResponse(selector.status());
    if (route.query.contains("watch") && route.query.at("watch") != "false" &&
        route.query.at("watch") != "0") {
      return Watch(route, *selector);
    }
    base::StatusOr<Json> list = registry_.List(resource, route.ns);
    if (!list.ok()) return FailureResponse(list.status(), &resource);
    Json& all_items = (*list)["items"];
    all_items.erase(std::remove_if(all_items.begin(), all_items.end(),
                                   [&](const Json& item) {
                                     return !selector->Matches(item);
                                   }),
                    all_items.end());
    if (!WantsTable(request)) return JsonResponse(200, *list);
    std::vector<Json> items((*list)["items"].begin(), (*list)["items"].end());
    return JsonResponse(
        200,
        Table(resource, items, (*list)["metadata"].value("resourceVersion", ""),
              clock_.Now()));
  }
  if (collection && request.method == "POST") {
    base::StatusOr<Json> body = DecodeBody(request);
    if (!body.ok()) return FailureResponse(body.status());
    const std::string name = NameOf(*body);
    base::StatusOr<Json> created =
        registry_.Create(resource, route.ns, std::move(*body));
    if (!created.ok())
      return FailureResponse(created.status(), &resource, name);
    return JsonResponse(201, *created);
  }
  if (collection) return MethodNotAllowed();

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
  if (request.method == "PUT") {
    base::StatusOr<Json> body = DecodeBody(request);
    if (!body.ok()) return FailureResponse(body.status());
    if (NameOf(*body) != route.name) {
      return FailureResponse(base::InvalidArgumentError(
          "the name of the object (" + NameOf(*body) +
              ") does not match the name on the URL (" + route.name + ")",
          "BadRequest"));
    }
    base::StatusOr<UpdateResult> updated =
        registry_.Update(resource, route.ns, std::move(*body));
    if (!updated.ok()) {
      return FailureResponse(updated.status(), &resource, route.name);
    }
    return JsonResponse(200, updated->object);
  }
  if (request.method == "PATCH") return Patch(request, route);
  if (request.method == "DELETE") {
    base::StatusOr<Json> deleted =
        registry_.Delete(resource, route.ns, route.name);
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

// Streams watch events as upstream does: one JSON object per line,
// {"type":"ADDED","object":{...}}. An ERROR event ends the stream.
// NOTE: timeoutSeconds is ignored, so a watch lasts until the client
// disconnects or the server stops.
ApiResponse ApiHandler::Watch(const Route& route, const Selector& selector) {
  ApiResponse response;
  const std::string version = route.query.contains("resourceVersion")
                                  ? route.query.at("resourceVersion")
                                  : "";
  response.stream = [this, route, selector, version](StreamSink sink) {
    auto on_event = [sink, selector](const WatchEvent& event) {
      if (event.type != "ERROR" && !selector.Matches(event.object)) return;
      sink(Json{{"type", event.type}, {"object", event.object}}.dump(
               -1, ' ', false, Json::error_handler_t::replace) +
           "\n");
      if (event.type == "ERROR") sink(std::nullopt);
    };
    base::StatusOr<int64_t> watch =
        registry_.Watch(*route.resource, route.ns, version, on_event);
    if (!watch.ok()) {
      on_event({"ERROR", Body(FailureResponse(watch.status()))});
      return std::function<void()>([] {});
    }
    return std::function<void()>([this, id = *watch] {
      base::Status cancelled = registry_.CancelWatch(id);
      if (!cancelled.ok()) {
        spdlog::warn("apiserver: failed to cancel watch {}: {}", id,
                     cancelled.ToString());
      }
    });
  };
  return response;
}

ApiResponse ApiHandler::Patch(const ApiRequest& request, const Route& route) {
  const Resource& resource = *route.resource;
  Json patch = Json::parse(request.body, nullptr, false);
  if (patch.is_discarded()) {
    return FailureResponse(base::InvalidArgumentError(
        "the request body is not valid JSON", "BadRequest"));
  }
  auto content_type = request.headers.find("content-type");
  const std::string type =
      content_type == request.headers.end() ? "" : content_type->second;
  for (int attempt = 1;; ++attempt) {
    base::StatusOr<Json> current =
        registry_.Get(resource, route.ns, route.name);
    if (!current.ok()) {
      return FailureResponse(current.status(), &resource, route.name);
    }
    base::StatusOr<Json> patched = ApplyPatch(type, *current, patch);
    if (!patched.ok()) {
      return FailureResponse(patched.status(), &resource, route.name);
    }
    base::StatusOr<UpdateResult> updated =
        registry_.Update(resource, route.ns, std::move(*patched));
    if (updated.ok()) return JsonResponse(200, updated->object);
    // A write between the read and the update conflicts on the
    // resourceVersion that the read returned; read again and retry.
    if (updated.status().reason() != "Conflict" || attempt == kPatchAttempts) {
      return FailureResponse(updated.status(), &resource, route.name);
    }
  }
}

ApiResponse ApiHandler::HandleHealth(const std::string& path,
                                     const Query& query) {
  std::vector<std::pair<std::string, base::Status>> checks = {
      {"ping", base::OkStatus()},
      {"log", base::OkStatus()},
      {"etcd", base::OkStatus()}};
  // The KMS check belongs to /healthz and /readyz only: an unreachable KMS
  // must not make a liveness probe restart the server.
  const bool is_livez = path.starts_with("/livez");
  if (options_.kms_health && !is_livez) {
    checks.push_back({"kms-providers", options_.kms_health()});
  }
  const std::string root = path.substr(0, path.find('/', 1));
  const std::string check_name =
      path.size() > root.size() + 1 ? path.substr(root.size() + 1) : "";

  if (!check_name.empty()) {
    for (const auto& [name, status] : checks) {
      if (name != check_name) continue;
      if (status.ok()) return TextResponse(200, "ok");
      // The provider logs its own state changes; probes repeat every few
      // seconds, so this stays at debug level.
      spdlog::debug("apiserver: {} check {} failed: {}", root, name,
                    status.message());
      return TextResponse(500,
                          "internal server error: " + status.message() + "\n");
    }
    return TextResponse(404, "404 page not found\n");
  }

  bool healthy = true;
  std::string verbose;
  for (const auto& [name, status] : checks) {
    healthy = healthy && status.ok();
    verbose += status.ok() ? "[+]" + name + " ok\n"
                           : "[-]" + name + " failed: reason withheld\n";
  }
  const std::string check = root.substr(1);
  if (healthy) {
    return TextResponse(200, query.contains("verbose")
                                 ? verbose + check + " check passed\n"
                                 : "ok");
  }
  return TextResponse(500, verbose + check + " check failed\n");
}

}  // namespace apiserver
