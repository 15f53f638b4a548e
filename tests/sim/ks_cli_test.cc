// The built `sim` binary: `sim ks` commands as separate processes on one
// state directory, with their exit codes.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <filesystem>
#include <string>

namespace {

struct Result {
  int code = -1;
  std::string output;  // stdout and stderr together
};

// Single-quotes `word` for /bin/sh.
std::string Quote(const std::string& word) {
  std::string quoted = "'";
  for (char c : word) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

// Runs `command` (shell text) and returns its exit code and output.
Result RunShell(const std::string& command) {
  Result result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer;
  size_t read;
  while ((read = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) {
    result.output.append(buffer.data(), read);
  }
  int status = pclose(pipe);
  result.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// The permission bits of a file or directory.
unsigned ModeOf(const std::filesystem::path& path) {
  return static_cast<unsigned>(std::filesystem::status(path).permissions());
}

bool Contains(const Result& result, const std::string& part) {
  return result.output.find(part) != std::string::npos;
}

class KsCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "ks_cli_test_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    ASSERT_EQ(Sim("init").code, 0);
  }

  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Runs `sim ks --state DIR <args>`; `args` is shell text.
  Result Sim(const std::string& args) {
    return RunShell(Quote(SIM_BINARY) + " ks --state " + Quote(dir_) + " " +
                    args);
  }

  // Returns the value of `field` in the first object of a JSON output.
  std::string Field(const std::string& args, const std::string& field) {
    Result result = Sim(args + " --output json");
    EXPECT_EQ(result.code, 0) << result.output;
    std::string key = "\"" + field + "\": \"";
    size_t at = result.output.find(key);
    if (at == std::string::npos) return "";
    at += key.size();
    return result.output.substr(at, result.output.find('"', at) - at);
  }

  std::string dir_;
};

TEST_F(KsCliTest, EnableFlowAcrossProcesses) {
  ASSERT_EQ(
      Sim("cluster create classic --name prod --version 1.19.16_1540").code, 0);
  std::string instance = Field("kms instance create --name kp", "id");
  std::string crk =
      Field("kms key create --instance-id " + instance + " --name crk", "id");

  Result enabled =
      Sim("kms enable -c prod --instance-id " + instance + " --crk " + crk);
  Result during = Sim("cluster get -c prod");
  Result busy =
      Sim("kms enable -c prod --instance-id " + instance + " --crk " + crk);
  ASSERT_EQ(Sim("clock advance 15m").code, 0);
  Result after = Sim("cluster get -c prod");

  EXPECT_EQ(enabled.code, 0) << enabled.output;
  EXPECT_TRUE(Contains(during,
                       "Master Status: Key management service feature "
                       "enablement in progress."))
      << during.output;
  EXPECT_EQ(busy.code, 1);
  EXPECT_TRUE(Contains(busy, "FAILED")) << busy.output;
  EXPECT_TRUE(Contains(after, "Master Status: Ready (")) << after.output;
  EXPECT_TRUE(Contains(after, "Key Management Service: enabled"))
      << after.output;
}

// The kubeconfig contains the cluster's bearer token, and cluster.json
// too, so neither is readable by others, even under a umask of 022.
TEST_F(KsCliTest, TokenFilesArePrivate) {
  ASSERT_EQ(Sim("cluster create classic --name prod").code, 0);

  Result config =
      RunShell("umask 022 && " + Quote(SIM_BINARY) + " ks --state " +
               Quote(dir_) + " cluster config -c prod");

  ASSERT_EQ(config.code, 0) << config.output;
  EXPECT_EQ(ModeOf(dir_), 0700u);
  EXPECT_EQ(ModeOf(dir_ + "/kubeconfigs"), 0700u);
  EXPECT_EQ(ModeOf(dir_ + "/kubeconfigs/prod.yaml"), 0600u);
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(dir_)) {
    EXPECT_EQ(ModeOf(entry.path()) & 077, 0u) << entry.path();
  }
}

TEST_F(KsCliTest, BadInputExitsNonZeroAndChangesNothing) {
  ASSERT_EQ(Sim("cluster create classic --name prod").code, 0);
  std::string instance = Field("kms instance create --name kp", "id");
  std::string other = Field("kms instance create --name kp2", "id");
  std::string foreign =
      Field("kms key create --instance-id " + other + " --name foreign", "id");
  Result before = Sim("cluster ls --output json");

  Result unknown = Sim("cluster get -c nope");
  Result missing = Sim("kms enable -c prod --instance-id " + instance);
  Result wrong_instance =
      Sim("kms enable -c prod --instance-id " + instance + " --crk " + foreign);

  EXPECT_EQ(unknown.code, 1);
  EXPECT_TRUE(Contains(unknown, "cluster nope not found")) << unknown.output;
  EXPECT_EQ(missing.code, 2);
  EXPECT_TRUE(Contains(missing, "--crk")) << missing.output;
  EXPECT_EQ(wrong_instance.code, 1);
  EXPECT_TRUE(Contains(wrong_instance, "belongs to KMS instance kp2"))
      << wrong_instance.output;
  EXPECT_EQ(Sim("cluster ls --output json").output, before.output);
}

TEST_F(KsCliTest, UnknownCommandIsNamed) {
  Result top = Sim("x");
  Result nested = Sim("cluster nope");
  Result missing = Sim("cluster");

  EXPECT_EQ(top.code, 2);
  EXPECT_TRUE(Contains(top,
                       "unknown command 'x'; the commands of `ks` are "
                       "init, cluster,"))
      << top.output;
  EXPECT_EQ(nested.code, 2);
  EXPECT_TRUE(Contains(nested,
                       "unknown command 'nope'; the commands of `ks "
                       "cluster` are ls, get,"))
      << nested.output;
  EXPECT_EQ(missing.code, 2);
  EXPECT_TRUE(Contains(missing, "A subcommand is required")) << missing.output;
}

TEST(SimCli, UnknownCommandIsNamed) {
  std::string command = Quote(SIM_BINARY) + " x 2>&1";
  std::string output;
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::array<char, 4096> buffer;
  size_t read;
  while ((read = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) {
    output.append(buffer.data(), read);
  }
  int status = pclose(pipe);

  EXPECT_EQ(WEXITSTATUS(status), 2);
  EXPECT_NE(output.find("unknown command 'x'; the commands of `sim` are "
                        "replay, ks, serve"),
            std::string::npos)
      << output;
}

TEST_F(KsCliTest, InvalidNamesAreRejected) {
  std::string instance = Field("kms instance create --name kp", "id");

  Result short_key =
      Sim("kms key create --instance-id " + instance + " --name k");
  Result newline = Sim("kms instance create --name \"$(printf 'kp\\nx')\"");
  Result version = Sim("cluster create classic --name prod --version 9.9.9");
  Result region = Sim("cluster create classic --name prod --region mars-1");

  EXPECT_EQ(short_key.code, 1);
  EXPECT_TRUE(Contains(short_key, "use 2 to 90 characters"))
      << short_key.output;
  // No argument may contain a control character, so the command line is
  // rejected before any command runs.
  EXPECT_EQ(newline.code, 2);
  EXPECT_TRUE(Contains(newline, "control character")) << newline.output;
  EXPECT_EQ(version.code, 1);
  EXPECT_TRUE(Contains(version, "unsupported cluster version 9.9.9"))
      << version.output;
  EXPECT_EQ(region.code, 1);
  EXPECT_TRUE(Contains(region, "unknown region \"mars-1\"")) << region.output;
  EXPECT_EQ(Sim("cluster ls --output json").output, "[]\n");
}

// A socket that listens and never accepts: the kernel completes the TCP
// handshake and queues the request, and no response ever comes.
TEST(KsOnSandbox, SilentSandboxTimesOut) {
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(
      bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(listen(listener, 8), 0);
  socklen_t size = sizeof address;
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&address), &size),
            0);
  std::string url =
      "http://127.0.0.1:" + std::to_string(ntohs(address.sin_port));

  Result result = RunShell(Quote(SIM_BINARY) + " ks --sandbox " + url +
                           " --request-timeout 200ms cluster ls");
  close(listener);

  EXPECT_EQ(result.code, 1);
  EXPECT_TRUE(Contains(result, "FAILED")) << result.output;
  EXPECT_TRUE(Contains(
      result, "the sandbox at " + url + " did not respond within 200ms"))
      << result.output;
}

TEST(KsOnSandbox, InvalidRequestTimeout) {
  Result invalid =
      RunShell(Quote(SIM_BINARY) +
               " ks --sandbox http://127.0.0.1:1 --request-timeout "
               "soon cluster ls");
  Result without_sandbox = RunShell("SIM_SANDBOX= " + Quote(SIM_BINARY) +
                                    " ks --request-timeout 5s cluster ls");

  EXPECT_EQ(invalid.code, 2);
  EXPECT_TRUE(Contains(invalid, "invalid --request-timeout \"soon\""))
      << invalid.output;
  EXPECT_EQ(without_sandbox.code, 2);
  EXPECT_TRUE(Contains(without_sandbox, "applies to commands on a sandbox"))
      << without_sandbox.output;
}

TEST_F(KsCliTest, ReplayCommandStillWorks) {
  std::string command = Quote(SIM_BINARY) + " replay --help > /dev/null";

  EXPECT_EQ(system(command.c_str()), 0);
}

}  // namespace
