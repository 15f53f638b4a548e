// Watches of the etcd Store. Each watch has its own /v3/watch stream and a
// thread that reads it and runs the callback. When the stream breaks, the
// thread reopens it on the next member from the revision after the last
// event it delivered, as etcd's Go client does, so that no event is lost or
// repeated.
#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "base/log.h"
#include "etcd-store/remote_http.h"
#include "etcd-store/remote_json.h"
#include "etcd-store/remote_store_impl.h"

namespace etcd::remote_internal {

base::StatusOr<std::unique_ptr<HttpLineStream>> EtcdStore::OpenWatchStream(
    const WatchRequest& request, WatchResponse& created) {
  auto deadline = std::chrono::steady_clock::now() + timeout_;
  std::string body = EncodeWatchCreate(request);
  base::Status last_error =
      base::UnavailableError("etcd-store: no etcd member to watch");
  for (size_t attempt = 0; attempt < endpoints_.size(); ++attempt) {
    size_t member = PreferredMember();
    base::StatusOr<std::unique_ptr<HttpLineStream>> stream =
        HttpLineStream::Open(endpoints_[member], "/v3/watch", body,
                             Remaining(deadline));
    base::StatusOr<std::string> line =
        stream.ok() ? (*stream)->ReadLine() : stream.status();
    if (!line.ok()) {
      last_error = line.status();
      MemberFailed(member, last_error);
      continue;
    }
    MemberAnswered(member);
    base::StatusOr<WatchResponse> response = DecodeWatchLine(*line);
    if (!response.ok()) return response.status();
    if (!response->created) {
      return base::InternalError(
          "etcd-store: invalid watch stream: the first response is not a "
          "creation: " +
          *line);
    }
    created = std::move(*response);
    return std::move(*stream);
  }
  return last_error;
}

base::StatusOr<int64_t> EtcdStore::Watch(const WatchRequest& request,
                                         WatchCallback callback) {
  WatchResponse created;
  ASSIGN_OR_RETURN(std::unique_ptr<HttpLineStream> stream,
                   OpenWatchStream(request, created));

  auto watch = std::make_shared<RemoteWatch>();
  {
    std::lock_guard lock(watch_mu_);
    watch->id = next_watch_id_++;
    watches_[watch->id] = watch;
  }
  watch->request = request;
  watch->callback = std::move(callback);
  watch->next_revision = request.start_revision > 0
                             ? request.start_revision
                             : created.header.revision + 1;
  watch->stream = std::move(stream);

  int64_t id = watch->id;
  Deliver(*watch, std::move(created));
  // The callback may have canceled the watch already; then no thread runs.
  std::lock_guard lock(watch->mu);
  if (!watch->stopping) {
    watch->thread = std::thread([this, watch] { RunWatch(watch); });
  }
  return id;
}

base::Status EtcdStore::CancelWatch(int64_t watch_id) {
  std::shared_ptr<RemoteWatch> watch;
  {
    std::lock_guard lock(watch_mu_);
    auto it = watches_.find(watch_id);
    if (it == watches_.end()) {
      return base::NotFoundError("etcd-store: watch " +
                                 std::to_string(watch_id) + " not found");
    }
    watch = std::move(it->second);
    watches_.erase(it);
  }

  std::thread thread;
  {
    std::lock_guard lock(watch->mu);
    watch->stopping = true;
    if (watch->stream != nullptr) watch->stream->Shutdown();
    thread = std::move(watch->thread);
  }
  watch->stopped.notify_all();
  {
    // Waits for a callback of this watch that is running on another thread.
    std::lock_guard deliver(watch->deliver_mu);
    watch->active = false;
  }
  if (thread.joinable()) {
    // A callback that cancels its own watch runs on the watch's thread,
    // which ends by itself once the callback returns.
    if (thread.get_id() == std::this_thread::get_id()) {
      thread.detach();
    } else {
      thread.join();
    }
  }
  return base::OkStatus();
}

bool EtcdStore::Deliver(RemoteWatch& watch, WatchResponse response) {
  std::lock_guard deliver(watch.deliver_mu);
  if (!watch.active) return false;
  // etcd numbers watches per stream; the Store numbers them per store.
  response.watch_id = watch.id;
  watch.callback(response);
  return true;
}

void EtcdStore::RunWatch(std::shared_ptr<RemoteWatch> watch) {
  while (true) {
    HttpLineStream* stream = nullptr;
    {
      std::lock_guard lock(watch->mu);
      if (watch->stopping) return;
      stream = watch->stream.get();
    }
    // Only this thread replaces the stream, so it stays valid here.
    base::StatusOr<std::string> line = stream->ReadLine();
    base::StatusOr<WatchResponse> response =
        line.ok() ? DecodeWatchLine(*line) : line.status();
    if (!response.ok()) {
      if (!Resume(*watch)) return;
      continue;
    }
    if (response->created) continue;
    if (!response->events.empty()) {
      watch->next_revision = response->events.back().kv.mod_revision + 1;
    } else if (!response->canceled && response->header.revision > 0) {
      // A progress response: no event up to its revision is missing. The
      // maximum keeps a start revision in the future.
      watch->next_revision =
          std::max(watch->next_revision, response->header.revision + 1);
    }
    bool canceled = response->canceled;
    if (!Deliver(*watch, std::move(*response))) return;
    // etcd ended the watch, for example because its start was compacted.
    if (canceled) return;
  }
}

bool EtcdStore::Resume(RemoteWatch& watch) {
  WatchRequest request = watch.request;
  request.start_revision = watch.next_revision;
  std::chrono::milliseconds delay = retry_delay_;
  while (true) {
    {
      std::lock_guard lock(watch.mu);
      if (watch.stopping) return false;
    }
    WatchResponse created;
    base::StatusOr<std::unique_ptr<HttpLineStream>> stream =
        OpenWatchStream(request, created);
    if (stream.ok()) {
      std::lock_guard lock(watch.mu);
      if (watch.stopping) return false;
      watch.stream = std::move(*stream);
      spdlog::info("etcd-store: resumed watch {} from revision {}", watch.id,
                   request.start_revision);
      return true;
    }
    spdlog::warn("etcd-store: reopening watch {} failed, retrying: {}",
                 watch.id, stream.status().ToString());
    // NOTE: waits on the real clock, because the cluster runs on it.
    std::unique_lock lock(watch.mu);
    if (watch.stopped.wait_for(lock, delay, [&] { return watch.stopping; })) {
      return false;
    }
    delay = std::min(delay * 2, std::chrono::milliseconds(1000));
  }
}

}  // namespace etcd::remote_internal
