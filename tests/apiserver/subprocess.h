// Child processes for tests that drive real command-line clients: one that
// runs to completion with its output captured, and one that keeps running
// (such as `kubectl get --watch`) and is read until some output arrives.
//
// Waiting is on the child's output or exit (poll(2)); the wall-clock limit
// only ends a test whose child hangs.
#ifndef TESTS_APISERVER_SUBPROCESS_H_
#define TESTS_APISERVER_SUBPROCESS_H_

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

extern char** environ;

namespace apiserver {

struct ProcessResult {
  int exit_code = -1;  // -1 when the child did not exit normally
  std::string out;     // standard output
  std::string err;     // standard error
  bool timed_out = false;
};

// The current environment with `overrides` set.
inline std::vector<std::string> MergedEnvironment(
    const std::map<std::string, std::string>& overrides) {
  std::map<std::string, std::string> merged;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    std::string text(*entry);
    const size_t equals = text.find('=');
    if (equals != std::string::npos) {
      merged[text.substr(0, equals)] = text.substr(equals + 1);
    }
  }
  for (const auto& [name, value] : overrides) merged[name] = value;
  std::vector<std::string> out;
  for (const auto& [name, value] : merged) out.push_back(name + "=" + value);
  return out;
}

// A started child with pipes for its standard input, output and error.
class ChildProcess {
 public:
  // Starts argv[0] (a path) with `environment` added to the current one.
  // started() is false when the program could not be started.
  ChildProcess(const std::vector<std::string>& argv,
               const std::map<std::string, std::string>& environment) {
    // A child that exits before reading its input must not kill the test.
    signal(SIGPIPE, SIG_IGN);
    int in[2], out[2], err[2];
    if (pipe(in) != 0 || pipe(out) != 0 || pipe(err) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
    for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]}) {
      posix_spawn_file_actions_addclose(&actions, fd);
    }
    std::vector<std::string> args = argv;
    std::vector<char*> arg_pointers;
    for (std::string& arg : args) arg_pointers.push_back(arg.data());
    arg_pointers.push_back(nullptr);
    std::vector<std::string> env = MergedEnvironment(environment);
    std::vector<char*> env_pointers;
    for (std::string& entry : env) env_pointers.push_back(entry.data());
    env_pointers.push_back(nullptr);
    const int spawned = posix_spawn(&pid_, arg_pointers[0], &actions, nullptr,
                                    arg_pointers.data(), env_pointers.data());
    posix_spawn_file_actions_destroy(&actions);
    close(in[0]);
    close(out[1]);
    close(err[1]);
    stdin_ = in[1];
    stdout_ = out[0];
    stderr_ = err[0];
    if (spawned != 0) pid_ = 0;
    for (int fd : {stdin_, stdout_, stderr_}) {
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    }
  }

  ~ChildProcess() {
    Kill();
    for (int fd : {stdin_, stdout_, stderr_}) {
      if (fd >= 0) close(fd);
    }
  }

  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  bool started() const { return pid_ > 0; }
  const std::string& out() const { return out_; }
  const std::string& err() const { return err_; }

  // Writes `input` to the child's standard input and closes it, reading
  // output meanwhile so that neither side blocks.
  void SendInputAndClose(const std::string& input) {
    pending_input_ = input;
    if (pending_input_.empty()) CloseInput();
  }

  // Reads output until `done(out, err)` holds, both output pipes close or
  // `limit` passes. Returns whether `done` held.
  bool WaitFor(
      const std::function<bool(const std::string&, const std::string&)>& done,
      std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done(out_, err_)) {
      if (stdout_ < 0 && stderr_ < 0) return false;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      PollOnce(static_cast<int>(left.count()));
    }
    return true;
  }

  // Waits until the child closes its output and exits. Returns its result;
  // kills it after `limit`.
  ProcessResult Wait(std::chrono::milliseconds limit) {
    ProcessResult result;
    result.timed_out = !WaitFor(
        [this](const std::string&, const std::string&) {
          return stdout_ < 0 && stderr_ < 0;
        },
        limit);
    if (result.timed_out) Kill();
    result.exit_code = Reap();
    result.out = out_;
    result.err = err_;
    return result;
  }

  // Sends SIGKILL and reaps the child. Calling it again does nothing.
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    Reap();
  }

 private:
  void CloseInput() {
    if (stdin_ >= 0) close(stdin_);
    stdin_ = -1;
  }

  // Waits up to `timeout_ms` for one pipe to be ready and serves it.
  void PollOnce(int timeout_ms) {
    std::vector<pollfd> fds;
    if (stdout_ >= 0) fds.push_back({stdout_, POLLIN, 0});
    if (stderr_ >= 0) fds.push_back({stderr_, POLLIN, 0});
    if (stdin_ >= 0 && !pending_input_.empty()) {
      fds.push_back({stdin_, POLLOUT, 0});
    }
    if (poll(fds.data(), fds.size(), timeout_ms) <= 0) return;
    for (const pollfd& fd : fds) {
      if (fd.revents == 0) continue;
      if (fd.fd == stdin_) {
        const ssize_t written =
            write(stdin_, pending_input_.data(), pending_input_.size());
        if (written > 0) pending_input_.erase(0, written);
        if (written < 0 || pending_input_.empty()) CloseInput();
        continue;
      }
      int& pipe_fd = fd.fd == stdout_ ? stdout_ : stderr_;
      std::string& text = fd.fd == stdout_ ? out_ : err_;
      char buffer[4096];
      const ssize_t count = read(pipe_fd, buffer, sizeof(buffer));
      if (count > 0) {
        text.append(buffer, count);
      } else if (count == 0 || errno != EAGAIN) {
        close(pipe_fd);
        pipe_fd = -1;
      }
    }
  }

  int Reap() {
    if (pid_ <= 0) return exit_code_;
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = 0;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return exit_code_;
  }

  pid_t pid_ = 0;
  int exit_code_ = -1;
  int stdin_ = -1;
  int stdout_ = -1;
  int stderr_ = -1;
  std::string pending_input_;
  std::string out_;
  std::string err_;
};

// Runs a program to completion with `input` on its standard input.
inline ProcessResult RunProcess(
    const std::vector<std::string>& argv,
    const std::map<std::string, std::string>& environment,
    const std::string& input = "",
    std::chrono::milliseconds limit = std::chrono::seconds(60)) {
  ChildProcess child(argv, environment);
  if (!child.started()) {
    ProcessResult failed;
    failed.err = "failed to start " + argv[0];
    return failed;
  }
  child.SendInputAndClose(input);
  return child.Wait(limit);
}

}  // namespace apiserver

#endif  // TESTS_APISERVER_SUBPROCESS_H_
