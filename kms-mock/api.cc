#include "kms-mock/api.h"

#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <expected>
#include <fstream>
#include <span>
#include <sstream>
#include <utility>

#include "kms-mock/api_internal.h"

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

// --- Request target ---

std::optional<std::string> PercentDecode(std::string_view text,
                                         bool plus_is_space) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else if (c != '%') {
      out.push_back(c);
    } else {
      if (i + 2 >= text.size()) return std::nullopt;
      unsigned value = 0;
      auto [end, error] =
          std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16);
      if (error != std::errc() || end != text.data() + i + 3) {
        return std::nullopt;
      }
      out.push_back(static_cast<char>(value));
      i += 2;
    }
  }
  return out;
}

Expected<Target> ParseTarget(std::string_view target) {
  Target out;
  size_t question = target.find('?');
  std::string_view path = target.substr(0, question);
  std::string_view query =
      question == std::string_view::npos ? "" : target.substr(question + 1);

  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view raw = path.substr(start, slash - start);
    if (!raw.empty()) {
      std::optional<std::string> segment = PercentDecode(raw, false);
      if (!segment) {
        return std::unexpected(InvalidField(
            "path", "invalid percent-encoding in the path", "path"));
      }
      out.segments.push_back(*segment);
    }
    start = slash + 1;
  }

  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? "" : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t equals = pair.find('=');
    std::optional<std::string> name =
        PercentDecode(pair.substr(0, equals), true);
    std::optional<std::string> value =
        equals == std::string_view::npos
            ? std::optional<std::string>("")
            : PercentDecode(pair.substr(equals + 1), true);
    if (!name || !value) {
      return std::unexpected(
          InvalidField(std::string(pair.substr(0, equals)),
                       "invalid percent-encoding in the query", "query"));
    }
    // A repeated parameter (state=1&state=2) means the same as a
    // comma-separated list (state=1,2).
    auto [it, inserted] = out.query.try_emplace(*name, *value);
    if (!inserted) it->second += "," + *value;
  }
  return out;
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
  YAML::Node list = root["tokens"];
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
    AccessGrant grant{*role, {}};
    if (YAML::Node instances = entry["instances"]) {
      if (!instances.IsSequence()) {
        return base::InvalidArgumentError(where + ": instances must be a list");
      }
      for (const YAML::Node& id : instances) {
        grant.instances.push_back(id.as<std::string>());
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

KeyProtectApi::KeyProtectApi(KeyService& service, base::Clock& clock,
                             TokenTable tokens)
    : service_(service), clock_(clock), tokens_(std::move(tokens)) {}

HttpResponse KeyProtectApi::BodyTooLarge(size_t limit) {
  return api_internal::ErrorResponse(
      api_internal::BadBody("the body is larger than the limit of " +
                            std::to_string(limit) + " bytes"),
      "Request could not be processed");
}

HttpResponse KeyProtectApi::Handle(const HttpRequest& request) {
  // Authentication comes first, so that nothing about keys or paths is
  // revealed to a caller without a valid token.
  auto auth = request.headers.find("authorization");
  constexpr std::string_view kBearer = "Bearer ";
  const AccessGrant* grant = nullptr;
  if (auth != request.headers.end() && auth->second.starts_with(kBearer)) {
    auto it = tokens_.find(auth->second.substr(kBearer.size()));
    if (it != tokens_.end()) grant = &it->second;
  }
  if (grant == nullptr) {
    return api_internal::ErrorResponse(Unauthorized(), "Unauthorized");
  }

  Expected<Target> target = ParseTarget(request.target);
  if (!target) {
    return api_internal::ErrorResponse(target.error(), "Bad request");
  }
  Expected<Route> route = Resolve(request, *target);
  if (!route) {
    return api_internal::ErrorResponse(route.error(), "Bad request");
  }

  auto instance_header = request.headers.find("bluemix-instance");
  if (instance_header == request.headers.end() ||
      instance_header->second.empty()) {
    return api_internal::ErrorResponse(
        InvalidField("bluemix-instance", "header bluemix-instance is missing",
                     "header"),
        route->summary);
  }
  const std::string& instance_id = instance_header->second;
  bool granted = grant->instances.empty() ||
                 std::ranges::find(grant->instances, instance_id) !=
                     grant->instances.end();
  base::StatusOr<Instance> instance = service_.GetInstance(instance_id);
  // Key Protect returns 401 both for an instance the token may not use and
  // for one that does not exist.
  if (!granted || !instance.ok() || grant->role < route->role) {
    return api_internal::ErrorResponse(Unauthorized(), "Unauthorized");
  }

  Call call{service_, clock_, request, *target, *route, *instance, grant->role};
  HttpResponse response = api_internal::Dispatch(call);
  // Client errors are ordinary traffic; a 5xx means the mock itself failed.
  if (response.status >= 500) {
    spdlog::warn("kms api: {} {} on instance {} failed with {}: {}",
                 request.method,
                 request.target.substr(0, request.target.find('?')),
                 instance_id, response.status, response.body);
  }
  return response;
}

}  // namespace kms
