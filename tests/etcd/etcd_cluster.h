// Starts real etcd 3.4 members (the etcd binary from Debian's etcd-server,
// or $ETCD_BIN) as child processes on free loopback ports, each with its own
// data directory, and stops them with SIGTERM when destroyed.
#ifndef TESTS_ETCD_ETCD_CLUSTER_H_
#define TESTS_ETCD_ETCD_CLUSTER_H_

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <boost/asio.hpp>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/etcd/http_client.h"

extern char** environ;

namespace etcd::testing {

inline std::string EtcdBinary() {
  const char* configured = std::getenv("ETCD_BIN");
  return configured != nullptr ? configured : "/usr/bin/etcd";
}

inline bool EtcdInstalled() { return std::filesystem::exists(EtcdBinary()); }

// Returns `count` distinct ports that were free a moment ago: all of them
// are bound at once, so no two are the same.
inline std::vector<uint16_t> FreePorts(size_t count) {
  namespace net = boost::asio;
  net::io_context ioc;
  std::vector<std::unique_ptr<net::ip::tcp::acceptor>> acceptors;
  std::vector<uint16_t> ports;
  for (size_t i = 0; i < count; ++i) {
    acceptors.push_back(std::make_unique<net::ip::tcp::acceptor>(
        ioc, net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)));
    ports.push_back(acceptors.back()->local_endpoint().port());
  }
  return ports;
}

struct EtcdClusterOptions {
  int members = 1;
  // Raft timing in milliseconds; 0 keeps etcd's defaults (100 and 1000),
  // which also decide the minimum lease TTL (2 s with the defaults).
  int heartbeat_ms = 0;
  int election_ms = 0;
  // etcd's --experimental-watch-progress-notify-interval in milliseconds,
  // or 0 for the default (10 minutes).
  int progress_notify_ms = 0;
};

class EtcdCluster {
 public:
  EtcdCluster() = default;
  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;

  // Starts the members with data under `dir` and waits until every member
  // serves a linearizable read. Returns false on failure; each member's
  // log is in `dir`/<name>.log.
  //
  // A port that FreePorts found free can be taken before etcd binds it,
  // for example as the local port of another test's client connection. A
  // start that fails because an address is in use is retried on new ports.
  bool Start(const std::string& dir, const EtcdClusterOptions& options) {
    constexpr int kAttempts = 5;
    for (int attempt = 1; attempt <= kAttempts; ++attempt) {
      if (TryStart(dir, options)) return true;
      bool port_taken = false;
      for (Member& member : members_) {
        Stop(member, SIGKILL);
        port_taken =
            port_taken || LogMentions(dir, member, "address already in use");
      }
      if (!port_taken || attempt == kAttempts) break;
      for (Member& member : members_) {
        std::filesystem::remove_all(dir + "/" + member.name);
      }
      members_.clear();
    }
    PrintLogTails(dir);
    return false;
  }

  // Kills every member: the data directories are temporary, so a graceful
  // stop, which takes seconds when the whole cluster stops, buys nothing.
  ~EtcdCluster() {
    for (Member& member : members_) Stop(member, SIGKILL);
  }

  uint16_t client_port(size_t member) const {
    return members_[member].client_port;
  }

  // "127.0.0.1:port" of every member, in member order.
  std::vector<std::string> Endpoints() const {
    std::vector<std::string> endpoints;
    for (const Member& member : members_) {
      endpoints.push_back("127.0.0.1:" + std::to_string(member.client_port));
    }
    return endpoints;
  }

  // Returns the index of the member that leads, or -1 when the members do
  // not agree on one.
  int LeaderIndex() const {
    static const std::regex kMemberId(R"re("member_id":"(\d+)")re");
    static const std::regex kLeader(R"re("leader":"(\d+)")re");
    std::vector<std::string> ids;
    std::string leader;
    for (const Member& member : members_) {
      HttpReply reply =
          HttpPost(member.client_port, "/v3/maintenance/status", "{}");
      std::smatch id_match;
      std::smatch leader_match;
      if (!std::regex_search(reply.body, id_match, kMemberId) ||
          !std::regex_search(reply.body, leader_match, kLeader)) {
        return -1;
      }
      ids.push_back(id_match[1]);
      if (!leader.empty() && leader != leader_match[1]) return -1;
      leader = leader_match[1];
    }
    for (size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] == leader) return static_cast<int>(i);
    }
    return -1;
  }

  // Kills a member with SIGKILL and waits for it to exit.
  void Kill(size_t member) { Stop(members_[member], SIGKILL); }

 private:
  struct Member {
    std::string name;
    uint16_t client_port = 0;
    uint16_t peer_port = 0;
    pid_t pid = 0;
  };

  bool TryStart(const std::string& dir, const EtcdClusterOptions& options) {
    std::vector<uint16_t> ports = FreePorts(2 * options.members);
    std::string initial_cluster;
    for (int i = 0; i < options.members; ++i) {
      Member member;
      member.name = "m" + std::to_string(i);
      member.client_port = ports[2 * i];
      member.peer_port = ports[2 * i + 1];
      if (!initial_cluster.empty()) initial_cluster += ',';
      initial_cluster += member.name + "=" + Url(member.peer_port);
      members_.push_back(member);
    }
    // Start the members one by one: a new member queries its peers whether
    // it was bootstrapped before, and waits a second for each peer that
    // accepts the connection but does not respond yet.
    for (Member& member : members_) {
      if (!Spawn(dir, member, initial_cluster, options)) return false;
      if (!WaitUntilAnswering(member, member.peer_port, "/members", "GET")) {
        return false;
      }
    }
    for (Member& member : members_) {
      if (!WaitUntilAnswering(member, member.client_port, "/v3/kv/range",
                              "POST")) {
        return false;
      }
    }
    return true;
  }

  static bool LogMentions(const std::string& dir, const Member& member,
                          const std::string& text) {
    std::ifstream log(dir + "/" + member.name + ".log");
    std::string line;
    while (std::getline(log, line)) {
      if (line.find(text) != std::string::npos) return true;
    }
    return false;
  }

  // Prints the end of each member's log to stderr, since the test's
  // temporary folder and the logs in it are removed after a failure.
  void PrintLogTails(const std::string& dir) const {
    for (const Member& member : members_) {
      std::ifstream log(dir + "/" + member.name + ".log");
      std::vector<std::string> lines;
      for (std::string line; std::getline(log, line);) {
        lines.push_back(line);
        if (lines.size() > 5) lines.erase(lines.begin());
      }
      for (const std::string& line : lines) {
        std::fprintf(stderr, "%s: %s\n", member.name.c_str(), line.c_str());
      }
    }
  }

  static std::string Url(uint16_t port) {
    return "http://127.0.0.1:" + std::to_string(port);
  }

  static bool Spawn(const std::string& dir, Member& member,
                    const std::string& initial_cluster,
                    const EtcdClusterOptions& options) {
    std::string client = Url(member.client_port);
    std::string peer = Url(member.peer_port);
    std::vector<std::string> args = {EtcdBinary(),
                                     "--name=" + member.name,
                                     "--data-dir=" + dir + "/" + member.name,
                                     "--listen-client-urls=" + client,
                                     "--advertise-client-urls=" + client,
                                     "--listen-peer-urls=" + peer,
                                     "--initial-advertise-peer-urls=" + peer,
                                     "--initial-cluster=" + initial_cluster,
                                     "--initial-cluster-state=new"};
    if (options.heartbeat_ms > 0) {
      args.push_back("--heartbeat-interval=" +
                     std::to_string(options.heartbeat_ms));
    }
    if (options.election_ms > 0) {
      args.push_back("--election-timeout=" +
                     std::to_string(options.election_ms));
    }
    if (options.progress_notify_ms > 0) {
      args.push_back("--experimental-watch-progress-notify-interval=" +
                     std::to_string(options.progress_notify_ms) + "ms");
    }
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    std::string log = dir + "/" + member.name + ".log";
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    int spawned = posix_spawn(&member.pid, argv[0], &actions, nullptr,
                              argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (spawned != 0) member.pid = 0;
    return spawned == 0;
  }

  // Waits until `port` responds to `path` with 200: the peer port's
  // /members once the member runs, the client port's linearizable read
  // once the cluster has a leader.
  static bool WaitUntilAnswering(Member& member, uint16_t port,
                                 const std::string& path,
                                 const std::string& method) {
    // NOTE: waits on the real clock, because etcd is a separate process;
    // a member usually serves within two election timeouts.
    for (int attempt = 0; attempt < 1500; ++attempt) {
      try {
        std::string body =
            method == "POST" ? R"({"key":"AA==","count_only":true})" : "";
        HttpReply reply = HttpPost(port, path, body, method);
        if (reply.status == 200) return true;
      } catch (const std::exception&) {
      }
      int status = 0;
      if (waitpid(member.pid, &status, WNOHANG) == member.pid) {
        member.pid = 0;
        return false;  // etcd exited; the reason is in its log
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  static void Stop(Member& member, int signal) {
    if (member.pid == 0) return;
    kill(member.pid, signal);
    int status = 0;
    waitpid(member.pid, &status, 0);
    member.pid = 0;
  }

  std::vector<Member> members_;
};

}  // namespace etcd::testing

#endif  // TESTS_ETCD_ETCD_CLUSTER_H_
