#include "kms-mock/api.h"

#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <expected>
#include <fstream>
#include <span>
#include <sstream>
#include <utility>

#include "kms-mock/api_internal.h"
#include "kms-mock/kms_internal.h"

namespace kms {
namespace api_internal {

ApiError InvalidField(std::string name, std::string message, std::string type) {
  return ApiError{400, std::string(kReasonInvalidField), std::move(message),
                  std::move(type), std::move(name)};
}

ApiError BadBody(std::string message) {
  return ApiError{400, std::string(kReasonBadBody),
                  "Invalid body data was passed: " + std::move(message),
                  "field", "body"};
}

// --- Request target ---

std::expected<Target, ApiError> ParseTarget(std::string_view target) {
  std::expected<Target, base::RequestTargetError> parsed =
      base::ParseRequestTarget(target);
  if (!parsed) {
    base::RequestTargetError& error = parsed.error();
    return std::unexpected(InvalidField(std::move(error.name),
                                        std::move(error.message), error.part));
  }
  return std::move(*parsed);
}

}  // namespace api_internal

namespace {

using api_internal::ApiError;
using api_internal::Call;
using api_internal::InvalidField;
using api_internal::Operation;
using api_internal::Route;
using api_internal::Target;

template <typename T>
using Expected = std::expected<T, ApiError>;

ApiError Unauthorized() {
  return ApiError{401, std::string(api_internal::kReasonUnauthorized),
                  "Unauthorized: The user does not have access to the "
                  "specified resource"};
}

// --- Routing ---

const std::map<std::string, Role, std::less<>>& ActionRoles() {
  static const auto* roles = new std::map<std::string, Role, std::less<>>{
      {"wrap", Role::kWriter},
      {"unwrap", Role::kWriter},
      {"rewrap", Role::kWriter},
      {"rotate", Role::kWriter},
      {"disable", Role::kManager},
      {"enable", Role::kManager},
      {"setKeyForDeletion", Role::kManager},
      {"unsetKeyForDeletion", Role::kManager},
  };
  return *roles;
}

ApiError NoSuchPath(std::string_view method, std::string_view target) {
  return ApiError{404, "NOT_FOUND_ERR",
                  "no resource at " + std::string(method) + " " +
                      std::string(target.substr(0, target.find('?')))};
}

ApiError MethodNotAllowed(std::string_view method) {
  return ApiError{
      405, "METHOD_NOT_ALLOWED_ERR",
      "method " + std::string(method) + " is not allowed on this resource"};
}

Expected<Route> ActionRoute(std::string key_id, const std::string& action,
                            std::string_view where) {
  auto it = ActionRoles().find(action);
  if (it == ActionRoles().end()) {
    return std::unexpected(InvalidField(
        "action",
        "unknown action \"" + action +
            "\"; expected wrap, unwrap, rewrap, rotate, disable, enable, "
            "setKeyForDeletion or unsetKeyForDeletion",
        std::string(where)));
  }
  return Route{Operation::kAction, it->second,
               "Action could not be performed on key", std::move(key_id),
               action};
}

// Routes /api/v2/keys/{id}/... where `rest` contains the segments after the
// id.
Expected<Route> KeyRoute(const std::string& method, const Target& target,
                         const std::string& key_id,
                         std::span<const std::string> rest) {
  auto only = [&](std::string_view allowed, Route route) -> Expected<Route> {
    if (method != allowed) return std::unexpected(MethodNotAllowed(method));
    route.key_id = key_id;
    return route;
  };

  if (rest.empty()) {
    if (method == "GET") {
      return Route{Operation::kGetKey, Role::kReader,
                   "Key could not be retrieved", key_id};
    }
    if (method == "DELETE") {
      return Route{Operation::kDeleteKey, Role::kManager,
                   "Key could not be deleted", key_id};
    }
    if (method == "POST") {
      auto action = target.query.find("action");
      if (action == target.query.end()) {
        return std::unexpected(InvalidField(
            "action", "POST on a key needs the action query parameter",
            "query"));
      }
      return ActionRoute(key_id, action->second, "query");
    }
    return std::unexpected(MethodNotAllowed(method));
  }

  const std::string& what = rest[0];
  if (what == "actions" && rest.size() == 2) {
    if (method != "POST") return std::unexpected(MethodNotAllowed(method));
    return ActionRoute(key_id, rest[1], "path");
  }
  if (rest.size() == 1 && what == "metadata") {
    return only("GET", {Operation::kGetMetadata, Role::kReader,
                        "Key metadata could not be retrieved"});
  }
  if (rest.size() == 1 && what == "restore") {
    return only("POST", {Operation::kRestore, Role::kManager,
                         "Key could not be restored"});
  }
  if (rest.size() == 1 && what == "purge") {
    return only("DELETE",
                {Operation::kPurge, Role::kManager, "Key could not be purged"});
  }
  if (rest.size() == 1 && what == "versions") {
    return only("GET", {Operation::kListVersions, Role::kReader,
                        "Key versions could not be retrieved"});
  }
  if (rest.size() == 1 && what == "registrations") {
    return only("GET", {Operation::kListKeyRegistrations, Role::kReader,
                        "Registrations could not be retrieved"});
  }
  if (rest.size() == 2 && what == "registrations") {
    Route route;
    if (method == "POST") {
      route = {Operation::kRegister, Role::kManager,
               "Registration could not be created"};
    } else if (method == "DELETE") {
      route = {Operation::kUnregister, Role::kManager,
               "Registration could not be deleted"};
    } else {
      return std::unexpected(MethodNotAllowed(method));
    }
    route.key_id = key_id;
    route.resource_crn = rest[1];
    return route;
  }
  return std::unexpected(NoSuchPath(method, ""));
}

Expected<Route> Resolve(const HttpRequest& request, const Target& target) {
  const std::vector<std::string>& s = target.segments;
  if (s.size() < 3 || s[0] != "api" || s[1] != "v2" || s[2] != "keys") {
    return std::unexpected(NoSuchPath(request.method, request.target));
  }
  const std::string& method = request.method;
  if (s.size() == 3) {
    if (method == "GET") {
      return Route{Operation::kListKeys, Role::kReader,
                   "Keys could not be listed"};
    }
    if (method == "HEAD") {
      return Route{Operation::kCountKeys, Role::kReader,
                   "Keys could not be counted"};
    }
    if (method == "POST") {
      return Route{Operation::kCreateKey, Role::kWriter,
                   "Key could not be created"};
    }
    return std::unexpected(MethodNotAllowed(method));
  }
  if (s.size() == 4 && s[3] == "registrations") {
    if (method != "GET") return std::unexpected(MethodNotAllowed(method));
    return Route{Operation::kListInstanceRegistrations, Role::kReader,
                 "Registrations could not be retrieved"};
  }
  // NOTE: the reason code Key Protect returns for a malformed key id was
  // not checked; the mock names the path segment with INVALID_FIELD_ERR.
  if (!IsValidKeyId(s[3])) {
    return std::unexpected(
        InvalidField("id",
                     "key id \"" + s[3] +
                         "\" is not a UUID or alias: expected 1 to 90 "
                         "characters of letters, digits, '-' and '_'",
                     "path"));
  }
  Expected<Route> route =
      KeyRoute(method, target, s[3], std::span(s).subspan(4));
  if (!route && route.error().status == 404) {
    return std::unexpected(NoSuchPath(method, request.target));
  }
  return route;
}

}  // namespace

// --- Roles and tokens ---

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kReader:
      return "Reader";
    case Role::kWriter:
      return "Writer";
    case Role::kManager:
      return "Manager";
  }
  return "Unknown";
}

std::optional<Role> ParseRole(std::string_view name) {
  for (Role role : {Role::kReader, Role::kWriter, Role::kManager}) {
    if (RoleName(role) == name) return role;
  }
  return std::nullopt;
}

base::StatusOr<TokenTable> ParseTokens(const std::string& yaml_text) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    return base::InvalidArgumentError(std::string("token file is not YAML: ") +
                                      e.what());
  }
  YAML::Node list = root.IsMap() ? root["tokens"] : YAML::Node();
  if (!list || !list.IsSequence()) {
    return base::InvalidArgumentError("token file needs a tokens: list");
  }
  TokenTable table;
  for (size_t i = 0; i < list.size(); ++i) {
    const YAML::Node& entry = list[i];
    std::string where = "tokens[" + std::to_string(i) + "]";
    if (!entry.IsMap() || !entry["token"] || !entry["role"] ||
        !entry["token"].IsScalar() || !entry["role"].IsScalar()) {
      return base::InvalidArgumentError(where + " needs token and role");
    }
    std::optional<Role> role = ParseRole(entry["role"].as<std::string>());
    if (!role) {
      return base::InvalidArgumentError(
          where + ": role must be Reader, Writer or Manager, got " +
          entry["role"].as<std::string>());
    }
    AccessGrant grant{*role, {}, ""};
    if (YAML::Node instances = entry["instances"]) {
      if (!instances.IsSequence()) {
        return base::InvalidArgumentError(where + ": instances must be a list");
      }
      for (const YAML::Node& id : instances) {
        if (!id.IsScalar() || id.as<std::string>().empty()) {
          return base::InvalidArgumentError(
              where + ": instances must list instance ids as strings");
        }
        grant.instances.push_back(id.as<std::string>());
      }
    }
    if (YAML::Node api_key = entry["apikey"]) {
      if (!api_key.IsScalar() || api_key.as<std::string>().empty()) {
        return base::InvalidArgumentError(
            where + ": apikey must be a non-empty string");
      }
      grant.api_key = api_key.as<std::string>();
      for (const auto& [other_token, other] : table) {
        if (other.api_key == grant.api_key) {
          return base::InvalidArgumentError(where + ": apikey is repeated");
        }
      }
    }
    std::string token = entry["token"].as<std::string>();
    if (token.empty() || table.contains(token)) {
      return base::InvalidArgumentError(where + ": token is empty or repeated");
    }
    table[token] = std::move(grant);
  }
  return table;
}

base::StatusOr<TokenTable> LoadTokenFile(const std::string& path) {
  std::ifstream file(path);
  if (!file) {
    return base::NotFoundError("cannot open token file " + path);
  }
  std::stringstream text;
  text << file.rdbuf();
  base::StatusOr<TokenTable> table = ParseTokens(text.str());
  if (!table.ok()) {
    return base::InvalidArgumentError(path + ": " + table.status().message());
  }
  return table;
}

// --- The API ---

namespace {

// The name a fault is scoped by for a route: the KeyService call it makes,
// as KeyService::CallCounts names it.
std::string_view FaultOperation(const Route& route) {
  switch (route.operation) {
    case Operation::kListKeys:
    case Operation::kCountKeys:
      return "list_keys";
    case Operation::kCreateKey:
      return "create_key";
    case Operation::kGetKey:
    case Operation::kGetMetadata:
      return "get_key";
    case Operation::kDeleteKey:
      return "delete";
    case Operation::kRestore:
      return "restore";
    case Operation::kPurge:
      return "purge";
    case Operation::kListVersions:
      return "list_versions";
    case Operation::kListKeyRegistrations:
    case Operation::kListInstanceRegistrations:
      return "list_registrations";
    case Operation::kRegister:
      return "register";
    case Operation::kUnregister:
      return "unregister";
    case Operation::kAction:
      break;
  }
  if (route.action == "setKeyForDeletion") return "set_key_for_deletion";
  if (route.action == "unsetKeyForDeletion") return "unset_key_for_deletion";
  return route.action;  // wrap, unwrap, rewrap, rotate, disable, enable
}

// Applies an injected error or outage; nullopt when the request proceeds.
std::optional<HttpResponse> FaultResponse(const FaultDecision& decision,
                                          std::string_view summary) {
  HttpResponse response;
  response.fault_id = decision.fault_id;
  switch (decision.outcome) {
    case FaultDecision::Outcome::kProceed:
      return std::nullopt;
    case FaultDecision::Outcome::kError:
      return api_internal::ErrorResponse(
          ApiError{decision.http_status, decision.reason, decision.message},
          summary.empty() ? "Request could not be processed" : summary);
    case FaultDecision::Outcome::kRefuse:
      response.delivery = Delivery::kReset;
      return response;
    case FaultDecision::Outcome::kHang:
      response.delivery = Delivery::kHang;
      return response;
  }
  return std::nullopt;
}

std::string Lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

// A body must be JSON: application/json, or a Key Protect media type such
// as application/vnd.ibm.kms.key_action_wrap+json, which the Node SDK
// sends. Parameters such as charset are ignored.
// NOTE: the reason code Key Protect returns for another content type was
// not checked; the mock uses BAD_BODY_ERR naming the header.
std::optional<ApiError> CheckContentType(const HttpRequest& request) {
  if (request.body.empty()) return std::nullopt;
  auto header = request.headers.find("content-type");
  std::string media_type;
  if (header != request.headers.end()) {
    media_type = Lowercase(header->second.substr(0, header->second.find(';')));
    while (!media_type.empty() && media_type.back() == ' ') {
      media_type.pop_back();
    }
  }
  if (media_type == "application/json" ||
      (media_type.starts_with("application/vnd.ibm.kms.") &&
       media_type.ends_with("+json"))) {
    return std::nullopt;
  }
  return ApiError{
      400, std::string(api_internal::kReasonBadBody),
      "Invalid body data was passed: content-type must be "
      "application/json or application/vnd.ibm.kms.<type>+json, "
      "got \"" +
          (header == request.headers.end() ? std::string("") : header->second) +
          "\"",
      "header", "content-type"};
}

}  // namespace

KeyProtectApi::KeyProtectApi(KeyService& service, base::Clock& clock,
                             TokenTable tokens, ApiOptions options)
    : service_(service),
      clock_(clock),
      tokens_(std::move(tokens)),
      options_(options),
      issued_(std::make_unique<api_internal::IssuedTokens>(options.random)) {}

KeyProtectApi::~KeyProtectApi() = default;

HttpResponse KeyProtectApi::BodyTooLarge(size_t limit) {
  return api_internal::ErrorResponse(
      api_internal::BadBody("the body is larger than the limit of " +
                            std::to_string(limit) + " bytes"),
      "Request could not be processed");
}

std::optional<AccessGrant> KeyProtectApi::FindGrant(
    const HttpRequest& request) const {
  auto auth = request.headers.find("authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (auth == request.headers.end() || !auth->second.starts_with(kBearer)) {
    return std::nullopt;
  }
  std::string token = auth->second.substr(kBearer.size());
  if (auto it = tokens_.find(token); it != tokens_.end()) return it->second;
  return issued_->Find(token, clock_.Now());
}

HttpResponse KeyProtectApi::Handle(const HttpRequest& request) {
  std::string_view path =
      std::string_view(request.target).substr(0, request.target.find('?'));
  if (path == "/identity/token") {
    return api_internal::HandleIdentityToken(request, tokens_, *issued_,
                                             clock_.Now(),
                                             options_.issued_token_lifetime);
  }
  if (options_.control &&
      (path == "/control" || path.starts_with("/control/"))) {
    Expected<Target> target = api_internal::ParseTarget(request.target);
    if (!target) {
      return api_internal::ErrorResponse(target.error(), "Bad request");
    }
    return api_internal::HandleControl({service_, clock_, options_}, request,
                                       *target);
  }
  return HandleKeyProtect(request);
}

HttpResponse KeyProtectApi::HandleKeyProtect(const HttpRequest& request) {
  Expected<Target> target = api_internal::ParseTarget(request.target);
  Expected<Route> route =
      target ? Resolve(request, *target) : std::unexpected(target.error());
  auto instance_header = request.headers.find("bluemix-instance");
  std::string instance_id =
      instance_header == request.headers.end() ? "" : instance_header->second;

  // Faults come first: a server that is down or failing checks nothing.
  FaultDecision decision = service_.faults().Evaluate(
      {route ? FaultOperation(*route) : "", instance_id,
       route ? std::string_view(route->key_id) : ""});
  std::string_view summary = route ? route->summary : "";
  std::optional<base::Time> send_at;
  if (decision.latency > base::Duration(0)) {
    send_at = clock_.Now() + decision.latency;
  }
  auto deliver = [&send_at](HttpResponse response) {
    response.send_at = send_at;
    return response;
  };
  if (std::optional<HttpResponse> fault = FaultResponse(decision, summary)) {
    return deliver(std::move(*fault));
  }

  // Authentication comes next, so that nothing about keys or paths is
  // revealed to a caller without a valid token.
  std::optional<AccessGrant> grant = FindGrant(request);
  if (!grant) {
    return deliver(api_internal::ErrorResponse(Unauthorized(), "Unauthorized"));
  }
  if (!target) {
    return deliver(api_internal::ErrorResponse(target.error(), "Bad request"));
  }
  if (!route) {
    return deliver(api_internal::ErrorResponse(route.error(), "Bad request"));
  }

  if (instance_id.empty()) {
    return deliver(api_internal::ErrorResponse(
        InvalidField("bluemix-instance", "header bluemix-instance is missing",
                     "header"),
        route->summary));
  }
  bool granted = grant->instances.empty() ||
                 std::ranges::find(grant->instances, instance_id) !=
                     grant->instances.end();
  base::StatusOr<Instance> instance = service_.GetInstance(instance_id);
  // Key Protect returns 401 both for an instance the token may not use and
  // for one that does not exist.
  if (!granted || !instance.ok() || grant->role < route->role) {
    return deliver(api_internal::ErrorResponse(Unauthorized(), "Unauthorized"));
  }
  if (std::optional<ApiError> error = CheckContentType(request)) {
    return deliver(api_internal::ErrorResponse(*error, route->summary));
  }

  Call call{service_, clock_, request, *target, *route, *instance, grant->role};
  HttpResponse response;
  {
    internal::ScopedFaultsEvaluated evaluated;
    response = api_internal::Dispatch(call);
  }
  // Client errors are ordinary traffic; a 5xx means the mock itself failed.
  if (response.status >= 500) {
    spdlog::warn("kms api: {} {} on instance {} failed with {}: {}",
                 request.method,
                 request.target.substr(0, request.target.find('?')),
                 instance_id, response.status, response.body);
  }
  return deliver(std::move(response));
}

}  // namespace kms
