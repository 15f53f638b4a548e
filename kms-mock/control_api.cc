// The /control/ endpoints of api.h: faults, events, instances, the clock
// and call counts, for tests and harnesses.
#include <charconv>
#include <set>
#include <sstream>
#include <utility>

#include "base/clock_limits.h"
#include "base/json_depth.h"
#include "kms-mock/api_internal.h"

namespace kms {

bool EventFilter::Matches(const KeyEvent& event) const {
  return (instance_id.empty() || instance_id == event.instance_id) &&
         (key_id.empty() || key_id == event.key_id) &&
         (types.empty() || std::ranges::find(types, event.type) != types.end());
}

std::string EventJsonLine(const KeyEvent& event) {
  nlohmann::json line = {{"type", KeyEventTypeName(event.type)},
                         {"instance", event.instance_id},
                         {"key", event.key_id},
                         {"time", base::FormatRfc3339(event.time)}};
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
         "\n";
}

namespace api_internal {
namespace {

template <typename T>
using Expected = std::expected<T, ApiError>;

std::optional<KeyEventType> ParseEventType(std::string_view name) {
  for (int i = 0; i <= static_cast<int>(KeyEventType::kPurged); ++i) {
    auto type = static_cast<KeyEventType>(i);
    if (KeyEventTypeName(type) == name) return type;
  }
  return std::nullopt;
}

ApiError NotFound(std::string message) {
  return ApiError{404, "NOT_FOUND_ERR", std::move(message)};
}

ApiError MethodNotAllowed(const std::string& method) {
  return ApiError{
      405, "METHOD_NOT_ALLOWED_ERR",
      "method " + method + " is not allowed on this control resource"};
}

Expected<Json> ParseObject(const HttpRequest& request) {
  Json body = base::JsonNestedDeeperThan(request.body)
                  ? Json(Json::value_t::discarded)
                  : Json::parse(request.body, nullptr,
                                /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    return std::unexpected(BadBody("the body is not valid JSON"));
  }
  if (!body.is_object()) {
    return std::unexpected(BadBody("the body must be a JSON object"));
  }
  return body;
}

// Rejects fields outside `allowed`, so that a misspelt field is not
// silently ignored.
std::optional<ApiError> CheckFields(
    const Json& body, std::initializer_list<std::string_view> allowed) {
  for (const auto& [name, value] : body.items()) {
    if (std::ranges::find(allowed, name) == allowed.end()) {
      return InvalidField(name, "unknown field " + name);
    }
  }
  return std::nullopt;
}

Expected<std::string> StringField(const Json& body, const std::string& name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return std::string();
  if (!it->is_string()) {
    return std::unexpected(
        InvalidField(name, "field " + name + " must be a string"));
  }
  return it->get<std::string>();
}

template <typename T>
Expected<std::optional<T>> NumberField(const Json& body,
                                       const std::string& name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return std::nullopt;
  bool valid = std::is_floating_point_v<T> ? it->is_number()
               : std::is_unsigned_v<T>     ? it->is_number_unsigned()
                                           : it->is_number_integer();
  if (!valid) {
    return std::unexpected(InvalidField(
        name, "field " + name + " must be " +
                  (std::is_floating_point_v<T> ? "a number"
                   : std::is_unsigned_v<T>     ? "a non-negative integer"
                                               : "an integer")));
  }
  return it->get<T>();
}

Expected<std::optional<base::Duration>> DurationField(const Json& body,
                                                      const std::string& name) {
  Expected<std::string> text = StringField(body, name);
  if (!text) return std::unexpected(text.error());
  if (text->empty()) return std::nullopt;
  std::optional<base::Duration> duration = base::ParseDuration(*text);
  if (!duration || *duration <= base::Duration(0)) {
    return std::unexpected(InvalidField(
        name, "field " + name +
                  " must be a positive duration such as 250ms, 2s or 1h30m, "
                  "got \"" +
                  *text + "\""));
  }
  return duration;
}

// --- Faults ---

Json FaultJson(const FaultInfo& info) {
  const FaultSpec& spec = info.spec;
  Json json = {{"id", info.id},
               {"kind", FaultKindName(spec.kind)},
               {"nth", spec.nth},
               {"rate", spec.rate},
               {"seed", spec.seed},
               {"max_hits", spec.max_hits},
               {"matched", info.matched},
               {"hits", info.hits},
               {"added_latency", base::FormatDuration(info.added_latency)}};
  if (!spec.operation.empty()) json["operation"] = spec.operation;
  if (!spec.instance_id.empty()) json["instance"] = spec.instance_id;
  if (!spec.key_id.empty()) json["key"] = spec.key_id;
  switch (spec.kind) {
    case FaultKind::kLatency:
      json["latency"] = base::FormatDuration(spec.latency);
      break;
    case FaultKind::kError:
      json["status"] = spec.http_status;
      json["reason"] = spec.reason;
      if (!spec.message.empty()) json["message"] = spec.message;
      break;
    case FaultKind::kOutage:
      json["mode"] = OutageModeName(spec.outage);
      break;
  }
  if (spec.expires_at)
    json["expires_at"] = base::FormatRfc3339(*spec.expires_at);
  return json;
}

// Reads the scope fields of a fault.
std::optional<ApiError> ParseFaultScope(const Json& body, FaultSpec& spec) {
  for (auto [name, field] : {std::pair{"operation", &spec.operation},
                             std::pair{"instance", &spec.instance_id},
                             std::pair{"key", &spec.key_id}}) {
    Expected<std::string> value = StringField(body, name);
    if (!value) return value.error();
    *field = *value;
  }
  if (!spec.operation.empty() && !IsFaultOperation(spec.operation)) {
    return InvalidField("operation",
                        "unknown operation \"" + spec.operation +
                            "\"; use wrap, unwrap, rewrap, rotate, get_key, "
                            "list_keys, create_key, disable, enable, delete, "
                            "restore, purge, ... as /control/calls names them");
  }
  return std::nullopt;
}

// Reads the effect fields of a fault of spec.kind.
std::optional<ApiError> ParseFaultEffect(const Json& body, FaultSpec& spec) {
  if (spec.kind == FaultKind::kLatency) {
    Expected<std::optional<base::Duration>> latency =
        DurationField(body, "latency");
    if (!latency) return latency.error();
    if (!*latency) {
      return InvalidField("latency", "a latency fault needs field latency");
    }
    spec.latency = **latency;
  }
  if (spec.kind == FaultKind::kError) {
    Expected<std::optional<int>> status = NumberField<int>(body, "status");
    if (!status) return status.error();
    spec.http_status = status->value_or(503);
    if (spec.http_status < 400 || spec.http_status > 599) {
      return InvalidField("status", "field status must be from 400 to 599");
    }
    Expected<std::string> reason = StringField(body, "reason");
    if (!reason) return reason.error();
    spec.reason = *reason;
    Expected<std::string> message = StringField(body, "message");
    if (!message) return message.error();
    spec.message = *message;
  }
  if (spec.kind == FaultKind::kOutage) {
    Expected<std::string> mode = StringField(body, "mode");
    if (!mode) return mode.error();
    std::optional<OutageMode> parsed =
        mode->empty() ? OutageMode::kRefuse : ParseOutageMode(*mode);
    if (!parsed) {
      return InvalidField("mode", "field mode must be refuse or hang");
    }
    spec.outage = *parsed;
  }
  return std::nullopt;
}

// Reads the trigger fields of a fault.
std::optional<ApiError> ParseFaultTrigger(const Json& body, FaultSpec& spec) {
  Expected<std::optional<int64_t>> nth = NumberField<int64_t>(body, "nth");
  if (!nth) return nth.error();
  spec.nth = nth->value_or(0);
  if (spec.nth < 0) return InvalidField("nth", "field nth must be >= 0");

  Expected<std::optional<double>> rate = NumberField<double>(body, "rate");
  if (!rate) return rate.error();
  spec.rate = rate->value_or(1.0);
  if (!(spec.rate >= 0.0 && spec.rate <= 1.0)) {
    return InvalidField("rate", "field rate must be from 0 to 1");
  }

  Expected<std::optional<uint64_t>> seed = NumberField<uint64_t>(body, "seed");
  if (!seed) return seed.error();
  spec.seed = seed->value_or(1);

  Expected<std::optional<int64_t>> max_hits =
      NumberField<int64_t>(body, "max_hits");
  if (!max_hits) return max_hits.error();
  spec.max_hits = max_hits->value_or(0);
  if (spec.max_hits < 0) {
    return InvalidField("max_hits", "field max_hits must be >= 0");
  }
  return std::nullopt;
}

Expected<FaultSpec> ParseFault(const Json& body, base::Time now) {
  if (std::optional<ApiError> error =
          CheckFields(body, {"kind", "operation", "instance", "key", "latency",
                             "status", "reason", "message", "mode", "nth",
                             "rate", "seed", "max_hits", "duration"})) {
    return std::unexpected(*error);
  }
  FaultSpec spec;
  Expected<std::string> kind = StringField(body, "kind");
  if (!kind) return std::unexpected(kind.error());
  std::optional<FaultKind> parsed = ParseFaultKind(*kind);
  if (!parsed) {
    return std::unexpected(
        InvalidField("kind", "field kind must be latency, error or outage"));
  }
  spec.kind = *parsed;

  for (auto parse : {ParseFaultScope, ParseFaultEffect, ParseFaultTrigger}) {
    if (std::optional<ApiError> error = parse(body, spec)) {
      return std::unexpected(*error);
    }
  }
  Expected<std::optional<base::Duration>> duration =
      DurationField(body, "duration");
  if (!duration) return std::unexpected(duration.error());
  if (*duration) spec.expires_at = now + **duration;
  return spec;
}

Expected<uint64_t> FaultId(const std::string& text) {
  uint64_t id = 0;
  auto [end, error] =
      std::from_chars(text.data(), text.data() + text.size(), id);
  if (error != std::errc() || end != text.data() + text.size()) {
    return std::unexpected(
        InvalidField("id", "fault id must be an integer, got " + text, "path"));
  }
  return id;
}

HttpResponse Faults(const ControlContext& context, const HttpRequest& request,
                    const Target& target) {
  FaultInjector& faults = context.service.faults();
  constexpr std::string_view kSummary = "Fault request could not be processed";
  if (target.segments.size() == 3) {
    Expected<uint64_t> id = FaultId(target.segments[2]);
    if (!id) return ErrorResponse(id.error(), kSummary);
    std::optional<FaultInfo> info = faults.Get(*id);
    if (!info) {
      return ErrorResponse(NotFound("no fault with id " + target.segments[2]),
                           kSummary);
    }
    if (request.method == "GET") return JsonResponse(200, FaultJson(*info));
    if (request.method == "DELETE") {
      faults.Remove(*id);
      return HttpResponse{204, {}, ""};
    }
    return ErrorResponse(MethodNotAllowed(request.method), kSummary);
  }

  if (request.method == "GET") {
    Json list = Json::array();
    for (const FaultInfo& info : faults.List()) list.push_back(FaultJson(info));
    return JsonResponse(200, Json{{"faults", std::move(list)}});
  }
  if (request.method == "DELETE") {
    faults.Clear();
    return HttpResponse{204, {}, ""};
  }
  if (request.method != "POST") {
    return ErrorResponse(MethodNotAllowed(request.method), kSummary);
  }
  Expected<Json> body = ParseObject(request);
  if (!body) return ErrorResponse(body.error(), kSummary);
  Expected<FaultSpec> spec = ParseFault(*body, context.clock.Now());
  if (!spec) return ErrorResponse(spec.error(), kSummary);
  base::StatusOr<uint64_t> id = faults.Add(*spec);
  if (!id.ok()) {
    return ErrorResponse(InvalidField("body", id.status().message()), kSummary);
  }
  std::optional<FaultInfo> info = faults.Get(*id);
  // An expiry already past cannot remove it before this read, but a
  // concurrent DELETE can.
  if (!info) return ErrorResponse(NotFound("fault was removed"), kSummary);
  return JsonResponse(201, FaultJson(*info));
}

// --- Events, instances, clock, calls ---

HttpResponse Events(const HttpRequest& request, const Target& target) {
  constexpr std::string_view kSummary = "Events could not be streamed";
  if (request.method != "GET") {
    return ErrorResponse(MethodNotAllowed(request.method), kSummary);
  }
  EventFilter filter;
  if (auto it = target.query.find("instance"); it != target.query.end()) {
    filter.instance_id = it->second;
  }
  if (auto it = target.query.find("key"); it != target.query.end()) {
    filter.key_id = it->second;
  }
  if (auto it = target.query.find("type"); it != target.query.end()) {
    std::stringstream list(it->second);
    std::string name;
    while (std::getline(list, name, ',')) {
      std::optional<KeyEventType> type = ParseEventType(name);
      if (!type) {
        return ErrorResponse(
            InvalidField("type", "unknown event type \"" + name + "\"",
                         "query"),
            kSummary);
      }
      filter.types.push_back(*type);
    }
  }
  HttpResponse response;
  response.headers["content-type"] = "application/x-ndjson";
  response.events = std::move(filter);
  return response;
}

Json InstanceJson(const Instance& instance) {
  return Json{{"id", instance.id},
              {"name", instance.name},
              {"type", InstanceTypeName(instance.type)},
              {"region", instance.region}};
}

HttpResponse Instances(const ControlContext& context,
                       const HttpRequest& request) {
  constexpr std::string_view kSummary = "Instance request failed";
  if (request.method == "GET") {
    Json list = Json::array();
    for (const Instance& instance : context.service.ListInstances()) {
      list.push_back(InstanceJson(instance));
    }
    return JsonResponse(200, Json{{"instances", std::move(list)}});
  }
  if (request.method != "POST") {
    return ErrorResponse(MethodNotAllowed(request.method), kSummary);
  }
  Expected<Json> body = ParseObject(request);
  if (!body) return ErrorResponse(body.error(), kSummary);
  if (auto error = CheckFields(*body, {"id", "name", "type"})) {
    return ErrorResponse(*error, kSummary);
  }
  Expected<std::string> id = StringField(*body, "id");
  Expected<std::string> name = StringField(*body, "name");
  Expected<std::string> type = StringField(*body, "type");
  for (const auto* field : {&id, &name, &type}) {
    if (!*field) return ErrorResponse(field->error(), kSummary);
  }
  if (name->empty()) {
    return ErrorResponse(InvalidField("name", "field name is missing"),
                         kSummary);
  }
  std::optional<InstanceType> parsed =
      type->empty() ? InstanceType::kKeyProtect : ParseInstanceType(*type);
  if (!parsed) {
    return ErrorResponse(
        InvalidField("type", "field type must be key-protect or hpcs"),
        kSummary);
  }
  base::StatusOr<Instance> instance =
      context.service.CreateInstance(*name, *parsed, *id);
  if (!instance.ok())
    return ErrorResponse(FromStatus(instance.status()), kSummary);
  return JsonResponse(201, InstanceJson(*instance));
}

HttpResponse ClockJson(const ControlContext& context) {
  return JsonResponse(
      200, Json{{"now", base::FormatRfc3339(context.clock.Now())},
                {"simulated", context.options.simulated_clock != nullptr}});
}

HttpResponse Clock(const ControlContext& context, const HttpRequest& request) {
  constexpr std::string_view kSummary = "Clock could not be moved";
  if (request.method == "GET") return ClockJson(context);
  if (request.method != "POST") {
    return ErrorResponse(MethodNotAllowed(request.method), kSummary);
  }
  base::SimulatedClock* clock = context.options.simulated_clock;
  if (clock == nullptr) {
    return ErrorResponse(
        ApiError{409, "CLOCK_NOT_SIMULATED_ERR",
                 "the server runs on the wall clock; start it with a "
                 "simulated clock to move time"},
        kSummary);
  }
  Expected<Json> body = ParseObject(request);
  if (!body) return ErrorResponse(body.error(), kSummary);
  if (auto error = CheckFields(*body, {"advance", "to"})) {
    return ErrorResponse(*error, kSummary);
  }
  Expected<std::optional<base::Duration>> advance =
      DurationField(*body, "advance");
  if (!advance) return ErrorResponse(advance.error(), kSummary);
  Expected<std::string> to = StringField(*body, "to");
  if (!to) return ErrorResponse(to.error(), kSummary);
  if (advance->has_value() == !to->empty()) {
    return ErrorResponse(BadBody("give exactly one of advance and to"),
                         kSummary);
  }

  if (*advance) {
    if (!base::CanAdvance(clock->Now(), **advance)) {
      return ErrorResponse(
          InvalidField("advance", "field advance would move the clock past " +
                                      base::FormatRfc3339(base::Time::max())),
          kSummary);
    }
    clock->Advance(**advance);
    return ClockJson(context);
  }
  std::optional<base::Time> target = base::ParseRfc3339(*to);
  if (!target || *target < clock->Now()) {
    return ErrorResponse(
        InvalidField("to", "field to must be an RFC 3339 time not before " +
                               base::FormatRfc3339(clock->Now())),
        kSummary);
  }
  clock->AdvanceTo(*target);
  return ClockJson(context);
}

HttpResponse Calls(const ControlContext& context, const HttpRequest& request) {
  if (request.method != "GET") {
    return ErrorResponse(MethodNotAllowed(request.method),
                         "Call counts could not be read");
  }
  Json calls = Json::object();
  for (const auto& [name, count] : context.service.CallCounts()) {
    calls[name] = {{"ok", count.ok}, {"failed", count.failed}};
  }
  return JsonResponse(200, Json{{"calls", std::move(calls)}});
}

}  // namespace

HttpResponse HandleControl(const ControlContext& context,
                           const HttpRequest& request, const Target& target) {
  const std::vector<std::string>& s = target.segments;
  std::string_view resource = s.size() >= 2 ? std::string_view(s[1]) : "";
  if (resource == "faults" && (s.size() == 2 || s.size() == 3)) {
    return Faults(context, request, target);
  }
  if (s.size() == 2) {
    if (resource == "events") return Events(request, target);
    if (resource == "instances") return Instances(context, request);
    if (resource == "clock") return Clock(context, request);
    if (resource == "calls") return Calls(context, request);
  }
  return ErrorResponse(
      NotFound("no control resource at " + request.method + " " +
               request.target.substr(0, request.target.find('?'))),
      "Control request failed");
}

}  // namespace api_internal
}  // namespace kms
