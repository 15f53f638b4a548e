#include "sim/ks_state.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "sim/json_file.h"

namespace sim {
namespace {

using nlohmann::json;

constexpr int kStateFormat = 1;
constexpr char kDefaultStart[] = "2026-01-01T00:00:00Z";

std::string StatePath(const std::string& dir) { return dir + "/state.json"; }

base::Status RequireDir(const KsGlobalFlags& flags) {
  if (!flags.state_dir.empty()) return base::OkStatus();
  return base::InvalidArgumentError(
      "missing state directory: pass --state DIR or set SIM_KS_STATE, and "
      "create it once with `sim ks --state DIR init`");
}

}  // namespace

StateDirHost::~StateDirHost() {
  env_.reset();
  Unlock();
}

base::Status StateDirHost::Lock(const std::string& dir) {
  RETURN_IF_ERROR(CreatePrivateDirectory(dir));
  std::string path = dir + "/.lock";
  lock_fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0) {
    return base::FailedPreconditionError("cannot open lock file " + path);
  }
  // Waits for a command running in another process to finish.
  if (::flock(lock_fd_, LOCK_EX) != 0) {
    Unlock();
    return base::FailedPreconditionError("cannot lock " + path);
  }
  return base::OkStatus();
}

void StateDirHost::Unlock() {
  if (lock_fd_ < 0) return;
  ::flock(lock_fd_, LOCK_UN);
  ::close(lock_fd_);
  lock_fd_ = -1;
}

base::StatusOr<base::Time> StateDirHost::WallNow() const {
  // The wall clock is read only on a real clock; a SystemClock at speed 1
  // returns it.
  base::SystemClock wall;
  return wall.Now();
}

base::Status StateDirHost::Init(const KsGlobalFlags& flags,
                                const KsInitFlags& init) {
  RETURN_IF_ERROR(RequireDir(flags));
  std::optional<base::Time> start =
      base::ParseRfc3339(init.start.empty() ? kDefaultStart : init.start);
  if (!start) {
    return base::InvalidArgumentError("invalid --start \"" + init.start +
                                      "\": expected RFC 3339 such as "
                                      "2026-01-01T00:00:00Z");
  }
  RETURN_IF_ERROR(Lock(flags.state_dir));
  if (std::filesystem::exists(StatePath(flags.state_dir))) {
    Unlock();
    return base::AlreadyExistsError(
        "state directory " + flags.state_dir +
        " is already initialized; use it as it is, or remove it first");
  }
  dir_ = flags.state_dir;
  state_ = {{"format", kStateFormat},
            {"owner", init.owner},
            {"seed", init.seed},
            {"commands", 0},
            {"clock",
             {{"mode", init.clock},
              {"speed", init.speed},
              {"virtual", TimeToJson(*start)}}}};
  if (init.clock == "real") {
    ASSIGN_OR_RETURN(base::Time wall, WallNow());
    state_["clock"]["wall"] = TimeToJson(wall);
  }
  // Opening the environment creates the account and the KMS database.
  clock_ = std::make_unique<base::SimulatedClock>(*start);
  random_ = std::make_unique<base::SeededRandom>(init.seed);
  EnvironmentOptions options;
  options.data_dir = dir_;
  options.owner = init.owner;
  base::StatusOr<std::unique_ptr<Environment>> env =
      Environment::Open(*clock_, *random_, options);
  if (!env.ok()) {
    Unlock();
    return env.status();
  }
  env_ = std::move(*env);
  return Close();
}

base::StatusOr<Environment*> StateDirHost::Open(const KsGlobalFlags& flags) {
  RETURN_IF_ERROR(RequireDir(flags));
  if (!std::filesystem::exists(StatePath(flags.state_dir))) {
    return base::FailedPreconditionError(
        "state directory " + flags.state_dir +
        " is not initialized; create it with `sim ks --state " +
        flags.state_dir + " init`");
  }
  RETURN_IF_ERROR(Lock(flags.state_dir));
  dir_ = flags.state_dir;
  base::StatusOr<json> state = ReadJsonFile(StatePath(dir_));
  if (!state.ok()) {
    Unlock();
    return state.status();
  }
  state_ = std::move(*state);
  base::StatusOr<base::Time> now = TimeFromJson(state_["clock"]["virtual"]);
  if (!now.ok() || state_.value("format", 0) != kStateFormat) {
    Unlock();
    return base::DataLossError("malformed " + StatePath(dir_));
  }

  // Mixing the command counter into the seed keeps ids unique across
  // commands while a replay of the same commands repeats them.
  uint64_t commands = state_.value("commands", uint64_t{0});
  uint64_t seed = state_.value("seed", uint64_t{1});
  state_["commands"] = commands + 1;
  clock_ = std::make_unique<base::SimulatedClock>(*now);
  random_ = std::make_unique<base::SeededRandom>(seed * 0x9E3779B97F4A7C15ULL +
                                                 commands);
  EnvironmentOptions options;
  options.data_dir = dir_;
  options.owner = state_.value("owner", std::string(kDefaultOwner));
  base::StatusOr<std::unique_ptr<Environment>> env =
      Environment::Open(*clock_, *random_, options);
  if (!env.ok()) {
    clock_.reset();
    Unlock();
    return env.status();
  }
  env_ = std::move(*env);

  if (state_["clock"].value("mode", "") == "real") {
    ASSIGN_OR_RETURN(base::Time wall, WallNow());
    base::StatusOr<base::Time> last = TimeFromJson(state_["clock"]["wall"]);
    if (last.ok() && wall > *last) {
      double speed = state_["clock"].value("speed", 1.0);
      auto elapsed = std::chrono::duration_cast<base::Duration>(
          std::chrono::duration<double, std::nano>(
              static_cast<double>((wall - *last).count()) * speed));
      clock_->Advance(elapsed);
    }
  }
  return env_.get();
}

base::Status StateDirHost::AdvanceClock(base::Duration delta) {
  if (!clock_) return base::FailedPreconditionError("no state is open");
  clock_->Advance(delta);
  return base::OkStatus();
}

std::string StateDirHost::ClockDescription() const {
  if (!clock_) return "not open";
  std::string mode = state_["clock"].value("mode", "simulated");
  std::string text = mode + ", now " + base::FormatRfc3339(clock_->Now());
  if (mode == "real") {
    text += ", speed " +
            state_["clock"]["speed"].dump(
                -1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  return text;
}

std::string StateDirHost::KubeconfigDir() const {
  return dir_ + "/kubeconfigs";
}

base::Status StateDirHost::Close() {
  base::Status saved = base::OkStatus();
  if (clock_) {
    state_["clock"]["virtual"] = TimeToJson(clock_->Now());
    if (state_["clock"].value("mode", "") == "real") {
      base::StatusOr<base::Time> wall = WallNow();
      if (wall.ok()) state_["clock"]["wall"] = TimeToJson(*wall);
    }
    saved = WriteJsonFile(StatePath(dir_), state_);
  }
  // The environment's clusters hold timers on the clock.
  env_.reset();
  random_.reset();
  clock_.reset();
  Unlock();
  return saved;
}

}  // namespace sim
