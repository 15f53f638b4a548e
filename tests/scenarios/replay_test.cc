// Runs the real `sim` binary on scenario files, as CI and users do.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <spawn.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

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

TEST(Replay, ValidateRejectsUnsupportedVersion) {
  const std::string file = TestData("never-sets-up.yaml");
  CommandResult validated = RunSim("replay --validate " + file);
  CommandResult run = RunSim("replay " + file);

  EXPECT_EQ(validated.exit_code, 2) << validated.output;
  EXPECT_NE(validated.output.find("never-sets-up.yaml:5: cluster: field "
                                  "'version': unsupported cluster version "
                                  "1.16.0"),
            std::string::npos)
      << validated.output;
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_EQ(run.output.find("FAIL"), std::string::npos) << run.output;
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

namespace {

constexpr char kCluster[] = R"(clusters:
  - name: prod
    version: 1.19.16_1540
)";

// Writes a scenario file under a fresh folder `dir` of the test temp dir
// and returns the folder.
std::string WriteScenario(const std::string& dir, const std::string& file,
                          const std::string& text) {
  std::string folder = testing::TempDir() + "/" + dir;
  std::filesystem::create_directories(folder);
  std::ofstream(folder + "/" + file) << text;
  return folder;
}

std::string FreshFolder(const std::string& name) {
  std::string folder = testing::TempDir() + "/" + name;
  std::filesystem::remove_all(folder);
  std::filesystem::create_directories(folder);
  return folder;
}

TEST(Replay, SeedOutOfRangeIsInvalidInput) {
  for (const char* seed : {"-1", "9223372036854775808", "1x", "''", "+3"}) {
    CommandResult result =
        RunSim("replay " + Library() + "/verification --seed " + seed);

    EXPECT_EQ(result.exit_code, 2) << seed << "\n" << result.output;
    EXPECT_NE(result.output.find("error: --seed must be an integer from 0 to "
                                 "9223372036854775807, got '"),
              std::string::npos)
        << seed << "\n"
        << result.output;
    EXPECT_EQ(result.output.find("passed"), std::string::npos) << seed;
  }
  CommandResult largest = RunSim("replay " + Library() +
                                 "/verification --seed 9223372036854775807");
  EXPECT_EQ(largest.exit_code, 0) << largest.output;
}

TEST(Replay, MalformedShardIsInvalidInput) {
  for (const char* shard :
       {"''", "' 1/2'", "1/2x", "+1/2", "0/2", "1/0", "1/", "/2", "1-2"}) {
    CommandResult result =
        RunSim("replay " + Library() + "/verification --shard " + shard);

    EXPECT_EQ(result.exit_code, 2) << shard << "\n" << result.output;
    EXPECT_NE(result.output.find("--shard must be i/n"), std::string::npos)
        << shard << "\n"
        << result.output;
    EXPECT_EQ(result.output.find("passed"), std::string::npos) << shard;
  }
}

TEST(Replay, EmptyShardRunsNothing) {
  CommandResult result =
      RunSim("replay " + Library() + "/verification --shard 9/9");

  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("shard 9/9 has none of the 2 scenarios"),
            std::string::npos)
      << result.output;
}

TEST(Replay, FilterMatchingNothingIsInvalidInput) {
  CommandResult result = RunSim("replay " + Library() + " --filter no-such");

  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("error: --filter 'no-such' matches none of the "
                               "25 scenario names"),
            std::string::npos)
      << result.output;
  EXPECT_EQ(result.output.find("passed"), std::string::npos) << result.output;
}

TEST(Replay, FolderWithoutScenariosIsInvalidInput) {
  CommandResult result = RunSim("replay " + FreshFolder("no-scenarios"));

  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("no scenario files"), std::string::npos)
      << result.output;
}

TEST(Replay, UnwritableReportsRejectedBeforeRunning) {
  std::string folder = FreshFolder("unwritable");
  std::string junit = folder + "/report.xml";
  std::ofstream(folder + "/file") << "a file, not a folder";
  const std::string cases[] = {
      "--junit /nonexistent/report.xml",
      "--junit " + junit + " --json " + folder,
      "--timeline " + folder + "/file/timelines",
      "--junit " + junit + " --json " + junit,
  };

  for (const std::string& flags : cases) {
    CommandResult result =
        RunSim("replay " + Library() + "/verification " + flags);

    EXPECT_EQ(result.exit_code, 2) << flags << "\n" << result.output;
    EXPECT_NE(result.output.find("error: --"), std::string::npos)
        << flags << "\n"
        << result.output;
    EXPECT_EQ(result.output.find("PASS"), std::string::npos) << flags << "\n"
                                                             << result.output;
    // The check of --junit left nothing behind.
    EXPECT_FALSE(std::filesystem::exists(junit)) << flags;
  }
}

TEST(Replay, TimelineFilesDistinctForSimilarNames) {
  std::string folder = FreshFolder("similar-names");
  WriteScenario(
      "similar-names", "slash.yaml",
      "name: a/b\n" + std::string(kCluster) + "steps:\n  - advance: 1m\n");
  WriteScenario(
      "similar-names", "colon.yaml",
      "name: a:b\n" + std::string(kCluster) + "steps:\n  - advance: 2m\n");
  std::string timelines = FreshFolder("similar-names-timelines");

  CommandResult result =
      RunSim("replay " + folder + " --timeline " + timelines);

  ASSERT_EQ(result.exit_code, 0) << result.output;
  std::vector<std::string> pages;
  for (const auto& entry : std::filesystem::directory_iterator(timelines)) {
    pages.push_back(ReadFile(entry.path().string()));
  }
  ASSERT_EQ(pages.size(), 2u);
  EXPECT_NE(pages[0], pages[1]);
}

TEST(Replay, DuplicateScenarioNamesAreInvalid) {
  std::string folder = FreshFolder("duplicate-names");
  WriteScenario(
      "duplicate-names", "one.yaml",
      "name: same\n" + std::string(kCluster) + "steps:\n  - advance: 1m\n");
  WriteScenario(
      "duplicate-names", "two.yaml",
      "name: same\n" + std::string(kCluster) + "steps:\n  - advance: 1m\n");

  CommandResult result = RunSim("replay " + folder);

  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("two.yaml:1: scenario name 'same' is also "
                               "used by " +
                               folder + "/one.yaml:1"),
            std::string::npos)
      << result.output;
  EXPECT_EQ(result.output.find("passed"), std::string::npos) << result.output;
}

TEST(Replay, LongFailureCutOnTerminalOnly) {
  std::string value(5000, 'x');
  std::string folder = FreshFolder("long-failure");
  WriteScenario("long-failure", "long.yaml",
                std::string(kCluster) +
                    "steps:\n  - create_secret: {name: db, data: {v: " + value +
                    "}}\n  - get_secret: {name: db}\n" +
                    "    expect: {data: {v: short}}\n");
  std::string json = folder + "/report.json";
  std::string junit = folder + "/report.xml";

  CommandResult result = RunSim("replay " + folder + "/long.yaml --json " +
                                json + " --junit " + junit);

  ASSERT_EQ(result.exit_code, 1) << result.output;
  EXPECT_NE(result.output.find("more bytes; the --json and --junit reports "
                               "have the full text]"),
            std::string::npos)
      << result.output;
  EXPECT_EQ(result.output.find(value), std::string::npos);
  std::istringstream lines(result.output);
  for (std::string line; std::getline(lines, line);) {
    EXPECT_LE(line.size(), 500u) << line;
  }
  EXPECT_NE(ReadFile(json).find("actual:   data {v: " + value + "}"),
            std::string::npos);
  EXPECT_NE(ReadFile(junit).find("actual:   data {v: " + value + "}"),
            std::string::npos);
}

TEST(Replay, ControlCharactersEscapedOnTerminal) {
  CommandResult result =
      RunSim("replay " + TestData("control-characters.yaml"));

  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("PASS bell\\x07 escape\\x1b[31m ("),
            std::string::npos)
      << result.output;
  EXPECT_EQ(result.output.find('\x1b'), std::string::npos);
  EXPECT_EQ(result.output.find('\a'), std::string::npos);
}

TEST(Replay, SchemaWrittenToNamedFile) {
  std::string path = FreshFolder("schema") + "/schema.json";

  CommandResult written = RunSim("replay --schema " + path);
  CommandResult printed = RunSim("replay --schema");
  CommandResult with_paths =
      RunSim("replay --schema=" + path + " " + Library());

  ASSERT_EQ(written.exit_code, 0) << written.output;
  EXPECT_EQ(written.output, "wrote the JSON Schema to " + path + "\n");
  EXPECT_EQ(ReadFile(path), printed.output);
  EXPECT_EQ(with_paths.exit_code, 2) << with_paths.output;
  EXPECT_NE(with_paths.output.find("--schema writes the schema and runs no "
                                   "scenarios"),
            std::string::npos)
      << with_paths.output;
}

}  // namespace

namespace {

TEST(Replay, EveryDocumentOfAFileRuns) {
  std::string folder = FreshFolder("documents");
  WriteScenario("documents", "suite.yaml",
                std::string(kCluster) + "steps:\n  - advance: 1m\n---\n" +
                    kCluster +
                    "steps:\n"
                    "  - create_secret: {name: db, data: {a: b}}\n"
                    "  - get_secret: {name: db}\n"
                    "    expect: {data: {a: c}}\n");

  CommandResult result = RunSim("replay " + folder + "/suite.yaml");

  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_NE(result.output.find("PASS suite#1 (1/1 steps"), std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("FAIL suite#2"), std::string::npos)
      << result.output;
  // The failing step's line counts from the top of the file.
  EXPECT_NE(
      result.output.find("step 2 get_secret (" + folder + "/suite.yaml:12)"),
      std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("1 passed, 1 failed"), std::string::npos)
      << result.output;
}

TEST(Replay, DocumentsOfAFileNeedDistinctNames) {
  std::string folder = FreshFolder("document-names");
  std::string one =
      "name: same\n" + std::string(kCluster) + "steps:\n  - advance: 1m\n";
  WriteScenario("document-names", "suite.yaml", one + "---\n" + one);

  CommandResult result = RunSim("replay " + folder);

  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("suite.yaml:8: scenario name 'same' is also "
                               "used by " +
                               folder + "/suite.yaml:1"),
            std::string::npos)
      << result.output;
  EXPECT_EQ(result.output.find("passed"), std::string::npos) << result.output;
}

TEST(Replay, SpecialFilesAreInvalidInput) {
  std::string fifo = FreshFolder("special") + "/scenario.yaml";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);

  CommandResult from_fifo = RunSim("replay " + fifo);
  CommandResult from_device = RunSim("replay /dev/zero");

  EXPECT_EQ(from_fifo.exit_code, 2) << from_fifo.output;
  EXPECT_NE(
      from_fifo.output.find(fifo + ": not a regular file or a folder (it is "
                                   "a FIFO)"),
      std::string::npos)
      << from_fifo.output;
  EXPECT_EQ(from_device.exit_code, 2) << from_device.output;
  EXPECT_NE(from_device.output.find("/dev/zero: not a regular file or a "
                                    "folder (it is a character device)"),
            std::string::npos)
      << from_device.output;
}

TEST(Replay, ReportOverAnInputIsRejected) {
  std::string folder = FreshFolder("report-over-input");
  std::string text = std::string(kCluster) + "steps:\n  - advance: 1m\n";
  WriteScenario("report-over-input", "x.yaml", text);
  std::string input = folder + "/x.yaml";
  std::filesystem::create_hard_link(input, folder + "/hard.xml");
  std::filesystem::create_symlink(input, folder + "/soft.json");

  for (const std::string& flags :
       {"--junit " + input, "--json " + folder + "/./x.yaml",
        "--junit " + folder + "/hard.xml", "--json " + folder + "/soft.json"}) {
    CommandResult result = RunSim("replay " + input + " " + flags);

    EXPECT_EQ(result.exit_code, 2) << flags << "\n" << result.output;
    EXPECT_NE(result.output.find(", which is the scenario file " + input +
                                 "; name an output file that is not an "
                                 "input"),
              std::string::npos)
        << result.output;
    EXPECT_EQ(result.output.find("PASS"), std::string::npos) << result.output;
    EXPECT_EQ(ReadFile(input), text);
  }
}

TEST(Replay, TimelineOverAnInputIsRejected) {
  std::string folder = FreshFolder("timeline-over-input");
  std::string text =
      "name: plain\n" + std::string(kCluster) + "steps:\n  - advance: 1m\n";
  // The timeline page of scenario `plain` is plain.html.
  WriteScenario("timeline-over-input", "plain.html", text);
  std::string input = folder + "/plain.html";

  CommandResult result = RunSim("replay " + input + " --timeline " + folder);

  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("--timeline would write " + input),
            std::string::npos)
      << result.output;
  EXPECT_EQ(ReadFile(input), text);
}

TEST(Replay, VariablesThatExpandTooFarAreInvalid) {
  std::string vars = "vars:\n  v0: xxxxxxxxxx\n";
  for (int i = 1; i < 8; ++i) {
    std::string previous = "${v" + std::to_string(i - 1) + "}";
    std::string value;
    for (int copy = 0; copy < 10; ++copy) value += previous;
    vars += "  v" + std::to_string(i) + ": \"" + value + "\"\n";
  }
  std::string folder = FreshFolder("vars-bomb");
  WriteScenario("vars-bomb", "bomb.yaml",
                vars + kCluster + "steps:\n  - advance: 1m\n");

  CommandResult result = RunSim("replay " + folder);

  EXPECT_EQ(result.exit_code, 2) << result.output;
  // v6 expands to 10,000,000 bytes.
  EXPECT_NE(
      result.output.find(folder + "/bomb.yaml:8: the value exceeds 1048576 "
                                  "bytes after variable expansion; use shorter "
                                  "variables or fewer references to them"),
      std::string::npos)
      << result.output;
}

TEST(Replay, BidiCharactersEscapedOnTerminalOnly) {
  std::string folder = FreshFolder("bidi");
  std::string json = folder + "/report.json";
  // U+202E, the right-to-left override, shows "exe.txt" reversed after it.
  std::string name = "invoice\xe2\x80\xaetxt.exe";
  WriteScenario(
      "bidi", "bidi.yaml",
      "name: \"" + name + "\"\n" + kCluster + "steps:\n  - advance: 1m\n");

  CommandResult result =
      RunSim("replay " + folder + "/bidi.yaml --json " + json);

  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("PASS invoice\\u202etxt.exe ("),
            std::string::npos)
      << result.output;
  EXPECT_EQ(result.output.find("\xe2\x80\xae"), std::string::npos);
  EXPECT_NE(ReadFile(json).find(name), std::string::npos);
}

}  // namespace

namespace {

// Starts `sim replay ARGS...` with its output to `log`; returns its pid.
pid_t SpawnReplay(const std::vector<std::string>& args,
                  const std::string& log) {
  std::vector<std::string> words = {SIM_BINARY, "replay"};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = -1;
  if (posix_spawn(&pid, SIM_BINARY, &actions, nullptr, argv.data(), environ) !=
      0) {
    pid = -1;
  }
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

// Blocks until an entry is created in the folder that `inotify` watches,
// and returns its name, or until process `pid` exits, and returns "".
std::string NextCreated(int inotify, pid_t pid) {
  int process = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  pollfd fds[] = {{inotify, POLLIN, 0}, {process, POLLIN, 0}};
  int ready = poll(fds, process >= 0 ? 2 : 1, -1);
  if (process >= 0) close(process);
  if (ready <= 0 || (fds[0].revents & POLLIN) == 0) return "";
  alignas(inotify_event) char buffer[4096];
  ssize_t n = read(inotify, buffer, sizeof(buffer));
  if (n < static_cast<ssize_t>(sizeof(inotify_event))) return "";
  const auto* event = reinterpret_cast<const inotify_event*>(buffer);
  return event->len > 0 ? std::string(event->name) : "";
}

// A signal while a scenario runs: the replay stops, removes its run folder,
// which only its user could enter, and exits with 128 + the signal.
TEST(Replay, SignalStopsAndRemovesRunFolders) {
  std::string folder = FreshFolder("signal");
  // Long enough to be running when the signal arrives: the test sends it
  // as soon as the run folder appears, and nothing waits for the end.
  WriteScenario("signal", "long.yaml",
                std::string(kCluster) +
                    "steps:\n"
                    "  - repeat: {times: 200000, steps: [{advance: 1m}]}\n");

  for (int signal : {SIGTERM, SIGINT}) {
    std::string work = FreshFolder("signal-work");
    int inotify = inotify_init1(IN_CLOEXEC);
    ASSERT_GE(inotify, 0);
    ASSERT_GE(inotify_add_watch(inotify, work.c_str(), IN_CREATE), 0);
    std::string log = folder + "/replay.log";

    pid_t pid = SpawnReplay(
        {folder + "/long.yaml", "--work-dir", work, "--json", folder + "/r"},
        log);
    ASSERT_GT(pid, 0);
    std::string created = NextCreated(inotify, pid);
    struct stat info {};
    int stat_result = stat((work + "/" + created).c_str(), &info);
    kill(pid, signal);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    close(inotify);

    EXPECT_TRUE(created.starts_with("sim-replay-")) << created;
    ASSERT_EQ(stat_result, 0) << created;
    EXPECT_EQ(info.st_mode & 0777, 0700u);
    ASSERT_TRUE(WIFEXITED(status)) << ReadFile(log);
    EXPECT_EQ(WEXITSTATUS(status), 128 + signal) << ReadFile(log);
    EXPECT_TRUE(std::filesystem::is_empty(work)) << ReadFile(log);
    EXPECT_NE(ReadFile(log).find("no reports written"), std::string::npos)
        << ReadFile(log);
    EXPECT_FALSE(std::filesystem::exists(folder + "/r"));
  }
}

}  // namespace
