// Crash test of the RocksDB store: a child process (etcd_crash_writer)
// writes from several threads and prints every acknowledged put; the test
// kills it with SIGKILL after a seeded random number of acknowledgements,
// again and again on the same directory. After every kill, every put that
// any run acknowledged must be in the store with its acknowledged revision,
// and the store's revisions must have no gap.
//
// NOTE: SIGKILL leaves the kernel's page cache intact, so this test catches
// acknowledgements sent before RocksDB has the write, out-of-order writes
// and recovery bugs, but not a missing fsync; only a power loss would.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/random.h"
#include "etcd-store/store.h"

extern char** environ;

namespace etcd {
namespace {

constexpr int kKills = 20;
constexpr int kWriterThreads = 4;
// The maximum number of acknowledgements a run waits for before the kill.
constexpr uint64_t kMaxAcksPerRun = 120;

// A running etcd_crash_writer whose stdout the test reads.
class CrashWriter {
 public:
  // Starts the writer on `dir`; returns false when it cannot be spawned.
  bool Start(const std::string& dir) {
    int fds[2];
    if (pipe(fds) != 0) return false;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    std::string binary = CRASH_WRITER_PATH;
    std::string threads = std::to_string(kWriterThreads);
    std::vector<char*> argv = {binary.data(), const_cast<char*>(dir.c_str()),
                               threads.data(), nullptr};
    int spawned = posix_spawn(&pid_, binary.c_str(), &actions, nullptr,
                              argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    read_fd_ = fds[0];
    if (spawned != 0) pid_ = 0;
    return spawned == 0;
  }

  ~CrashWriter() {
    Kill();
    if (read_fd_ >= 0) close(read_fd_);
  }

  // Reads acknowledgement lines until `count` arrived in all. Returns false
  // when the writer stopped or stayed silent for 10 s (real time).
  bool ReadAcks(size_t count) {
    while (acks_.size() < count) {
      pollfd fd{read_fd_, POLLIN, 0};
      if (poll(&fd, 1, 10'000) <= 0) return false;
      if (!ReadSome()) return false;
    }
    return true;
  }

  // Kills the writer with SIGKILL and reads what it printed before dying.
  void Kill() {
    if (pid_ == 0) return;
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = 0;
    while (ReadSome()) {
    }
  }

  // Key -> acknowledged revision.
  const std::map<std::string, int64_t>& acks() const { return acks_; }

 private:
  // Reads what is available and parses complete lines; false at the end.
  bool ReadSome() {
    char buffer[4096];
    ssize_t n = read(read_fd_, buffer, sizeof(buffer));
    if (n <= 0) return false;
    pending_.append(buffer, n);
    size_t newline;
    while ((newline = pending_.find('\n')) != std::string::npos) {
      std::istringstream line(pending_.substr(0, newline));
      pending_.erase(0, newline + 1);
      std::string word;
      std::string key;
      int64_t revision = 0;
      if (line >> word >> key >> revision && word == "ack") {
        acks_[key] = revision;
      }
    }
    return true;
  }

  pid_t pid_ = 0;
  int read_fd_ = -1;
  std::string pending_;
  std::map<std::string, int64_t> acks_;
};

TEST(CrashTest, KilledWriterLosesNoAcknowledgedPut) {
  std::string pattern =
      (std::filesystem::temp_directory_path() / "etcd-crash-XXXXXX").string();
  std::string dir = mkdtemp(pattern.data());
  std::string db = dir + "/db";
  base::SimulatedClock clock(base::Time(std::chrono::seconds(1'700'000'000)));
  const uint64_t seed = 20240605;
  base::SeededRandom random(seed);
  std::map<std::string, int64_t> acknowledged;

  for (int run = 0; run < kKills; ++run) {
    SCOPED_TRACE("seed " + std::to_string(seed) + ", run " +
                 std::to_string(run));
    uint64_t acks_before_kill = 1 + random.Uniform(kMaxAcksPerRun);
    {
      CrashWriter writer;
      ASSERT_TRUE(writer.Start(db)) << "spawning " << CRASH_WRITER_PATH;
      ASSERT_TRUE(writer.ReadAcks(acks_before_kill))
          << "the writer stopped early";
      writer.Kill();
      for (const auto& [key, revision] : writer.acks()) {
        acknowledged[key] = revision;
      }
    }

    auto store = OpenRocksDbStore(db, clock);
    ASSERT_TRUE(store.ok()) << store.status();
    auto all = (*store)->Range(
        {.key = std::string(1, '\0'), .range_end = std::string(1, '\0')});
    ASSERT_TRUE(all.ok()) << all.status();
    std::map<std::string, int64_t> stored;
    for (const KeyValue& kv : all->kvs) {
      EXPECT_EQ(kv.value, kv.key);
      EXPECT_EQ(kv.version, 1) << kv.key;
      stored[kv.key] = kv.mod_revision;
    }

    // Every acknowledged put is there, at its acknowledged revision.
    for (const auto& [key, revision] : acknowledged) {
      auto found = stored.find(key);
      ASSERT_NE(found, stored.end()) << "lost acknowledged put " << key;
      EXPECT_EQ(found->second, revision) << key;
    }
    // Each put wrote one new key at its own revision, so the keys' revisions
    // are exactly 2..current: no gap, no duplicate.
    std::vector<int64_t> revisions;
    for (const auto& [key, revision] : stored) revisions.push_back(revision);
    std::sort(revisions.begin(), revisions.end());
    int64_t current = (*store)->CurrentRevision();
    ASSERT_EQ(static_cast<int64_t>(revisions.size()), current - 1);
    for (size_t i = 0; i < revisions.size(); ++i) {
      ASSERT_EQ(revisions[i], static_cast<int64_t>(i) + 2);
    }
  }
  EXPECT_GE(acknowledged.size(), size_t{kKills});
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace etcd
