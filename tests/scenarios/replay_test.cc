// Runs the real `sim` binary on scenario files, as CI and users do.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

CommandResult RunSim(const std::string& args) {
  std::string command = std::string(SIM_BINARY) + " " + args + " 2>&1";
  CommandResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) {
    result.output.append(buffer.data(), n);
  }
  int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string TestData(const std::string& name) {
  return std::string(SIM_SOURCE_DIR) + "/tests/scenarios/testdata/" + name;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(Replay, WrongExpectationFailsWithDetails) {
  CommandResult result = RunSim("replay " + TestData("wrong-expectation.yaml"));

  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_NE(result.output.find("FAIL wrong-expectation"), std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("step 2 get_secret"), std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("wrong-expectation.yaml:10"), std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("expected: data {password: wrong}"),
            std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("actual:   data {password: right}"),
            std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("0 passed, 1 failed"), std::string::npos)
      << result.output;
}

TEST(Replay, MalformedFileRejectedBeforeRunning) {
  CommandResult result = RunSim("replay " + TestData("malformed.yaml") + " " +
                                TestData("wrong-expectation.yaml"));

  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("malformed.yaml:6:"), std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("field 'data' must be a map of strings"),
            std::string::npos)
      << result.output;
  // Nothing ran, not even the valid file.
  EXPECT_EQ(result.output.find("FAIL"), std::string::npos) << result.output;
  EXPECT_EQ(result.output.find("passed"), std::string::npos) << result.output;
}

TEST(Replay, MissingPathIsInvalidInput) {
  CommandResult result = RunSim("replay /nonexistent/scenarios");

  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.output.find("no such scenario file or folder"),
            std::string::npos)
      << result.output;
}

TEST(Replay, LibraryPassesAndWritesJUnit) {
  std::string junit = testing::TempDir() + "/library.junit.xml";

  CommandResult result = RunSim("replay " + std::string(SIM_SOURCE_DIR) +
                                "/scenarios --junit " + junit);

  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find(" passed, 0 failed"), std::string::npos)
      << result.output;
  std::string xml = ReadFile(junit);
  EXPECT_NE(xml.find("<testsuite name=\"scenarios\""), std::string::npos);
  EXPECT_NE(xml.find("failures=\"0\""), std::string::npos) << xml;
}

TEST(Replay, SameSeedSameJsonReport) {
  std::string first = testing::TempDir() + "/first.json";
  std::string second = testing::TempDir() + "/second.json";
  std::string library = std::string(SIM_SOURCE_DIR) + "/scenarios";

  CommandResult a = RunSim("replay " + library + " --seed 7 --json " + first);
  CommandResult b = RunSim("replay " + library + " --seed 7 --json " + second);

  ASSERT_EQ(a.exit_code, 0) << a.output;
  ASSERT_EQ(b.exit_code, 0) << b.output;
  std::string report = ReadFile(first);
  EXPECT_NE(report.find("\"events\""), std::string::npos);
  EXPECT_EQ(report, ReadFile(second));
}

}  // namespace

namespace {

std::string Library() { return std::string(SIM_SOURCE_DIR) + "/scenarios"; }

TEST(Replay, ParallelJobsGiveSameReport) {
  std::string serial = testing::TempDir() + "/serial.json";
  std::string parallel = testing::TempDir() + "/parallel.json";

  CommandResult a = RunSim("replay " + Library() + " --json " + serial);
  CommandResult b =
      RunSim("replay " + Library() + " --jobs 2 --json " + parallel);

  ASSERT_EQ(a.exit_code, 0) << a.output;
  ASSERT_EQ(b.exit_code, 0) << b.output;
  EXPECT_EQ(ReadFile(serial), ReadFile(parallel));
}

TEST(Replay, ShardsPartitionTheLibrary) {
  CommandResult all = RunSim("replay " + Library());
  CommandResult first = RunSim("replay " + Library() + " --shard 1/2");
  CommandResult second = RunSim("replay " + Library() + " --shard 2/2");

  auto passed = [](const std::string& output) {
    size_t at = output.rfind(" passed, ");
    size_t line = output.rfind('\n', at);
    return std::stoi(output.substr(line + 1, at - line - 1));
  };
  ASSERT_EQ(all.exit_code, 0) << all.output;
  EXPECT_GT(passed(first.output), 0) << first.output;
  EXPECT_GT(passed(second.output), 0) << second.output;
  EXPECT_EQ(passed(first.output) + passed(second.output), passed(all.output));
}

TEST(Replay, BadShardIsInvalidInput) {
  CommandResult result = RunSim("replay " + Library() + " --shard 3/2");

  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.output.find("--shard must be i/n"), std::string::npos)
      << result.output;
}

TEST(Replay, BadFlagValueIsInvalidInput) {
  for (const char* flags :
       {"--jobs 99999999999", "--seed abc", "--no-such-flag"}) {
    CommandResult result = RunSim("replay " + Library() + " " + flags);

    EXPECT_EQ(result.exit_code, 2) << flags << "\n" << result.output;
    EXPECT_EQ(result.output.find("passed"), std::string::npos) << flags;
  }
}

TEST(Replay, UnknownLogLevelIsInvalidInput) {
  CommandResult result =
      RunSim("--log-level loud replay " + Library() + "/verification");

  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("--log-level"), std::string::npos)
      << result.output;
  EXPECT_EQ(result.output.find("passed"), std::string::npos) << result.output;
}

TEST(Replay, AdvancePastTheClockLimitIsInvalid) {
  CommandResult result =
      RunSim("replay " + TestData("advance-past-limit.yaml"));

  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("step 2 advance (" +
                               TestData("advance-past-limit.yaml") +
                               ":8) cannot run: it would take the virtual "
                               "clock past 36500d"),
            std::string::npos)
      << result.output;
}

TEST(Replay, ControlCharactersStayOutOfJUnit) {
  std::string junit = testing::TempDir() + "/control.junit.xml";

  CommandResult result = RunSim(
      "replay " + TestData("control-characters.yaml") + " --junit " + junit);

  ASSERT_EQ(result.exit_code, 0) << result.output;
  std::string xml = ReadFile(junit);
  for (char c : xml) {
    EXPECT_FALSE(static_cast<unsigned char>(c) < 0x20 && c != '\n' &&
                 c != '\t' && c != '\r')
        << "control character " << static_cast<int>(c) << " in " << xml;
  }
  EXPECT_NE(xml.find("name=\"bell\\x07 escape\\x1b[31m\""), std::string::npos)
      << xml;
}

TEST(Replay, TimelineWritesHtmlPerScenario) {
  std::string dir = testing::TempDir() + "/timelines";
  std::filesystem::remove_all(dir);

  CommandResult result =
      RunSim("replay " + Library() + "/verification --timeline " + dir);

  ASSERT_EQ(result.exit_code, 0) << result.output;
  std::string html = ReadFile(dir + "/verify-by-disabling-root-key-1.19.html");
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("prod API"), std::string::npos);
  EXPECT_NE(html.find("unavailable"), std::string::npos);
  EXPECT_NE(html.find("disable_key crk-prod"), std::string::npos);
}

TEST(Replay, ValidateRunsNothing) {
  CommandResult result = RunSim("replay " + Library() + " --validate");

  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("scenario files valid"), std::string::npos);
  EXPECT_EQ(result.output.find("PASS"), std::string::npos) << result.output;
}

}  // namespace

namespace {

TEST(Replay, CommittedSchemaMatchesParser) {
  CommandResult result = RunSim("replay --schema");

  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(result.output,
            ReadFile(std::string(SIM_SOURCE_DIR) + "/scenarios/schema.json"))
      << "regenerate with: build/bin/sim replay --schema > "
         "scenarios/schema.json";
}

}  // namespace

namespace {

TEST(Replay, StepAfterDataLossIsInvalid) {
  CommandResult result =
      RunSim("replay " + TestData("step-after-data-loss.yaml"));

  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("step 5 create_secret (" +
                               TestData("step-after-data-loss.yaml") +
                               ":15) cannot run: cluster prod lost its data"),
            std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("fix: expect the failure"), std::string::npos)
      << result.output;
}

}  // namespace
