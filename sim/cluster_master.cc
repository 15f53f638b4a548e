// Master state, health, status text, version updates and refreshes of a
// Cluster.
#include <spdlog/spdlog.h>

#include "sim/cluster_state.h"

namespace sim {
namespace {

using std::chrono::minutes;

// How long a master version update runs; the model draws 10 to 20 virtual
// minutes.
constexpr int kMinUpdateMinutes = 10;
constexpr int kUpdateJitterMinutes = 11;

std::string AgoText(base::Duration elapsed) {
  auto mins = std::chrono::duration_cast<minutes>(elapsed).count();
  if (mins < 60) return std::to_string(std::max<int64_t>(mins, 1)) + " min ago";
  auto hours = mins / 60;
  if (hours < 48) return std::to_string(hours) + " hours ago";
  return std::to_string(hours / 24) + " days ago";
}

}  // namespace

MasterState Cluster::master_state() const {
  std::lock_guard lock(state_->mu);
  return state_->master_state;
}

MasterHealth Cluster::health() const {
  std::lock_guard lock(state_->mu);
  switch (state_->master_state) {
    // "During the enablement, you might not be able to access the
    // Kubernetes master"; the same holds for an update.
    case MasterState::kKmsEnabling:
    case MasterState::kUpdating:
      return MasterHealth::kUnavailable;
    case MasterState::kKeyUnusable:
      // Before 1.19 root key changes are not reported in the health.
      if (!state_->features.reports_key_health) return MasterHealth::kNormal;
      return MasterHealth::kWarning;
    case MasterState::kDataLost:
      if (!state_->features.reports_key_health) return MasterHealth::kNormal;
      return MasterHealth::kCritical;
    case MasterState::kReady:
      return MasterHealth::kNormal;
  }
  return MasterHealth::kNormal;
}

std::string Cluster::MasterStatusText() const {
  State& s = *state_;
  std::lock_guard lock(s.mu);
  std::string ready =
      "Ready (" + AgoText(s.clock().Now() - s.state_since) + ")";
  switch (s.master_state) {
    case MasterState::kReady:
      return ready;
    case MasterState::kKmsEnabling:
      return "Key management service feature enablement in progress.";
    case MasterState::kUpdating:
      // NOTE: the managed service documents no wording for an update in
      // progress, so this text is the model's.
      return "Version update in progress to " + s.update_target->ToString() +
             ".";
    case MasterState::kKeyUnusable:
    case MasterState::kDataLost:
      // Before 1.19 the cluster reports nothing about its root key.
      if (!s.features.reports_key_health) return ready;
      if (s.master_state == MasterState::kDataLost) {
        return "The root key " + s.crk_id +
               " was deleted. The master lost its data and cannot be "
               "recovered.";
      }
      return "The root key " + s.crk_id + " is " + s.unusable_cause +
             ". The master cannot decrypt its data; enable the root key to "
             "restore it.";
  }
  return ready;
}

std::string Cluster::HealthMessage() const {
  MasterHealth current = health();
  if (current == MasterHealth::kNormal) return "";
  return MasterStatusText();
}

base::Status Cluster::UpdateMaster(const Version& target) {
  State& s = *state_;
  RETURN_IF_ERROR(ValidateSupportedVersion(target));
  base::Duration duration =
      minutes(kMinUpdateMinutes + s.deps.random->Uniform(kUpdateJitterMinutes));
  std::string from;
  {
    std::lock_guard lock(s.mu);
    if (s.master_state == MasterState::kKmsEnabling) {
      return base::FailedPreconditionError(
          "cannot update the master of cluster " + s.spec.name +
          " while the key management service feature enablement is in "
          "progress; wait until its Master Status is Ready and try again");
    }
    if (s.master_state == MasterState::kUpdating) {
      return base::FailedPreconditionError(
          "the master of cluster " + s.spec.name + " is already updating to " +
          s.update_target->ToString() +
          "; wait until its Master Status is Ready");
    }
    if (s.UnusableLocked()) {
      return base::FailedPreconditionError(
          "cannot update the master of cluster " + s.spec.name +
          " while it is unusable: " + s.UnusableReasonLocked());
    }
    if (target <= s.version) {
      return base::InvalidArgumentError(
          "invalid version " + target.ToString() + ": cluster " + s.spec.name +
          " runs " + s.version.ToString() + "; choose a newer version");
    }
    // NOTE: one minor version per update is this model's rule.
    if (target.major != s.version.major || target.minor > s.version.minor + 1) {
      return base::InvalidArgumentError(
          "invalid version " + target.ToString() + ": cluster " + s.spec.name +
          " runs " + s.version.ToString() +
          " and updates one minor version at a time; update to " +
          std::to_string(s.version.major) + "." +
          std::to_string(s.version.minor + 1) + " first");
    }
    from = s.version.ToString();
    s.update_target = target;
    s.SetMasterState(MasterState::kUpdating);
    s.ScheduleLocked("update", s.clock().Now() + duration);
  }
  s.Emit("master update from " + from + " to " + target.ToString() +
         " started");
  return s.Persist();
}

void Cluster::State::FinishUpdate() {
  std::string reminder;
  Version target;
  bool kms_on;
  {
    std::lock_guard lock(mu);
    if (!update_target) return;
    target = *update_target;
    update_target.reset();
    version = target;
    features = FeaturesOf(version);
    SetMasterState(MasterState::kReady);
    kms_on = kms_enabled;
    if (kms_enabled && features.registers_root_key && !key_registered) {
      reminder = "enable KMS again with root key " + crk_id +
                 " to register it with the KMS and use key events and "
                 "rotation inside the KMS";
    }
    if (kms_enabled) {
      ScheduleLocked("refresh", clock().Now() + RefreshIntervalLocked());
    }
  }
  Emit("master updated to " + target.ToString());
  if (!reminder.empty()) Emit(reminder);
  // The updated master starts with a check of its root key.
  if (kms_on) CheckRootKey();
}

base::Status Cluster::RefreshMaster() {
  State& s = *state_;
  {
    std::lock_guard lock(s.mu);
    if (s.master_state == MasterState::kKmsEnabling ||
        s.master_state == MasterState::kUpdating) {
      return base::FailedPreconditionError(
          "cannot refresh the master of cluster " + s.spec.name +
          " while an enablement or update runs; wait until its Master "
          "Status is Ready");
    }
    if (s.master_state == MasterState::kDataLost) {
      return base::FailedPreconditionError(
          "cannot refresh the master of cluster " + s.spec.name + ": " +
          s.UnusableReasonLocked());
    }
  }
  // A restarted API server has no DEK in memory.
  for (const auto& transformer : s.Transformers()) transformer->ClearCache();
  s.Emit("master refreshed");
  s.CheckRootKey();
  {
    std::lock_guard lock(s.mu);
    if (s.kms_enabled) {
      s.ScheduleLocked("refresh", s.clock().Now() + s.RefreshIntervalLocked());
    }
  }
  return s.Persist();
}

}  // namespace sim
