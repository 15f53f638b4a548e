// StateDirHost: runs `ks` commands on an Environment kept in a state
// directory, so that each command can be a separate process.
//
// Beside the Environment's files (account.json, kms/, clusters/) the
// directory contains state.json: the clock mode, the virtual time at the
// end of the last command, the seed and a command counter. Each command
//  1. takes an exclusive lock on DIR/.lock, waiting for other commands;
//  2. starts a SimulatedClock at the stored virtual time and reopens the
//     Environment, whose clusters reschedule their pending timers;
//  3. with a real clock, advances the virtual time by the wall time passed
//     since the last command (times the speed), firing what came due;
//  4. runs, then stores the virtual time and releases the lock.
// Ids and key material come from a SeededRandom seeded with the seed and
// the counter, so a sequence of commands repeats exactly on a simulated
// clock.
//
// Not thread-safe: one command at a time per object.
#ifndef SIM_KS_STATE_H_
#define SIM_KS_STATE_H_

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "base/clock.h"
#include "base/random.h"
#include "sim/environment.h"
#include "sim/ks.h"

namespace sim {

class StateDirHost : public KsHost {
 public:
  StateDirHost() = default;
  ~StateDirHost() override;

  base::Status Init(const KsGlobalFlags& flags,
                    const KsInitFlags& init) override;
  base::StatusOr<Environment*> Open(const KsGlobalFlags& flags) override;
  base::Status AdvanceClock(base::Duration delta) override;
  std::string ClockDescription() const override;
  std::string KubeconfigDir() const override;
  base::Status Close() override;

 private:
  base::Status Lock(const std::string& dir);
  void Unlock();
  base::StatusOr<base::Time> WallNow() const;

  std::string dir_;
  int lock_fd_ = -1;
  nlohmann::json state_;
  // Declared before env_, so that env_ is destroyed first.
  std::unique_ptr<base::SimulatedClock> clock_;
  std::unique_ptr<base::SeededRandom> random_;
  std::unique_ptr<Environment> env_;
};

}  // namespace sim

#endif  // SIM_KS_STATE_H_
