// Watch streams of ApiHandler: one JSON object per line,
// {"type":"ADDED","object":{...}}, with Table objects when the client asks
// for them, BOOKMARK events when it allows them, and an end after
// timeoutSeconds.
#include <spdlog/spdlog.h>

#include <charconv>
#include <memory>
#include <mutex>
#include <vector>

#include "apiserver/api_internal.h"

namespace apiserver {
namespace {

struct WatchParameters {
  std::string resource_version;
  std::optional<bool> send_initial_events;
  bool allow_bookmarks = false;
  std::optional<base::Duration> timeout;
  bool as_table = false;
};

bool IsTrue(const std::string& value) {
  return value == "true" || value == "1";
}

base::Status InvalidListOptions(const std::string& error) {
  return base::InvalidArgumentError(
      "ListOptions.meta.k8s.io \"\" is invalid: " + error, "Invalid");
}

base::StatusOr<WatchParameters> ParseWatchParameters(const ApiRequest& request,
                                                     const Query& query) {
  WatchParameters parameters;
  parameters.as_table = WantsTable(request);
  if (auto it = query.find("resourceVersion"); it != query.end()) {
    parameters.resource_version = it->second;
  }
  if (auto it = query.find("allowWatchBookmarks"); it != query.end()) {
    parameters.allow_bookmarks = IsTrue(it->second);
  }
  if (auto it = query.find("timeoutSeconds"); it != query.end()) {
    int64_t seconds = 0;
    const char* end = it->second.data() + it->second.size();
    auto [parsed_end, error] = std::from_chars(it->second.data(), end, seconds);
    if (error != std::errc() || parsed_end != end || seconds < 0) {
      return base::InvalidArgumentError("invalid timeoutSeconds: " + it->second,
                                        "BadRequest");
    }
    if (seconds > 0) parameters.timeout = std::chrono::seconds(seconds);
  }
  auto match = query.find("resourceVersionMatch");
  if (auto it = query.find("sendInitialEvents"); it != query.end()) {
    parameters.send_initial_events = IsTrue(it->second);
    if (match == query.end() || match->second != "NotOlderThan") {
      return InvalidListOptions(
          "resourceVersionMatch: Forbidden: sendInitialEvents requires "
          "setting resourceVersionMatch to NotOlderThan");
    }
    if (*parameters.send_initial_events && !parameters.allow_bookmarks) {
      return InvalidListOptions(
          "allowWatchBookmarks: Forbidden: allowWatchBookmarks must be set "
          "to true when sendInitialEvents is true");
    }
  } else if (match != query.end()) {
    return InvalidListOptions(
        "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden "
        "for watch unless sendInitialEvents is provided");
  }
  return parameters;
}

// The state of one watch stream, shared by the registry's event handler,
// the clock's timers and the function that stops the stream.
struct WatchStream {
  std::mutex mu;
  StreamSink sink;            // constant after construction
  bool ended = false;         // guarded by mu
  int64_t last_revision = 0;  // guarded by mu
  int64_t watch_id = -1;      // guarded by mu; -1 before it starts
  std::optional<base::Clock::TimerId> bookmark_timer;  // guarded by mu
  std::optional<base::Clock::TimerId> timeout_timer;   // guarded by mu
};

std::string EventLine(const std::string& type, const Json& object) {
  return Json{{"type", type}, {"object", object}}.dump(
             -1, ' ', false, Json::error_handler_t::replace) +
         "\n";
}

int64_t RevisionOf(const Json& object) {
  const std::string version =
      object.value("metadata", Json::object()).value("resourceVersion", "");
  int64_t revision = 0;
  std::from_chars(version.data(), version.data() + version.size(), revision);
  return revision;
}

// Sends a BOOKMARK with the newest revision this stream has delivered.
// NOTE: events of later revisions may still be on their way from the store,
// so an idle watch's bookmarks stay at its starting revision.
// REQUIRES: stream.mu is held.
void SendBookmark(WatchStream& stream, const Resource& resource) {
  stream.sink(EventLine("BOOKMARK",
                        BookmarkObject(resource, stream.last_revision, false)));
}

// Sends a BOOKMARK every `interval` until the stream ends.
// REQUIRES: stream->mu is held.
void ScheduleBookmark(std::shared_ptr<WatchStream> stream, base::Clock& clock,
                      base::Duration interval, const Resource& resource) {
  std::weak_ptr<WatchStream> weak = stream;
  stream->bookmark_timer =
      clock.ScheduleAfter(interval, [weak, &clock, interval, &resource] {
        std::shared_ptr<WatchStream> alive = weak.lock();
        if (!alive) return;
        std::lock_guard<std::mutex> lock(alive->mu);
        if (alive->ended) return;
        SendBookmark(*alive, resource);
        ScheduleBookmark(alive, clock, interval, resource);
      });
}

// The type of `event` as a watch with `selector` sends it, or "" when the
// watch skips it. As upstream's watch cache, a change that makes an object
// match is ADDED, and one that makes it stop matching is DELETED with the
// object's state before the change.
std::string FilteredEventType(const WatchEvent& event,
                              const ApiHandler::Selector& selector) {
  if (selector.empty()) return event.type;
  const bool matches = selector.Matches(event.object);
  if (event.type != "MODIFIED") return matches ? event.type : "";
  const bool matched =
      event.previous.is_object() && selector.Matches(event.previous);
  if (matches) return matched ? "MODIFIED" : "ADDED";
  return matched ? "DELETED" : "";
}

}  // namespace

ApiResponse ApiHandler::Watch(const ApiRequest& request, const Route& route,
                              const Selector& selector) {
  base::StatusOr<WatchParameters> parsed =
      ParseWatchParameters(request, route.query);
  if (!parsed.ok()) return FailureResponse(parsed.status());
  const WatchParameters parameters = *parsed;

  ApiResponse response;
  response.stream = [this, route, selector, parameters](StreamSink sink) {
    auto stream = std::make_shared<WatchStream>();
    stream->sink = std::move(sink);
    const Resource& resource = *route.resource;

    auto on_event = [this, stream, selector, parameters,
                     &resource](const WatchEvent& event) {
      std::lock_guard<std::mutex> lock(stream->mu);
      if (stream->ended) return;
      if (event.type != "ERROR") {
        stream->last_revision =
            std::max(stream->last_revision, RevisionOf(event.object));
      }
      const bool object_event = event.type == "ADDED" ||
                                event.type == "MODIFIED" ||
                                event.type == "DELETED";
      std::string type = event.type;
      const Json* sent = &event.object;
      if (object_event) {
        type = FilteredEventType(event, selector);
        if (type.empty()) return;
        if (type == "DELETED" && event.type == "MODIFIED") {
          sent = &event.previous;
        }
      }
      const Json object = object_event && parameters.as_table
                              ? Table(resource, {*sent}, "", clock_.Now())
                              : *sent;
      stream->sink(EventLine(type, object));
      if (event.type == "ERROR") {
        stream->ended = true;
        stream->sink(std::nullopt);
      }
    };

    WatchOptions options;
    options.resource_version = parameters.resource_version;
    options.send_initial_events = parameters.send_initial_events;
    options.initial_events_end_bookmark = parameters.allow_bookmarks;
    options.previous_objects = !selector.empty();
    base::StatusOr<WatchStarted> started =
        registry_.Watch(resource, route.ns, options, on_event);
    if (!started.ok()) {
      on_event({"ERROR", FailureStatus(started.status())});
      return std::function<void()>([] {});
    }

    std::lock_guard<std::mutex> lock(stream->mu);
    stream->watch_id = started->id;
    stream->last_revision = std::max(stream->last_revision, started->revision);
    if (parameters.allow_bookmarks && !stream->ended) {
      ScheduleBookmark(stream, clock_, options_.bookmark_interval, resource);
    }
    if (parameters.timeout.has_value() && !stream->ended) {
      const bool bookmarks = parameters.allow_bookmarks;
      stream->timeout_timer = clock_.ScheduleAfter(
          *parameters.timeout, [stream, bookmarks, &resource] {
            std::lock_guard<std::mutex> timer_lock(stream->mu);
            if (stream->ended) return;
            if (bookmarks) SendBookmark(*stream, resource);
            stream->ended = true;
            stream->sink(std::nullopt);
          });
    }

    return std::function<void()>([this, stream] {
      std::vector<base::Clock::TimerId> timers;
      int64_t watch_id = -1;
      {
        std::lock_guard<std::mutex> stop_lock(stream->mu);
        stream->ended = true;
        for (auto* timer : {&stream->bookmark_timer, &stream->timeout_timer}) {
          if (timer->has_value()) timers.push_back(**timer);
          timer->reset();
        }
        watch_id = stream->watch_id;
      }
      // Outside the lock: cancelling waits for a running event handler,
      // which takes the lock.
      for (base::Clock::TimerId timer : timers) clock_.Cancel(timer);
      if (watch_id < 0) return;
      base::Status cancelled = registry_.CancelWatch(watch_id);
      if (!cancelled.ok()) {
        spdlog::warn("apiserver: failed to cancel watch {}: {}", watch_id,
                     cancelled.ToString());
      }
    });
  };
  return response;
}

}  // namespace apiserver
