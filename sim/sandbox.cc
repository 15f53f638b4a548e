// The sandbox's lifecycle: the data directory, the clock and its driver,
// the servers of each runtime, master availability, events and snapshots.
#include "sim/sandbox.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <regex>

#include "base/crypto.h"
#include "base/http.h"
#include "sim/json_file.h"
#include "sim/names.h"
#include "sim/sandbox_internal.h"

namespace sim {
namespace {

namespace fs = std::filesystem;

constexpr int kFormat = 1;
constexpr char kDefaultStart[] = "2026-01-01T00:00:00Z";
constexpr char kDefaultCluster[] = "mycluster";
constexpr char kDefaultVersion[] = "1.19.16_1540";
constexpr size_t kRecentEvents = 1000;
// How often the driver moves a real clock; Now() lags the wall clock by at
// most this much (times the speed).
constexpr auto kDriverTick = std::chrono::milliseconds(20);
// An advance moves the clock in steps of this much virtual time and checks
// between steps whether the sandbox is stopping. A step fires 60 KMS polls
// per API server and 12 root key checks per cluster, which took about
// 0.1 ms per cluster on a 2-core machine.
constexpr base::Duration kAdvanceStep = std::chrono::hours(1);
// How far ahead of the clock an advance saves its time, so that it writes
// sandbox.json once a virtual day and not once a step. Measured on a loaded
// 2-core machine, `advance 366d` of one cluster took 1.4 s with a write
// per step and 0.4 s with one per day (0.01 s without writes).
constexpr base::Duration kClockSaveAhead = std::chrono::hours(24);
// How long Stop waits for the control API's responses in progress.
constexpr auto kStopGrace = std::chrono::seconds(5);

// Kubernetes serves these paths to anonymous clients too.
bool IsPublicPath(const std::string& target) {
  std::string path = target.substr(0, target.find('?'));
  for (const char* prefix : {"/healthz", "/livez", "/readyz", "/version"}) {
    if (path == prefix || path.starts_with(std::string(prefix) + "/")) {
      return true;
    }
  }
  return false;
}

apiserver::ApiResponse StatusResponse(int code, const std::string& reason,
                                      const std::string& message) {
  apiserver::ApiResponse response;
  response.status = code;
  response.body =
      json{{"kind", "Status"},
           {"apiVersion", "v1"},
           {"metadata", json::object()},
           {"status", "Failure"},
           {"message", message},
           {"reason", reason},
           {"code", code}}
          .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return response;
}

uint16_t PortOf(const std::string& endpoint) {
  size_t colon = endpoint.rfind(':');
  if (colon == std::string::npos) return 0;
  return static_cast<uint16_t>(std::atoi(endpoint.c_str() + colon + 1));
}

std::string HexToken(base::Random& random) {
  return base::Sha256Hex(random.Bytes(32)).substr(0, 40);
}

base::Status CopyTree(const std::string& from, const std::string& to) {
  RETURN_IF_ERROR(CreatePrivateDirectory(to));
  std::error_code ec;
  {
    fs::copy(from, to,
             fs::copy_options::recursive | fs::copy_options::copy_symlinks, ec);
  }
  if (ec) {
    return base::InternalError("failed to copy " + from + " to " + to + ": " +
                               ec.message());
  }
  return base::OkStatus();
}

constexpr char kClockSpeedExpected[] =
    "expected a number of virtual seconds per real second, greater than 0 "
    "and at most 86400 (a day per second)";

// A speed as %g writes it, so that a huge value stays short.
std::string FormatClockSpeed(double speed) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", speed);
  return text;
}

}  // namespace

base::Status ValidateLoopbackAddress(const std::string& address) {
  switch (base::ClassifyAddress(address)) {
    case base::AddressKind::kLoopback:
      return base::OkStatus();
    case base::AddressKind::kNotIp:
      return base::InvalidArgumentError(
          "invalid address " + QuoteForMessage(address) +
          ": expected a loopback IP address such as 127.0.0.1 or ::1, not a "
          "host name");
    case base::AddressKind::kOtherIp:
      break;
  }
  return base::InvalidArgumentError(
      "invalid address " + address +
      ": the sandbox listens on loopback only (127.0.0.0/8 or ::1)");
}

base::Status ValidateClockSpeed(double speed) {
  if (std::isfinite(speed) && speed > 0 && speed <= kMaxClockSpeed) {
    return base::OkStatus();
  }
  return base::InvalidArgumentError("invalid clock speed " +
                                    FormatClockSpeed(speed) + ": " +
                                    kClockSpeedExpected);
}

base::StatusOr<double> ParseClockSpeed(const std::string& text) {
  double speed = 0;
  const char* end = text.data() + text.size();
  auto [stop, error] = std::from_chars(text.data(), end, speed);
  if (text.empty() || error != std::errc() || stop != end) {
    return base::InvalidArgumentError("invalid clock speed " +
                                      QuoteForMessage(text) + ": " +
                                      kClockSpeedExpected);
  }
  RETURN_IF_ERROR(ValidateClockSpeed(speed));
  return speed;
}

base::Status ValidateSnapshotName(const std::string& name) {
  static const std::regex kPattern(R"([A-Za-z0-9][A-Za-z0-9._-]{0,63})");
  if (std::regex_match(name, kPattern)) return base::OkStatus();
  return base::InvalidArgumentError(
      "invalid snapshot name " + QuoteForMessage(name) +
      ": use 1 to 64 letters, digits, '.', '_' or '-', starting with a "
      "letter or digit");
}

Sandbox::Sandbox(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Sandbox::~Sandbox() { Stop(); }

base::StatusOr<std::unique_ptr<Sandbox>> Sandbox::Start(
    SandboxOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->started = std::chrono::steady_clock::now();
  impl->options = std::move(options);
  RETURN_IF_ERROR(impl->Open());
  return std::unique_ptr<Sandbox>(new Sandbox(std::move(impl)));
}

base::Status Sandbox::Impl::Open() {
  RETURN_IF_ERROR(ValidateOptions());
  state_dir = options.data_dir + "/state";
  snapshot_dir = options.data_dir + "/snapshots";
  std::error_code ec;
  const bool existed = fs::exists(options.data_dir, ec);
  // Only the owner may read the tokens, keys and Secrets in there.
  RETURN_IF_ERROR(CreatePrivateDirectory(options.data_dir));
  RETURN_IF_ERROR(LockDataDir());
  const bool fresh = !fs::exists(options.data_dir + "/sandbox.json", ec);
  base::Status started = Serve(fresh);
  if (!started.ok()) AbandonStart(fresh, existed);
  return started;
}

base::Status Sandbox::Impl::ValidateOptions() const {
  if (options.data_dir.empty()) {
    return base::InvalidArgumentError(
        "missing data directory: pass --data-dir DIR");
  }
  RETURN_IF_ERROR(ValidateLoopbackAddress(options.address));
  if (options.clock && *options.clock != "simulated" &&
      *options.clock != "real") {
    return base::InvalidArgumentError("invalid clock \"" + *options.clock +
                                      "\": expected simulated or real");
  }
  if (options.speed) RETURN_IF_ERROR(ValidateClockSpeed(*options.speed));
  if (options.default_workers < 0 || options.default_workers > kMaxWorkers) {
    return base::InvalidArgumentError(
        "invalid worker count " + std::to_string(options.default_workers) +
        " for the default cluster: expected 0 to " +
        std::to_string(kMaxWorkers));
  }
  return base::OkStatus();
}

base::Status Sandbox::Impl::LockDataDir() {
  const std::string path = options.data_dir + "/sandbox.lock";
  lock_fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0) {
    return base::FailedPreconditionError("failed to open " + path + ": " +
                                         std::strerror(errno));
  }
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    // The process that holds the lock wrote its id into the file.
    char text[32] = {};
    ssize_t n = ::pread(lock_fd, text, sizeof text - 1, 0);
    std::string pid = n > 0 ? std::string(text, static_cast<size_t>(n)) : "";
    pid.erase(pid.find_last_not_of(" \n") + 1);
    ::close(lock_fd);
    lock_fd = -1;
    return base::FailedPreconditionError(
        "data directory " + options.data_dir +
        " is in use by another sim serve" +
        (pid.empty() ? "" : " (PID " + pid + ")") +
        "; stop it first, or pass another --data-dir");
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(lock_fd, 0) != 0 ||
      ::pwrite(lock_fd, pid.data(), pid.size(), 0) !=
          static_cast<ssize_t>(pid.size())) {
    spdlog::warn("sandbox: failed to write the process id to {}: {}", path,
                 std::strerror(errno));
  }
  return base::OkStatus();
}

void Sandbox::Impl::UnlockDataDir() {
  if (lock_fd < 0) return;
  ::close(lock_fd);  // releases the flock
  lock_fd = -1;
}

void Sandbox::Impl::AbandonStart(bool fresh, bool existed) {
  if (control) control->Stop();
  {
    std::unique_lock lock(runtime_mu);
    StopRuntime(/*save=*/!fresh);
  }
  UnlockDataDir();
  if (!fresh) return;
  // A later start on the directory must find it as new, so this start
  // removes what it created.
  std::error_code ec;
  if (!existed) {
    fs::remove_all(options.data_dir, ec);
  } else {
    for (const char* name : {"state", "snapshots", "kubeconfigs", "kubeconfig",
                             "sandbox.json", "sandbox.lock"}) {
      fs::remove_all(options.data_dir + "/" + name, ec);
    }
  }
  if (ec) {
    spdlog::error(
        "sandbox: failed to remove what the failed start created "
        "in {}: {}",
        options.data_dir, ec.message());
  }
}

base::Status Sandbox::Impl::Serve(bool fresh) {
  RETURN_IF_ERROR(CreatePrivateDirectory(state_dir));
  RETURN_IF_ERROR(CreatePrivateDirectory(snapshot_dir));

  // Settings of an earlier run win over defaults, and flags over both.
  json stored = json::object();
  if (!fresh) {
    ASSIGN_OR_RETURN(stored, ReadJsonFile(options.data_dir + "/sandbox.json"));
  }
  json clock = stored.value("clock", json::object());
  real_clock = options.clock.value_or(clock.value("mode", "real")) == "real";
  if (options.speed && *options.speed != 1.0) real_clock = true;
  speed = options.speed.value_or(clock.value("speed", 1.0));
  if (base::Status valid = ValidateClockSpeed(speed); !valid.ok()) {
    return base::DataLossError(options.data_dir +
                               "/sandbox.json: " + valid.message() +
                               "; pass --clock-speed to replace it");
  }
  kms_token = stored.value("kms", json::object()).value("token", "");
  kms_api_key = stored.value("kms", json::object()).value("api_key", "");
  if (kms_token.empty()) kms_token = HexToken(random);
  if (kms_api_key.empty()) kms_api_key = HexToken(random);
  kms_port = options.kms_port;
  if (kms_port == 0) {
    kms_port = stored.value("kms", json::object()).value("port", uint16_t{0});
  }
  cluster_ports = stored.value("cluster_ports", json::object());

  base::Time now;
  if (clock.contains("virtual")) {
    ASSIGN_OR_RETURN(now, TimeFromJson(clock["virtual"]));
  } else {
    std::optional<base::Time> start = base::ParseRfc3339(
        options.start.empty() ? kDefaultStart : options.start);
    if (!start) {
      return base::InvalidArgumentError("invalid start time \"" +
                                        options.start +
                                        "\": expected RFC 3339 such as "
                                        "2026-01-01T00:00:00Z");
    }
    now = *start;
  }
  base_virtual = now;
  base_steady = std::chrono::steady_clock::now();

  std::unique_lock lock(runtime_mu);
  RETURN_IF_ERROR(StartRuntime(now));
  Runtime& rt = *runtime;

  // Clusters asked for on the command line, or a first one.
  std::vector<ClusterSpec> wanted = options.clusters;
  if (wanted.empty() && fresh && rt.env->Clusters().empty()) {
    ClusterSpec spec;
    spec.name = kDefaultCluster;
    spec.version = *Version::Parse(kDefaultVersion);
    spec.workers = options.default_workers;
    wanted.push_back(spec);
  }
  // On failure, Open stops what runs and removes what a first start made.
  for (ClusterSpec& spec : wanted) {
    if (rt.env->FindCluster(spec.name).ok()) continue;
    RETURN_IF_ERROR(
        rt.env->CreateCluster(spec, rt.env->account().owner()).status());
  }
  RETURN_IF_ERROR(AttachMasters(rt));

  uint16_t control_port = options.control_port;
  if (control_port == 0) {
    control_port = stored.value("control_port", uint16_t{0});
  }
  apiserver::HttpServerOptions control_options;
  control_options.address = options.address;
  control_options.port = control_port;
  // One thread may run a long clock advance while the others serve.
  control_options.threads = 4;
  control_options.tls = false;
  control_options.idle_timeout = std::chrono::seconds(300);
  control_options.body_too_large = ControlBodyTooLarge;
  base::StatusOr<std::unique_ptr<apiserver::HttpServer>> server =
      apiserver::HttpServer::Start(
          [this](const apiserver::ApiRequest& request) {
            return HandleControl(request);
          },
          *rt.clock, random, control_options);
  if (!server.ok()) {
    return base::UnavailableError(
        "cannot start the control API: " + server.status().message() +
        "; pass another --control-port");
  }
  control = std::move(*server);

  if (!options.record_path.empty()) {
    recorder = std::make_unique<Recorder>(options.record_path);
    RETURN_IF_ERROR(recorder->Begin(*rt.env));
  }
  RETURN_IF_ERROR(SaveState(rt));
  RETURN_IF_ERROR(WriteKubeconfig(rt));
  RefreshModes(rt);
  lock.unlock();

  driver = std::thread([this] { RunDriver(); });
  spdlog::info("sandbox: serving {} with {} clock", options.data_dir,
               real_clock ? "a real" : "a simulated");
  return base::OkStatus();
}

base::Status Sandbox::Impl::StartRuntime(base::Time now) {
  auto rt = std::make_unique<Runtime>();
  Runtime* raw = rt.get();
  rt->clock = std::make_unique<base::SimulatedClock>(now);
  {
    std::lock_guard lock(save_mu);
    saved_clock = now;
  }

  EnvironmentOptions env_options;
  env_options.data_dir = state_dir;
  env_options.owner = options.owner;
  env_options.on_event = [this](const ClusterEvent& event) {
    PublishEvent({{"type", "cluster"},
                  {"cluster", event.cluster},
                  {"message", event.message},
                  {"time", base::FormatRfc3339(event.time)}});
    MarkModesDirty();
  };
  env_options.master_endpoint = [this, raw](const std::string& name) {
    return OpenMaster(*raw, name, 0);
  };
  ASSIGN_OR_RETURN(rt->env, Environment::Open(*rt->clock, random, env_options));
  rt->kms_subscription =
      rt->env->kms().Subscribe([this](const kms::KeyEvent& e) {
        PublishEvent({{"type", "key"},
                      {"event", kms::KeyEventTypeName(e.type)},
                      {"instance", e.instance_id},
                      {"key", e.key_id},
                      {"time", base::FormatRfc3339(e.time)}});
        MarkModesDirty();
      });

  kms::TokenTable tokens;
  tokens[kms_token] = kms::AccessGrant{kms::Role::kManager, {}, kms_api_key};
  kms::ApiOptions api_options;
  api_options.random = &random;
  rt->kms_api = std::make_unique<kms::KeyProtectApi>(
      rt->env->kms(), *rt->clock, std::move(tokens), api_options);
  kms::ServerOptions kms_options;
  kms_options.address = options.address;
  kms_options.port = kms_port;
  base::StatusOr<std::unique_ptr<kms::Server>> kms_server =
      kms::Server::Start(*rt->kms_api, kms_options);
  if (!kms_server.ok()) {
    return base::UnavailableError(
        "cannot start the Key Protect API: " + kms_server.status().message() +
        "; stop what uses the port or pass another --kms-port");
  }
  rt->kms_server = std::move(*kms_server);
  kms_port = rt->kms_server->port();

  runtime = std::move(rt);
  base::Status moved;
  for (Cluster* cluster : runtime->env->Clusters()) {
    std::string endpoint = OpenMaster(*runtime, cluster->spec().name,
                                      PortOf(cluster->master_endpoint()));
    // A restart with another --address serves the master on the same port
    // of the new address, so every URL of the cluster moves there.
    if (!endpoint.empty() && moved.ok()) {
      moved = cluster->MoveMaster(endpoint);
    }
  }
  base::Status attached = moved.ok() ? AttachMasters(*runtime) : moved;
  if (!attached.ok()) {
    StopRuntime();
    return attached;
  }
  RefreshModes(*runtime);
  return base::OkStatus();
}

base::Time Sandbox::Impl::StopRuntime(bool save) {
  if (!runtime) return base_virtual;
  Runtime& rt = *runtime;
  base::Time now = rt.clock->Now();
  // At the exact time: a clock saved ahead has not got there.
  if (save) (void)SaveState(rt, now);
  for (const std::shared_ptr<Master>& master : rt.Masters()) {
    master->api->Stop();
    master->etcd.reset();
  }
  rt.kms_server->Stop();
  rt.env->kms().Unsubscribe(rt.kms_subscription);
  {
    std::lock_guard lock(rt.masters_mu);
    rt.masters.clear();
  }
  rt.kms_server.reset();
  rt.kms_api.reset();
  rt.env.reset();
  runtime.reset();
  return now;
}

std::string Sandbox::Impl::OpenMaster(Runtime& rt, const std::string& name,
                                      uint16_t port) {
  if (std::shared_ptr<Master> existing = rt.FindMaster(name)) {
    if (!existing->model) return existing->api->url().substr(8);
  }
  auto master = std::make_shared<Master>();
  master->cluster_name = name;
  master->unusable_mode = options.unusable_master;
  Master* raw = master.get();
  apiserver::HttpServerOptions server_options;
  server_options.address = options.address;
  server_options.port = port;
  base::StatusOr<std::unique_ptr<apiserver::HttpServer>> server =
      apiserver::HttpServer::Start(
          [this, raw](const apiserver::ApiRequest& request) {
            return HandleMaster(*raw, request);
          },
          *rt.clock, random, server_options);
  if (!server.ok()) {
    spdlog::error("sandbox: cannot start the API server of cluster {}: {}",
                  name, server.status().ToString());
    return "";
  }
  master->api = std::move(*server);
  std::string endpoint =
      base::JoinHostPort(options.address, master->api->port());
  std::lock_guard lock(rt.masters_mu);
  rt.masters[name] = std::move(master);
  return endpoint;
}

base::Status Sandbox::Impl::AttachMasters(Runtime& rt) {
  std::vector<Cluster*> clusters = rt.env->Clusters();
  for (Cluster* cluster : clusters) {
    std::shared_ptr<Master> master = rt.FindMaster(cluster->spec().name);
    if (!master || !master->api) {
      return base::UnavailableError(
          "cannot serve cluster " + cluster->spec().name + " at " +
          cluster->master_endpoint() +
          ": the port is in use; stop the process that uses it and start "
          "the sandbox again");
    }
    if (master->model) continue;

    apiserver::ApiHandlerOptions handler_options;
    handler_options.kms_health = [cluster] { return cluster->KmsHealth(); };
    master->handler = std::make_unique<apiserver::ApiHandler>(
        cluster->registry(), *rt.clock, handler_options);
    master->token = cluster->api_token();
    master->model = cluster;

    etcd::GatewayOptions gateway_options;
    gateway_options.address = options.address;
    gateway_options.threads = 1;
    gateway_options.store_threads = 4;
    {
      std::lock_guard lock(ports_mu);
      gateway_options.port = cluster_ports.value(cluster->id(), json::object())
                                 .value("etcd", uint16_t{0});
    }
    base::StatusOr<std::unique_ptr<etcd::Gateway>> gateway =
        etcd::Gateway::Start(cluster->store(), gateway_options);
    if (!gateway.ok()) {
      return base::UnavailableError(
          "cannot start the etcd gateway of cluster " + cluster->spec().name +
          ": " + gateway.status().message() +
          "; stop the process that uses the port and start the sandbox again");
    }
    master->etcd = std::move(*gateway);
    {
      std::lock_guard lock(ports_mu);
      cluster_ports[cluster->id()] = {{"name", cluster->spec().name},
                                      {"api", master->api->port()},
                                      {"etcd", master->etcd->port()}};
    }
    master->ready = master->handler.get();
  }

  // An API server opened for a cluster whose creation failed.
  std::vector<std::shared_ptr<Master>> orphans;
  {
    std::lock_guard lock(rt.masters_mu);
    for (auto it = rt.masters.begin(); it != rt.masters.end();) {
      if (!it->second->model) {
        orphans.push_back(it->second);
        it = rt.masters.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& orphan : orphans) orphan->api->Stop();
  return base::OkStatus();
}

void Sandbox::Impl::RefreshModes(Runtime& rt) {
  std::lock_guard lock(modes_mu);
  for (const std::shared_ptr<Master>& master : rt.Masters()) {
    if (!master->model) continue;
    MasterState state = master->model->master_state();
    bool unusable =
        state == MasterState::kKeyUnusable || state == MasterState::kDataLost;
    apiserver::ServeMode wanted =
        unusable ? master->unusable_mode : apiserver::ServeMode::kServe;
    if (master->api->mode() != wanted) (void)master->api->SetMode(wanted);
  }
}

void Sandbox::Impl::MarkModesDirty() {
  std::lock_guard lock(driver_mu);
  modes_dirty = true;
  driver_wake.notify_all();
}

apiserver::ApiResponse Sandbox::Impl::HandleMaster(
    Master& master, const apiserver::ApiRequest& request) {
  apiserver::ApiHandler* handler = master.ready.load();
  if (handler == nullptr) {
    return StatusResponse(503, "ServiceUnavailable",
                          "the server is currently unable to handle the "
                          "request");
  }
  if (!IsPublicPath(request.target)) {
    auto it = request.headers.find("authorization");
    if (it == request.headers.end() || it->second != "Bearer " + master.token) {
      return StatusResponse(401, "Unauthorized", "Unauthorized");
    }
  }
  apiserver::ApiResponse response = handler->Handle(request);
  if (recorder && request.method != "GET" && request.method != "HEAD" &&
      response.status < 300) {
    recorder->KubernetesWrite(*master.model, request, response);
  }
  return response;
}

base::Status Sandbox::Impl::WriteKubeconfig(Runtime& rt) {
  std::string clusters, contexts, users, current;
  for (Cluster* cluster : rt.env->Clusters()) {
    const std::string& name = cluster->spec().name;
    if (current.empty()) current = name;
    clusters += "- name: " + name + "\n  cluster:\n    server: https://" +
                cluster->master_endpoint() +
                "\n    insecure-skip-tls-verify: true\n";
    contexts += "- name: " + name + "\n  context:\n    cluster: " + name +
                "\n    user: " + name + "\n    namespace: default\n";
    users += "- name: " + name +
             "\n  user:\n    token: " + cluster->api_token() + "\n";
  }
  std::string text =
      "apiVersion: v1\nkind: Config\nclusters:" +
      (clusters.empty() ? " []\n" : "\n" + clusters) +
      "contexts:" + (contexts.empty() ? " []\n" : "\n" + contexts) +
      "current-context: \"" + current +
      "\"\nusers:" + (users.empty() ? " []\n" : "\n" + users);
  base::Status written =
      WritePrivateFile(options.data_dir + "/kubeconfig", text);
  if (!written.ok()) {
    return base::FailedPreconditionError(written.message() + "; check that " +
                                         options.data_dir + " is writable");
  }
  return base::OkStatus();
}

base::Status Sandbox::Impl::SaveState(Runtime& rt,
                                      std::optional<base::Time> clock) {
  std::lock_guard save_lock(save_mu);
  base::Time time = clock.value_or(std::max(rt.clock->Now(), saved_clock));
  json ports;
  {
    std::lock_guard lock(ports_mu);
    ports = cluster_ports;
  }
  json state = {
      {"format", kFormat},
      {"clock",
       {{"mode", real_clock ? "real" : "simulated"},
        {"speed", speed},
        {"virtual", TimeToJson(time)}}},
      {"control_port", control ? control->port() : 0},
      {"kms",
       {{"port", kms_port}, {"token", kms_token}, {"api_key", kms_api_key}}},
      {"cluster_ports", ports}};
  RETURN_IF_ERROR(WriteJsonFile(options.data_dir + "/sandbox.json", state));
  saved_clock = time;
  return base::OkStatus();
}

void Sandbox::Impl::SaveClockUntil(Runtime& rt, base::Time until,
                                   base::Time target) {
  {
    std::lock_guard lock(save_mu);
    if (until <= saved_clock) return;
  }
  if (real_clock) {
    until += std::chrono::duration_cast<base::Duration>(
        std::chrono::duration<double>(speed));
  } else {
    until = std::min(target, until + kClockSaveAhead);
  }
  base::Status saved = SaveState(rt, until);
  std::lock_guard lock(save_mu);
  if (!saved.ok() && !clock_save_failed) {
    spdlog::error(
        "sandbox: saving the clock failed, so a restart after a crash may "
        "start at an earlier time: {}",
        saved.ToString());
  }
  clock_save_failed = !saved.ok();
}

// --- clock ---

base::Status Sandbox::Impl::Advance(Runtime& rt, base::Duration delta) {
  if (delta < base::Duration::zero()) {
    return base::InvalidArgumentError(
        "invalid advance of " + base::FormatDuration(delta) +
        ": the clock only moves forward; restore a snapshot to go back");
  }
  if (delta > kMaxAdvance) {
    return base::InvalidArgumentError(
        "invalid advance of " + base::FormatDuration(delta) +
        ": the maximum per request is " + base::FormatDuration(kMaxAdvance) +
        "; advance in several requests");
  }
  if (advancing.exchange(true)) {
    return base::AbortedError(
        "another clock advance is running; wait until it finishes (GET "
        "/v1/clock shows the clock moving) and try again");
  }
  base::Time before = rt.clock->Now();
  base::Status moved;
  {
    std::lock_guard lock(advance_mu);
    if (real_clock) {
      base_virtual += delta;
      auto elapsed = std::chrono::steady_clock::now() - base_steady;
      base::Time target =
          base_virtual +
          std::chrono::duration_cast<base::Duration>(elapsed * speed);
      moved = MoveClockTo(rt, std::max(target, rt.clock->Now()));
    } else {
      moved = MoveClockTo(rt, before + delta);
    }
  }
  advancing = false;
  RefreshModes(rt);
  // A replay of the recording must move the clock as far as it really
  // moved; the caller records only a completed advance.
  base::Time after = rt.clock->Now();
  if (!moved.ok() && recorder && after > before) {
    recorder->Step({{"advance", base::FormatDuration(after - before)}});
  }
  base::Status flushed = rt.env->Flush();
  return moved.ok() ? flushed : moved;
}

base::Status Sandbox::Impl::MoveClockTo(Runtime& rt, base::Time target) {
  while (rt.clock->Now() < target) {
    if (stop_requested) {
      spdlog::info("sandbox: stopped a clock advance at {}, before {}",
                   base::FormatRfc3339(rt.clock->Now()),
                   base::FormatRfc3339(target));
      return base::UnavailableError(
          "the sandbox is stopping, so the clock advance stopped at " +
          base::FormatRfc3339(rt.clock->Now()) + " before reaching " +
          base::FormatRfc3339(target));
    }
    base::Time step = std::min(target, rt.clock->Now() + kAdvanceStep);
    // Timers of the step save the clusters' state, so the clock is saved
    // first. Unless that write fails, the state on disk is then never ahead
    // of the clock on disk.
    SaveClockUntil(rt, step, target);
    rt.clock->AdvanceTo(step);
  }
  return base::OkStatus();
}

std::string Sandbox::Impl::ClockDescription(Runtime& rt) {
  std::string text = std::string(real_clock ? "real" : "simulated") + ", now " +
                     base::FormatRfc3339(rt.clock->Now());
  if (real_clock && speed != 1.0) {
    text +=
        ", speed " + json(speed).dump(-1, ' ', false,
                                      nlohmann::json::error_handler_t::replace);
  }
  return text;
}

void Sandbox::Impl::RunDriver() {
  std::unique_lock lock(driver_mu);
  while (!stopping) {
    if (real_clock) {
      driver_wake.wait_for(lock, kDriverTick);
    } else {
      driver_wake.wait(lock, [this] { return stopping || modes_dirty; });
    }
    if (stopping) break;
    modes_dirty = false;
    lock.unlock();
    {
      std::shared_lock runtime_lock(runtime_mu);
      if (runtime) {
        if (real_clock) {
          std::lock_guard advance(advance_mu);
          auto elapsed = std::chrono::steady_clock::now() - base_steady;
          base::Time target =
              base_virtual +
              std::chrono::duration_cast<base::Duration>(elapsed * speed);
          // Stops early only when the sandbox is stopping.
          (void)MoveClockTo(*runtime, target);
          // A failed write is logged, and the next flush tries again.
          (void)runtime->env->Flush();
        }
        RefreshModes(*runtime);
      }
    }
    lock.lock();
  }
}

// --- events ---

void Sandbox::Impl::PublishEvent(json event) {
  std::lock_guard lock(events_mu);
  event["seq"] = ++event_seq;
  std::string line =
      event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
      "\n";
  recent_events.push_back(std::move(event));
  if (recent_events.size() > kRecentEvents) recent_events.pop_front();
  for (auto& [id, sink] : event_watchers) sink(line);
}

// --- snapshots ---

base::Status Sandbox::Impl::Snapshot(const std::string& name) {
  RETURN_IF_ERROR(ValidateSnapshotName(name));
  std::string dir = snapshot_dir + "/" + name;
  if (fs::exists(dir)) {
    return base::AlreadyExistsError(
        "snapshot " + name +
        " already exists; choose another name or delete it first with "
        "DELETE /v1/snapshots/" +
        name);
  }
  base::Time now = StopRuntime();
  base::Status copied = CopyTree(state_dir, dir + "/state");
  if (copied.ok()) {
    copied = WriteJsonFile(
        dir + "/snapshot.json",
        {{"virtual", TimeToJson(now)}, {"created", base::FormatRfc3339(now)}});
  }
  if (!copied.ok()) {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  RETURN_IF_ERROR(StartRuntime(now));
  if (copied.ok()) spdlog::info("sandbox: saved snapshot {}", name);
  return copied;
}

base::Status Sandbox::Impl::Restore(const std::string& name) {
  RETURN_IF_ERROR(ValidateSnapshotName(name));
  std::string dir = snapshot_dir + "/" + name;
  if (!fs::exists(dir + "/snapshot.json")) {
    ASSIGN_OR_RETURN(json list, ListSnapshots());
    std::string names;
    for (const json& item : list) {
      names += (names.empty() ? "" : ", ") + item["name"].get<std::string>();
    }
    return base::NotFoundError(
        "snapshot " + name + " not found; " +
        (names.empty() ? "there are no snapshots yet (create one with POST "
                         "/v1/snapshots)"
                       : "the snapshots are " + names));
  }
  ASSIGN_OR_RETURN(json meta, ReadJsonFile(dir + "/snapshot.json"));
  ASSIGN_OR_RETURN(base::Time then, TimeFromJson(meta["virtual"]));

  base::Time now = StopRuntime();
  std::string previous = state_dir + ".previous";
  std::error_code ec;
  fs::remove_all(previous, ec);
  fs::rename(state_dir, previous, ec);
  base::Status copied = ec ? base::InternalError("failed to move " + state_dir +
                                                 ": " + ec.message())
                           : CopyTree(dir + "/state", state_dir);
  if (!copied.ok()) {
    // Put the state back as it was.
    fs::remove_all(state_dir, ec);
    fs::rename(previous, state_dir, ec);
    RETURN_IF_ERROR(StartRuntime(now));
    return copied;
  }
  {
    std::lock_guard lock(advance_mu);
    base_virtual = then;
    base_steady = std::chrono::steady_clock::now();
  }
  base::Status started = StartRuntime(then);
  if (!started.ok()) {
    fs::remove_all(state_dir, ec);
    fs::rename(previous, state_dir, ec);
    RETURN_IF_ERROR(StartRuntime(now));
    return started;
  }
  fs::remove_all(previous, ec);
  RETURN_IF_ERROR(WriteKubeconfig(*runtime));
  RETURN_IF_ERROR(SaveState(*runtime));
  spdlog::info("sandbox: restored snapshot {}", name);
  return base::OkStatus();
}

base::Status Sandbox::Impl::DeleteSnapshot(const std::string& name) {
  RETURN_IF_ERROR(ValidateSnapshotName(name));
  std::string dir = snapshot_dir + "/" + name;
  if (!fs::exists(dir)) {
    return base::NotFoundError("snapshot " + name +
                               " not found; list them with GET /v1/snapshots");
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec) {
    return base::InternalError("failed to delete " + dir + ": " + ec.message());
  }
  return base::OkStatus();
}

base::StatusOr<json> Sandbox::Impl::ListSnapshots() {
  std::vector<json> items;
  std::error_code ec;
  for (const fs::directory_entry& entry :
       fs::directory_iterator(snapshot_dir, ec)) {
    base::StatusOr<json> meta =
        ReadJsonFile(entry.path().string() + "/snapshot.json");
    if (!meta.ok()) continue;
    items.push_back({{"name", entry.path().filename().string()},
                     {"time", (*meta)["created"]}});
  }
  std::ranges::sort(items, [](const json& a, const json& b) {
    return a["name"].get<std::string>() < b["name"].get<std::string>();
  });
  return json(items);
}

// --- info ---

SandboxInfo Sandbox::Impl::InfoLocked(Runtime& rt) {
  SandboxInfo info;
  info.data_dir = options.data_dir;
  info.control_url = control ? control->url() : "";
  info.kms_url =
      "http://" + base::JoinHostPort(options.address, rt.kms_server->port());
  info.kms_token = kms_token;
  info.kms_api_key = kms_api_key;
  info.kubeconfig = options.data_dir + "/kubeconfig";
  info.clock = ClockDescription(rt);
  for (Cluster* cluster : rt.env->Clusters()) {
    SandboxClusterInfo item;
    item.name = cluster->spec().name;
    item.api_url = "https://" + cluster->master_endpoint();
    if (std::shared_ptr<Master> master = rt.FindMaster(item.name)) {
      if (master->etcd) {
        item.etcd_url = "http://" + base::JoinHostPort(options.address,
                                                       master->etcd->port());
      }
    }
    item.token = cluster->api_token();
    info.clusters.push_back(item);
  }
  return info;
}

SandboxInfo Sandbox::Info() const {
  std::shared_lock lock(impl_->runtime_mu);
  if (!impl_->runtime) return {};
  return impl_->InfoLocked(*impl_->runtime);
}

std::string Sandbox::Summary() const {
  SandboxInfo info = Info();
  std::string text = "Data directory:  " + info.data_dir + "\n" +
                     "Clock:           " + info.clock + "\n" +
                     "Control API:     " + info.control_url + "\n" +
                     "Key Protect API: " + info.kms_url + "\n" +
                     "  bearer token:  " + info.kms_token + "\n" +
                     "  IAM API key:   " + info.kms_api_key + "\n";
  for (const SandboxClusterInfo& cluster : info.clusters) {
    text += "Cluster " + cluster.name + ":\n" +
            "  API server:    " + cluster.api_url + "\n" +
            "  etcd gateway:  " + cluster.etcd_url + "\n" +
            "  token:         " + cluster.token + "\n";
  }
  text += "Kubeconfig:      " + info.kubeconfig + "\n" +
          "export KUBECONFIG=" + info.kubeconfig +
          " SIM_SANDBOX=" + info.control_url + "\n";
  return text;
}

void Sandbox::Stop() {
  Impl& impl = *impl_;
  std::call_once(impl.stopped, [&impl] {
    // First, so that a long clock advance on a server thread ends before
    // the server joins its threads.
    impl.stop_requested = true;
    {
      std::lock_guard lock(impl.driver_mu);
      impl.stopping = true;
      impl.driver_wake.notify_all();
    }
    if (impl.driver.joinable()) impl.driver.join();
    // A clock advance stops within a step and then returns its 503, which
    // its client gets before the server closes the connection.
    if (impl.control) impl.control->Stop(kStopGrace);
    {
      std::unique_lock lock(impl.runtime_mu);
      if (impl.recorder && impl.runtime) {
        base::Status finished = impl.recorder->Finish(*impl.runtime->env);
        if (!finished.ok()) {
          spdlog::error("sandbox: {}", finished.ToString());
        }
      }
      impl.StopRuntime();
    }
    impl.UnlockDataDir();
    std::lock_guard lock(impl.events_mu);
    for (auto& [id, sink] : impl.event_watchers) sink(std::nullopt);
    impl.event_watchers.clear();
    spdlog::info("sandbox: stopped {}", impl.options.data_dir);
  });
}

}  // namespace sim
