// The sandbox's control API: HTTP and JSON over loopback, for tests in any
// language. The routes are listed in the README's "Sandbox" section. Every
// error is {"error":{"code":N,"status":"NOT_FOUND","reason":R,"message":M}}
// with a message that names the value and the fix; a rejected request
// changes nothing.
#include <spdlog/spdlog.h>

#include <charconv>
#include <expected>

#include "base/http.h"
#include "base/json_depth.h"
#include "kms-mock/faults.h"
#include "sim/names.h"
#include "sim/sandbox_internal.h"

namespace sim {
namespace {

using apiserver::ApiRequest;
using apiserver::ApiResponse;

ApiResponse JsonResponse(int status, const json& body) {
  ApiResponse response;
  response.status = status;
  response.body =
      body.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  return response;
}

// An error with the HTTP status of its code, unless `http_status` is set.
ApiResponse ErrorResponse(const base::Status& status, int http_status = 0) {
  if (http_status == 0) http_status = base::HttpStatusForCode(status.code());
  json error = {{"code", http_status},
                {"status", std::string(base::CodeName(status.code()))},
                {"message", status.message()}};
  if (!status.reason().empty()) error["reason"] = status.reason();
  return JsonResponse(http_status, {{"error", error}});
}

// The control API's routes: the path segments after /v1 ("*" matches any
// one segment) and the methods each one serves.
struct Route {
  std::vector<std::string_view> pattern;
  std::string_view methods;  // for the Allow header, e.g. "GET, POST"
};

const std::vector<Route>& Routes() {
  static const std::vector<Route> kRoutes = {
      {{}, "GET"},
      {{"clock"}, "GET, POST"},
      {{"ks"}, "POST"},
      {{"events"}, "GET"},
      {{"snapshots"}, "GET, POST"},
      {{"snapshots", "*"}, "DELETE"},
      {{"snapshots", "*", "restore"}, "POST"},
      {{"kms", "faults"}, "GET, POST, DELETE"},
      {{"kms", "faults", "*"}, "DELETE"},
      {{"kms", "calls"}, "GET"},
      {{"kms", "instances"}, "GET, POST"},
      {{"kms", "instances", "*", "keys"}, "GET, POST"},
      {{"kms", "instances", "*", "keys", "*"}, "GET"},
      {{"kms", "instances", "*", "keys", "*", "*"}, "POST"},
      {{"clusters"}, "GET, POST"},
      {{"clusters", "*"}, "GET"},
      {{"clusters", "*", "kms"}, "POST"},
      {{"clusters", "*", "rewrite-secrets"}, "POST"},
      {{"clusters", "*", "unusable-master"}, "PUT, POST"},
  };
  return kRoutes;
}

// Returns the methods of the route that `segments` (after /v1) names, or
// nullopt when no route matches.
std::optional<std::string_view> AllowedMethods(
    const std::vector<std::string>& segments) {
  for (const Route& route : Routes()) {
    if (route.pattern.size() != segments.size()) continue;
    bool matches = true;
    for (size_t i = 0; i < segments.size() && matches; ++i) {
      matches = route.pattern[i] == "*" || route.pattern[i] == segments[i];
    }
    if (matches) return route.methods;
  }
  return std::nullopt;
}

bool Allows(std::string_view methods, const std::string& method) {
  size_t start = 0;
  while (start < methods.size()) {
    size_t comma = methods.find(", ", start);
    if (comma == std::string_view::npos) comma = methods.size();
    if (methods.substr(start, comma - start) == method) return true;
    start = comma + 2;
  }
  return false;
}

// Parses a JSON object body whose fields are all in `allowed`; an empty
// body is an empty object.
base::StatusOr<json> ParseBody(const ApiRequest& request,
                               std::initializer_list<std::string> allowed) {
  if (request.body.find_first_not_of(" \t\r\n") == std::string::npos) {
    return json::object();
  }
  json body = base::JsonNestedDeeperThan(request.body)
                  ? json(json::value_t::discarded)
                  : json::parse(request.body, nullptr,
                                /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object()) {
    return base::InvalidArgumentError(
        "invalid request body: expected a JSON object such as "
        "{\"advance\": \"10m\"}");
  }
  std::string names;
  for (const std::string& name : allowed) {
    names += (names.empty() ? "" : ", ") + name;
  }
  for (const auto& [name, value] : body.items()) {
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      return base::InvalidArgumentError(
          "unknown field \"" + name +
          "\" in the request body; the fields are " +
          (names.empty() ? "none" : names));
    }
  }
  return body;
}

base::StatusOr<std::string> StringField(const json& body,
                                        const std::string& name, bool required,
                                        const std::string& example) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) {
    if (!required) return std::string();
    return base::InvalidArgumentError("missing field \"" + name +
                                      "\": pass it in the JSON body, e.g. "
                                      "{\"" +
                                      name + "\": " + example + "}");
  }
  if (!it->is_string() || it->get<std::string>().empty()) {
    return base::InvalidArgumentError(
        "invalid field \"" + name + "\": " + it->dump() +
        " is not a non-empty string, e.g. " + example);
  }
  // Names and values are echoed in tables, logs and recorded scenarios.
  RETURN_IF_ERROR(RejectControlCharacters("field \"" + name + "\"",
                                          it->get<std::string>()));
  return it->get<std::string>();
}

base::StatusOr<bool> BoolField(const json& body, const std::string& name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return false;
  if (!it->is_boolean()) {
    return base::InvalidArgumentError("invalid field \"" + name + "\": " +
                                      it->dump() + " is not true or false");
  }
  return it->get<bool>();
}

json KeyJson(const kms::Key& key) {
  json out = {{"id", key.id},
              {"name", key.name},
              {"instance_id", key.instance_id},
              {"root", !key.extractable},
              {"state", kms::KeyStateName(key.state)},
              {"versions", key.versions.size()},
              {"created", base::FormatRfc3339(key.creation_date)}};
  if (key.expiration) out["expires"] = base::FormatRfc3339(*key.expiration);
  return out;
}

json InstanceJson(const kms::Instance& instance) {
  return {{"id", instance.id},
          {"name", instance.name},
          {"type", kms::InstanceTypeName(instance.type)}};
}

// Returns the error for a name that several KMS instances or keys have, as
// Key Protect allows, so that only their ids tell them apart. `kind` is
// "KMS instance" or "key", and `scope` where the name was looked up.
base::Status AmbiguousName(const std::string& kind, const std::string& name,
                           const std::string& scope,
                           const std::vector<std::string>& ids) {
  std::string list;
  for (const std::string& id : ids) list += (list.empty() ? "" : ", ") + id;
  return base::InvalidArgumentError(
      kind + " name " + QuoteForMessage(name) + " is ambiguous" + scope + ": " +
      std::to_string(ids.size()) + " " + kind + "s have it (" + list +
      "); pass the id instead");
}

base::StatusOr<kms::Instance> FindInstance(Environment& env,
                                           const std::string& id_or_name) {
  if (auto found = env.kms().GetInstance(id_or_name); found.ok()) {
    return found;
  }
  std::vector<kms::Instance> matches;
  std::string names;
  for (const kms::Instance& instance : env.kms().ListInstances()) {
    if (instance.name == id_or_name) matches.push_back(instance);
    names +=
        (names.empty() ? "" : ", ") + instance.name + " (" + instance.id + ")";
  }
  if (matches.size() == 1) return matches[0];
  if (matches.size() > 1) {
    std::vector<std::string> ids;
    for (const kms::Instance& match : matches) ids.push_back(match.id);
    return AmbiguousName("KMS instance", id_or_name, "", ids);
  }
  return base::NotFoundError(
      "KMS instance " + QuoteForMessage(id_or_name) + " not found; " +
      (names.empty() ? std::string("there are no instances yet")
                     : "the instances are " + names) +
      "; create one with POST /v1/kms/instances {\"name\": \"kp\"}");
}

// Returns the id of a key given by id or name, or `id_or_name` itself when
// the instance has no such key, so that the caller's operation reports it.
// Fails when several keys of the instance have that name.
base::StatusOr<std::string> ResolveKey(Environment& env,
                                       const kms::Instance& instance,
                                       const std::string& id_or_name) {
  if (env.kms().GetKey(instance.id, id_or_name).ok()) return id_or_name;
  base::StatusOr<std::vector<kms::Key>> keys = env.kms().ListKeys(instance.id);
  std::vector<std::string> ids;
  if (keys.ok()) {
    for (const kms::Key& key : *keys) {
      if (key.name == id_or_name) ids.push_back(key.id);
    }
  }
  if (ids.size() > 1) {
    return AmbiguousName("key", id_or_name, " in KMS instance " + instance.name,
                         ids);
  }
  return ids.empty() ? id_or_name : ids[0];
}

base::StatusOr<kms::Key> FindKey(Environment& env,
                                 const kms::Instance& instance,
                                 const std::string& id_or_name) {
  ASSIGN_OR_RETURN(std::string id, ResolveKey(env, instance, id_or_name));
  base::StatusOr<kms::Key> key = env.kms().GetKey(instance.id, id);
  if (key.ok()) return key;
  return base::NotFoundError("key " + QuoteForMessage(id_or_name) +
                             " not found in KMS instance " + instance.name +
                             "; list its keys with GET "
                             "/v1/kms/instances/" +
                             instance.id + "/keys");
}

// Returns the KMS mock's error, which is in Key Protect's shape, as a
// control API error: the first reason's message, with its code as the
// reason.
ApiResponse KmsControlError(const kms::HttpResponse& answer) {
  json body = json::parse(answer.body, nullptr, /*allow_exceptions=*/false);
  std::string message = "the KMS rejected the request";
  std::string reason;
  const json* first = nullptr;
  if (body.is_object() && body["resources"].is_array() &&
      !body["resources"].empty() &&
      body["resources"][0]["reasons"].is_array() &&
      !body["resources"][0]["reasons"].empty()) {
    first = &body["resources"][0]["reasons"][0];
  }
  if (first != nullptr && first->is_object()) {
    message = first->value("message", message);
    reason = first->value("code", "");
  }
  return ErrorResponse(
      base::Status(kms::CodeForHttpStatus(answer.status), message, reason),
      answer.status);
}

}  // namespace

ApiResponse ControlBodyTooLarge() {
  return ErrorResponse(
      base::Status(base::Code::kResourceExhausted,
                   "request body too large: the limit is " +
                       std::to_string(apiserver::kMaxApiRequestBodyBytes) +
                       " bytes (3 MiB)"),
      413);
}

ApiResponse Sandbox::Impl::HandleControl(const ApiRequest& request) {
  std::expected<base::RequestTarget, base::RequestTargetError> route =
      base::ParseRequestTarget(request.target);
  if (!route) {
    return ErrorResponse(base::InvalidArgumentError(
        route.error().message + " of " + request.target +
        "; write a literal % as %25"));
  }
  const std::string& method = request.method;
  std::vector<std::string>& s = route->segments;
  if (s.empty() || s[0] != "v1") {
    return ErrorResponse(base::NotFoundError(
        "no control API route " + request.target +
        "; the routes start with /v1 (GET /v1 shows the sandbox)"));
  }
  s.erase(s.begin());
  std::optional<std::string_view> methods = AllowedMethods(s);
  if (!methods) {
    return ErrorResponse(base::NotFoundError(
        "no control API route " + request.target +
        "; see the README's Sandbox section for the routes"));
  }
  if (!Allows(*methods, method)) {
    // "GET, PUT, POST" reads "GET, PUT or POST" in the message.
    std::string choices(*methods);
    if (size_t last = choices.rfind(", "); last != std::string::npos) {
      choices.replace(last, 2, " or ");
    }
    ApiResponse response =
        ErrorResponse(base::Status(base::Code::kUnimplemented,
                                   "method " + method + " is not allowed on " +
                                       request.target + "; use " + choices),
                      405);
    response.headers.emplace_back("Allow", std::string(*methods));
    return response;
  }

  // Snapshots replace the runtime, so they hold the lock exclusively. That
  // waits for every request in progress, so they are rejected while a clock
  // advance runs rather than take a server thread until it ends.
  if (!s.empty() && s[0] == "snapshots" && method != "GET") {
    if (advancing) {
      return ErrorResponse(base::AbortedError(
          "a clock advance is running; wait until it finishes (GET /v1/clock "
          "shows the clock moving) and try again"));
    }
    std::unique_lock lock(runtime_mu);
    if (stop_requested) {
      return ErrorResponse(base::UnavailableError("the sandbox is stopping"));
    }
    base::Status done;
    json result;
    if (s.size() == 1 && method == "POST") {
      base::StatusOr<json> body = ParseBody(request, {"name"});
      if (!body.ok()) return ErrorResponse(body.status());
      base::StatusOr<std::string> name =
          StringField(*body, "name", true, "\"before-disable\"");
      if (!name.ok()) return ErrorResponse(name.status());
      done = Snapshot(*name);
      result = {{"name", *name}, {"saved", true}};
      if (done.ok() && recorder) recorder->Snapshot(*name);
    } else if (s.size() == 3 && s[2] == "restore" && method == "POST") {
      base::StatusOr<json> body = ParseBody(request, {});
      if (!body.ok()) return ErrorResponse(body.status());
      done = Restore(s[1]);
      result = {{"name", s[1]}, {"restored", true}};
      if (done.ok() && recorder) recorder->Restore(s[1]);
    } else if (s.size() == 2 && method == "DELETE") {
      base::StatusOr<json> body = ParseBody(request, {});
      if (!body.ok()) return ErrorResponse(body.status());
      done = DeleteSnapshot(s[1]);
      result = {{"name", s[1]}, {"deleted", true}};
    } else {
      done = base::NotFoundError("no route " + method + " " + request.target +
                                 "; use POST /v1/snapshots, POST "
                                 "/v1/snapshots/NAME/restore or DELETE "
                                 "/v1/snapshots/NAME");
    }
    if (!done.ok()) return ErrorResponse(done);
    if (runtime) result["clock"] = base::FormatRfc3339(runtime->clock->Now());
    return JsonResponse(200, result);
  }

  std::shared_lock lock(runtime_mu);
  if (!runtime) {
    return ErrorResponse(base::UnavailableError("the sandbox is stopping"));
  }
  Runtime& rt = *runtime;
  Environment& env = *rt.env;
  auto route_error = [&] {
    return ErrorResponse(base::NotFoundError(
        "no control API route " + method + " " + request.target +
        "; see the README's Sandbox section for the routes"));
  };

  // GET /v1
  if (s.empty()) {
    if (method != "GET") return route_error();
    SandboxInfo info = InfoLocked(rt);
    json clusters = json::array();
    for (const SandboxClusterInfo& c : info.clusters) {
      clusters.push_back({{"name", c.name},
                          {"api_url", c.api_url},
                          {"etcd_url", c.etcd_url},
                          {"token", c.token}});
    }
    return JsonResponse(200, {{"data_dir", info.data_dir},
                              {"control_url", info.control_url},
                              {"kms_url", info.kms_url},
                              {"kms_token", info.kms_token},
                              {"kms_api_key", info.kms_api_key},
                              {"kubeconfig", info.kubeconfig},
                              {"clock", info.clock},
                              {"clusters", clusters}});
  }

  // /v1/clock
  if (s[0] == "clock" && s.size() == 1) {
    if (method == "POST") {
      base::StatusOr<json> body = ParseBody(request, {"advance", "to"});
      if (!body.ok()) return ErrorResponse(body.status());
      if (body->contains("advance") == body->contains("to")) {
        return ErrorResponse(base::InvalidArgumentError(
            "pass exactly one of \"advance\" (a duration such as \"10m\") "
            "and \"to\" (an RFC 3339 time)"));
      }
      base::Duration delta{};
      if (body->contains("advance")) {
        const json& value = (*body)["advance"];
        std::optional<base::Duration> parsed =
            value.is_string() ? base::ParseDuration(value.get<std::string>())
                              : std::nullopt;
        if (!parsed) {
          return ErrorResponse(base::InvalidArgumentError(
              "invalid \"advance\": " +
              value.dump(-1, ' ', false,
                         nlohmann::json::error_handler_t::replace) +
              " is not a duration; use e.g. \"90s\", \"10m\", \"1h30m\" or "
              "\"2d\""));
        }
        delta = *parsed;
      } else {
        const json& value = (*body)["to"];
        std::optional<base::Time> to =
            value.is_string() ? base::ParseRfc3339(value.get<std::string>())
                              : std::nullopt;
        if (!to) {
          return ErrorResponse(base::InvalidArgumentError(
              "invalid \"to\": " +
              value.dump(-1, ' ', false,
                         nlohmann::json::error_handler_t::replace) +
              " is not an RFC 3339 time such as \"2026-01-01T01:00:00Z\""));
        }
        delta = *to - rt.clock->Now();
        if (delta < base::Duration::zero()) {
          return ErrorResponse(base::InvalidArgumentError(
              "invalid \"to\": " + value.get<std::string>() +
              " is before the sandbox's time " +
              base::FormatRfc3339(rt.clock->Now()) +
              "; the clock only moves forward (restore a snapshot to go "
              "back)"));
        }
      }
      base::Status advanced = Advance(rt, delta);
      if (!advanced.ok()) return ErrorResponse(advanced);
      if (recorder) recorder->Step({{"advance", base::FormatDuration(delta)}});
    } else if (method != "GET") {
      return route_error();
    }
    return JsonResponse(200, {{"now", base::FormatRfc3339(rt.clock->Now())},
                              {"mode", real_clock ? "real" : "simulated"},
                              {"speed", speed},
                              {"description", ClockDescription(rt)}});
  }

  // /v1/ks
  if (s[0] == "ks" && s.size() == 1 && method == "POST") {
    base::StatusOr<json> body = ParseBody(request, {"args"});
    if (!body.ok()) return ErrorResponse(body.status());
    std::vector<std::string> args;
    const json& value = body->value("args", json());
    bool valid = value.is_array();
    if (valid) {
      for (const json& arg : value) {
        if (!arg.is_string()) valid = false;
        if (valid) args.push_back(arg.get<std::string>());
      }
    }
    if (!valid) {
      return ErrorResponse(base::InvalidArgumentError(
          "invalid field \"args\": expected the words after `sim ks` as a "
          "list of strings, e.g. {\"args\": [\"cluster\", \"ls\"]}"));
    }
    std::string out, err;
    int code = RunKsCommand(rt, args, out, err);
    return JsonResponse(
        200, {{"exit_code", code}, {"stdout", out}, {"stderr", err}});
  }

  // /v1/events
  if (s[0] == "events" && s.size() == 1 && method == "GET") {
    uint64_t since = 0;
    if (route->query.contains("since")) {
      const std::string& text = route->query["since"];
      auto [end, error] =
          std::from_chars(text.data(), text.data() + text.size(), since);
      if (text.empty() || error != std::errc() ||
          end != text.data() + text.size()) {
        return ErrorResponse(base::InvalidArgumentError(
            "invalid query parameter since=" + QuoteForMessage(text) +
            ": expected the sequence number of an event (0 or more), as in "
            "GET /v1/events?since=12"));
      }
    }
    std::string watch = route->query["watch"];
    if (watch == "true" || watch == "1") {
      ApiResponse response;
      response.stream = [this, since](apiserver::StreamSink sink) {
        std::lock_guard events_lock(events_mu);
        for (const json& event : recent_events) {
          if (event["seq"].get<uint64_t>() > since)
            sink(event.dump(-1, ' ', false,
                            nlohmann::json::error_handler_t::replace) +
                 "\n");
        }
        uint64_t id = next_watcher++;
        event_watchers[id] = std::move(sink);
        return std::function<void()>([this, id] {
          std::lock_guard stop_lock(events_mu);
          event_watchers.erase(id);
        });
      };
      return response;
    }
    json events = json::array();
    {
      std::lock_guard events_lock(events_mu);
      for (const json& event : recent_events) {
        if (event["seq"].get<uint64_t>() > since) events.push_back(event);
      }
    }
    return JsonResponse(200, {{"events", events}});
  }

  // GET /v1/snapshots
  if (s[0] == "snapshots" && s.size() == 1) {
    base::StatusOr<json> list = ListSnapshots();
    if (!list.ok()) return ErrorResponse(list.status());
    return JsonResponse(200, {{"snapshots", *list}});
  }

  // /v1/kms/...
  if (s[0] == "kms" && s.size() >= 2) {
    if (s[1] == "faults" || s[1] == "calls") {
      // The KMS mock's own control endpoints carry out faults.
      kms::HttpRequest forwarded;
      forwarded.method = method;
      forwarded.target = "/control";
      for (size_t i = 1; i < s.size(); ++i) forwarded.target += "/" + s[i];
      forwarded.headers = request.headers;
      forwarded.body = request.body;
      kms::HttpResponse answer = rt.kms_api->Handle(forwarded);
      if (answer.status >= 400) return KmsControlError(answer);
      ApiResponse response;
      response.status = answer.status;
      response.body = answer.body;
      if (auto it = answer.headers.find("content-type");
          it != answer.headers.end()) {
        response.content_type = it->second;
      }
      if (recorder && s[1] == "faults" && answer.status < 300) {
        if (method == "POST" && s.size() == 2) {
          recorder->FaultAdded(env, json::parse(answer.body, nullptr, false));
        } else if (method == "DELETE" && s.size() == 2) {
          recorder->FaultsCleared(std::nullopt);
        } else if (method == "DELETE" && s.size() == 3) {
          recorder->FaultsCleared(std::strtoull(s[2].c_str(), nullptr, 10));
        }
      }
      return response;
    }
    if (s[1] != "instances") return route_error();
    if (s.size() == 2) {
      if (method == "GET") {
        json items = json::array();
        for (const kms::Instance& i : env.kms().ListInstances()) {
          items.push_back(InstanceJson(i));
        }
        return JsonResponse(200, {{"instances", items}});
      }
      if (method != "POST") return route_error();
      base::StatusOr<json> body = ParseBody(request, {"name", "type"});
      if (!body.ok()) return ErrorResponse(body.status());
      base::StatusOr<std::string> name =
          StringField(*body, "name", true, "\"kp\"");
      if (!name.ok()) return ErrorResponse(name.status());
      if (base::Status valid = ValidateInstanceName(*name); !valid.ok()) {
        return ErrorResponse(valid);
      }
      base::StatusOr<std::string> type_text =
          StringField(*body, "type", false, "\"key-protect\"");
      if (!type_text.ok()) return ErrorResponse(type_text.status());
      std::optional<kms::InstanceType> type = kms::ParseInstanceType(
          type_text->empty() ? "key-protect" : *type_text);
      if (!type) {
        return ErrorResponse(base::InvalidArgumentError(
            "invalid field \"type\": \"" + *type_text +
            "\"; expected key-protect or hpcs"));
      }
      base::StatusOr<kms::Instance> created =
          env.kms().CreateInstance(*name, *type);
      if (!created.ok()) return ErrorResponse(created.status());
      if (recorder) recorder->AddInstance(*created);
      return JsonResponse(201, InstanceJson(*created));
    }
    base::StatusOr<kms::Instance> instance = FindInstance(env, s[2]);
    if (!instance.ok()) return ErrorResponse(instance.status());
    if (s.size() < 4 || s[3] != "keys") return route_error();
    if (s.size() == 4) {
      if (method == "GET") {
        base::StatusOr<std::vector<kms::Key>> keys =
            env.kms().ListKeys(instance->id);
        if (!keys.ok()) return ErrorResponse(keys.status());
        json items = json::array();
        for (const kms::Key& key : *keys) items.push_back(KeyJson(key));
        return JsonResponse(200, {{"keys", items}});
      }
      if (method != "POST") return route_error();
      base::StatusOr<json> body =
          ParseBody(request, {"name", "root", "expires_in"});
      if (!body.ok()) return ErrorResponse(body.status());
      base::StatusOr<std::string> name =
          StringField(*body, "name", true, "\"root-key-1\"");
      if (!name.ok()) return ErrorResponse(name.status());
      if (base::Status valid = ValidateKeyName(*name); !valid.ok()) {
        return ErrorResponse(valid);
      }
      kms::CreateKeyRequest create;
      create.name = *name;
      auto root = body->find("root");
      if (root != body->end() && !root->is_boolean()) {
        return ErrorResponse(base::InvalidArgumentError(
            "invalid field \"root\": " + root->dump() +
            " is not true (a root key, the default) or false (a standard "
            "key)"));
      }
      create.extractable = root != body->end() && !root->get<bool>();
      base::StatusOr<std::string> expires =
          StringField(*body, "expires_in", false, "\"30d\"");
      if (!expires.ok()) return ErrorResponse(expires.status());
      std::optional<base::Duration> lifetime;
      if (!expires->empty()) {
        lifetime = base::ParseDuration(*expires);
        if (!lifetime || *lifetime <= base::Duration::zero()) {
          return ErrorResponse(base::InvalidArgumentError(
              "invalid field \"expires_in\": \"" + *expires +
              "\" is not a positive duration such as \"2h\" or \"30d\""));
        }
        create.expiration = rt.clock->Now() + *lifetime;
      }
      base::StatusOr<kms::Key> key = env.kms().CreateKey(instance->id, create);
      if (!key.ok()) return ErrorResponse(key.status());
      if (recorder) recorder->KeyCreated(env, *key);
      return JsonResponse(201, KeyJson(*key));
    }
    base::StatusOr<kms::Key> key = FindKey(env, *instance, s[4]);
    if (!key.ok()) return ErrorResponse(key.status());
    if (s.size() == 5 && method == "GET")
      return JsonResponse(200, KeyJson(*key));
    if (s.size() != 6 || method != "POST") return route_error();
    base::StatusOr<json> body = ParseBody(request, {"force"});
    if (!body.ok()) return ErrorResponse(body.status());
    base::StatusOr<bool> force = BoolField(*body, "force");
    if (!force.ok()) return ErrorResponse(force.status());
    const std::string& action = s[5];
    kms::KeyService& service = env.kms();
    base::Status done;
    std::string step;
    if (action == "disable") {
      done = service.Disable(instance->id, key->id);
      step = "disable_key";
    } else if (action == "enable") {
      done = service.Enable(instance->id, key->id);
      step = "enable_key";
    } else if (action == "rotate") {
      done = service.Rotate(instance->id, key->id).status();
      step = "rotate_key";
    } else if (action == "delete") {
      done = service.Delete(instance->id, key->id, *force).status();
      step = "delete_key";
    } else if (action == "restore") {
      done = service.Restore(instance->id, key->id).status();
      step = "restore_key";
    } else if (action == "set-for-deletion") {
      done = service.SetKeyForDeletion(instance->id, key->id);
      step = "set_key_for_deletion";
    } else if (action == "unset-for-deletion") {
      done = service.UnsetKeyForDeletion(instance->id, key->id);
      step = "unset_key_for_deletion";
    } else {
      return ErrorResponse(base::NotFoundError(
          "unknown key action \"" + action +
          "\"; use disable, enable, rotate, delete, restore, "
          "set-for-deletion or unset-for-deletion"));
    }
    if (recorder) {
      json fields = {{"key", recorder->KeyName(env, key->id)}};
      if (*force) fields["force"] = true;
      json recorded = {{step, fields}};
      if (!done.ok()) recorded["expect"] = {{"ok", false}};
      recorder->Step(recorded);
    }
    if (!done.ok()) return ErrorResponse(done);
    RefreshModes(rt);
    base::StatusOr<kms::Key> after = service.GetKey(instance->id, key->id);
    return JsonResponse(200, after.ok() ? KeyJson(*after) : json::object());
  }

  // /v1/clusters/...
  if (s[0] == "clusters") {
    auto cluster_json = [&](Cluster& cluster) -> json {
      std::string out, err;
      int code = RunKsCommand(
          rt, {"cluster", "get", "-c", cluster.spec().name, "--output", "json"},
          out, err);
      json item = code == 0 ? json::parse(out, nullptr, false) : json();
      if (!item.is_object()) item = {{"name", cluster.spec().name}};
      item["apiURL"] = "https://" + cluster.master_endpoint();
      item["token"] = cluster.api_token();
      if (std::shared_ptr<Master> master = rt.FindMaster(cluster.spec().name)) {
        item["serveMode"] = apiserver::ServeModeName(master->api->mode());
        item["unusableMaster"] =
            apiserver::ServeModeName(master->unusable_mode);
        if (master->etcd) {
          item["etcdURL"] =
              "http://" +
              base::JoinHostPort(options.address, master->etcd->port());
        }
      }
      return item;
    };
    if (s.size() == 1) {
      if (method == "GET") {
        json items = json::array();
        for (Cluster* cluster : env.Clusters()) {
          items.push_back(cluster_json(*cluster));
        }
        return JsonResponse(200, {{"clusters", items}});
      }
      if (method != "POST") return route_error();
      base::StatusOr<json> body =
          ParseBody(request, {"name", "version", "infrastructure", "workers",
                              "region", "flavor", "zone"});
      if (!body.ok()) return ErrorResponse(body.status());
      base::StatusOr<std::string> name =
          StringField(*body, "name", true, "\"prod\"");
      if (!name.ok()) return ErrorResponse(name.status());
      base::StatusOr<std::string> version_text =
          StringField(*body, "version", true, "\"1.19.16_1540\"");
      if (!version_text.ok()) return ErrorResponse(version_text.status());
      base::StatusOr<Version> version = Version::Parse(*version_text);
      if (!version.ok()) return ErrorResponse(version.status());
      ClusterSpec spec;
      spec.name = *name;
      spec.version = *version;
      base::StatusOr<std::string> infrastructure =
          StringField(*body, "infrastructure", false, "\"classic\"");
      if (!infrastructure.ok()) return ErrorResponse(infrastructure.status());
      if (*infrastructure == "vpc") {
        spec.infrastructure = Infrastructure::kVpc;
      } else if (!infrastructure->empty() && *infrastructure != "classic") {
        return ErrorResponse(base::InvalidArgumentError(
            "invalid field \"infrastructure\": \"" + *infrastructure +
            "\"; expected classic or vpc"));
      }
      auto workers = body->find("workers");
      if (workers != body->end()) {
        // A negative integer is number_integer but not number_unsigned.
        if (!workers->is_number_unsigned() ||
            workers->get<uint64_t>() > static_cast<uint64_t>(kMaxWorkers)) {
          return ErrorResponse(base::InvalidArgumentError(
              "invalid field \"workers\": " + workers->dump() +
              " is not a worker count from 0 to " +
              std::to_string(kMaxWorkers)));
        }
        spec.workers = static_cast<int>(workers->get<uint64_t>());
      }
      for (auto [field, target] :
           {std::pair{"region", &spec.region},
            std::pair{"flavor", &spec.flavor}, std::pair{"zone", &spec.zone}}) {
        base::StatusOr<std::string> value =
            StringField(*body, field, false, "\"us-south\"");
        if (!value.ok()) return ErrorResponse(value.status());
        if (!value->empty()) *target = *value;
      }
      base::StatusOr<Cluster*> created =
          env.CreateCluster(spec, env.account().owner());
      base::Status attached = AttachMasters(rt);
      if (!created.ok()) return ErrorResponse(created.status());
      if (!attached.ok()) return ErrorResponse(attached);
      (void)WriteKubeconfig(rt);
      (void)SaveState(rt);
      if (recorder) recorder->AddCluster(**created);
      return JsonResponse(201, cluster_json(**created));
    }
    base::StatusOr<Cluster*> found = env.FindCluster(s[1]);
    if (!found.ok()) return ErrorResponse(found.status());
    Cluster& cluster = **found;
    if (s.size() == 2 && method == "GET") {
      return JsonResponse(200, cluster_json(cluster));
    }
    if (s.size() != 3) return route_error();

    if (s[2] == "kms" && method == "POST") {
      base::StatusOr<json> body =
          ParseBody(request, {"instance", "key", "public_endpoint", "user"});
      if (!body.ok()) return ErrorResponse(body.status());
      base::StatusOr<std::string> instance_name =
          StringField(*body, "instance", true, "\"kp\"");
      if (!instance_name.ok()) return ErrorResponse(instance_name.status());
      base::StatusOr<std::string> key_name =
          StringField(*body, "key", true, "\"root-key-1\"");
      if (!key_name.ok()) return ErrorResponse(key_name.status());
      base::StatusOr<bool> public_endpoint =
          BoolField(*body, "public_endpoint");
      if (!public_endpoint.ok()) return ErrorResponse(public_endpoint.status());
      base::StatusOr<std::string> user =
          StringField(*body, "user", false, "\"admin@example.com\"");
      if (!user.ok()) return ErrorResponse(user.status());
      base::StatusOr<kms::Instance> instance =
          FindInstance(env, *instance_name);
      if (!instance.ok()) return ErrorResponse(instance.status());
      base::StatusOr<std::string> resolved =
          ResolveKey(env, *instance, *key_name);
      if (!resolved.ok()) return ErrorResponse(resolved.status());
      const std::string& key_id = *resolved;
      base::Status enabled =
          cluster.EnableKmsAs(user->empty() ? env.account().owner() : *user,
                              instance->id, key_id, *public_endpoint);
      if (recorder) {
        json fields = {{"cluster", cluster.spec().name},
                       {"instance", recorder->InstanceName(instance->id)},
                       {"key", recorder->KeyName(env, key_id)}};
        if (*public_endpoint) fields["public_endpoint"] = true;
        if (!user->empty()) fields["as"] = *user;
        json recorded = {{"kms_enable", fields}};
        if (!enabled.ok()) recorded["expect"] = {{"ok", false}};
        recorder->Step(recorded);
      }
      if (!enabled.ok()) return ErrorResponse(enabled);
      return JsonResponse(202, cluster_json(cluster));
    }
    if (s[2] == "rewrite-secrets" && method == "POST") {
      base::StatusOr<json> body = ParseBody(request, {});
      if (!body.ok()) return ErrorResponse(body.status());
      base::StatusOr<int> written = cluster.RewriteAllSecrets();
      if (recorder) {
        json recorded = {
            {"rewrite_secrets", {{"cluster", cluster.spec().name}}}};
        if (!written.ok()) recorded["expect"] = {{"ok", false}};
        recorder->Step(recorded);
      }
      if (!written.ok()) return ErrorResponse(written.status());
      return JsonResponse(200, {{"written", *written}});
    }
    if (s[2] == "unusable-master" && (method == "PUT" || method == "POST")) {
      base::StatusOr<json> body = ParseBody(request, {"mode"});
      if (!body.ok()) return ErrorResponse(body.status());
      base::StatusOr<std::string> mode_text =
          StringField(*body, "mode", true, "\"refuse\"");
      if (!mode_text.ok()) return ErrorResponse(mode_text.status());
      std::optional<apiserver::ServeMode> mode =
          apiserver::ParseServeMode(*mode_text);
      if (!mode || *mode == apiserver::ServeMode::kServe) {
        return ErrorResponse(base::InvalidArgumentError(
            "invalid field \"mode\": \"" + *mode_text +
            "\"; expected timeout (connects time out), hang (connections "
            "open, no response), refuse (connection refused) or unavailable "
            "(HTTP 503)"));
      }
      std::shared_ptr<Master> master = rt.FindMaster(cluster.spec().name);
      if (!master) {
        return ErrorResponse(base::NotFoundError(
            "cluster " + cluster.spec().name + " has no API server"));
      }
      {
        std::lock_guard modes_lock(modes_mu);
        master->unusable_mode = *mode;
      }
      RefreshModes(rt);
      return JsonResponse(200, cluster_json(cluster));
    }
    return route_error();
  }
  return route_error();
}

}  // namespace sim
