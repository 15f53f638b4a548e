#include <gtest/gtest.h>

#include <string>

#include "scenarios/engine/scenario.h"

namespace scenarios {
namespace {

constexpr char kHeader[] = R"(name: t
clusters:
  - name: prod
    version: 1.19.16_1540
kms:
  - instance: kp
    keys:
      - name: crk
steps:
)";

// Parses a scenario made of kHeader and `steps`; returns the error message,
// or "ok".
std::string ParseError(const std::string& steps) {
  base::StatusOr<Scenario> parsed =
      ParseScenario(std::string(kHeader) + steps, "bad.yaml");
  if (parsed.ok()) return "ok";
  EXPECT_EQ(parsed.status().code(), base::Code::kInvalidArgument);
  return parsed.status().message();
}

// Parses `text` as a whole file; returns the error message, or "ok".
std::string FileError(const std::string& text);

TEST(ScenarioParser, AcceptsValidSteps) {
  EXPECT_EQ(ParseError("  - kms_enable: {instance: kp, key: crk}\n"
                       "  - advance: 5m\n"
                       "  - disable_key: crk\n"
                       "  - get_secret: {name: db}\n"
                       "    expect: {error: timeout, within: 10m}\n"),
            "ok");
}

TEST(ScenarioParser, FillsShorthandAndDefaultCluster) {
  base::StatusOr<Scenario> parsed =
      ParseScenario(std::string(kHeader) +
                        "  - disable_key: crk\n  - get_secret: {name: "
                        "db}\n    expect: {within: 90s}\n",
                    "ok.yaml");
  ASSERT_TRUE(parsed.ok()) << parsed.status();

  EXPECT_EQ(parsed->steps[0].fields.String("key"), "crk");
  EXPECT_EQ(parsed->steps[1].fields.String("cluster"), "prod");
  EXPECT_EQ(parsed->steps[1].within, std::chrono::seconds(90));
  EXPECT_EQ(parsed->steps[1].line, 11);
}

TEST(ScenarioParser, RejectsBadYamlWithLine) {
  base::StatusOr<Scenario> parsed =
      ParseScenario("clusters: [\n  - {name: x\n", "broken.yaml");

  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("broken.yaml:"), std::string::npos)
      << parsed.status().message();
  EXPECT_NE(parsed.status().message().find("invalid YAML"), std::string::npos);
}

TEST(ScenarioParser, RejectsBytesThatAreNotUtf8) {
  EXPECT_EQ(ParseError("  - create_namespace: caf\xe9\n"),
            "bad.yaml:10: byte 0xE9 at column 26 is not UTF-8; save the file "
            "as UTF-8");
  EXPECT_EQ(ParseError("  - create_namespace: \xed\xa0\x80\n"),
            "bad.yaml:10: byte 0xED at column 23 is not UTF-8; save the file "
            "as UTF-8");
  EXPECT_EQ(
      ParseError("  - create_namespace: \"caf\xc3\xa9 \xf0\x9f\x94\x91\"\n"),
      "ok");
}

TEST(ScenarioParser, RejectsKeysThatAreNotStrings) {
  base::StatusOr<Scenario> top = ParseScenario(
      std::string("? [a, b]\n: 1\n") + kHeader + "  - advance: 1m\n",
      "bad.yaml");
  std::string in_step = ParseError("  - {? [x]: 1}\n");

  ASSERT_FALSE(top.ok());
  EXPECT_EQ(top.status().message(),
            "bad.yaml:1: bad conversion: keys must be plain strings; see the "
            "format in sim replay --schema");
  EXPECT_NE(in_step.find("bad.yaml:10:"), std::string::npos) << in_step;
}

TEST(ScenarioParser, AcceptsRepeatsUpToTheLimits) {
  base::StatusOr<Scenario> parsed = ParseScenario(
      std::string(kHeader) +
          "  - repeat: {times: 1000000, steps: [{advance: 1s}]}\n",
      "max.yaml");

  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->steps.size(), 1000000u);
  EXPECT_EQ(parsed->steps.back().index, 1000000);
}

TEST(ScenarioParser, RejectsRepeatsThatExpandTooFar) {
  std::string steps = ParseError(
      "  - repeat: {times: 1000000, steps: [{advance: 1s}, {advance: "
      "1s}]}\n");
  std::string rounds = ParseError(
      "  - repeat: {times: 1000000, steps: [{repeat: {times: 1, var: j, "
      "steps: [{repeat: {times: 0, var: k, steps: [{advance: 1s}]}}]}}]}\n");
  std::string times = ParseError("  - repeat: {times: 1000001, steps: []}\n");

  EXPECT_EQ(steps,
            "bad.yaml:10: step 1000001: the repeats expand to more than "
            "1000000 steps; repeat fewer times or split the scenario");
  EXPECT_EQ(rounds,
            "bad.yaml:10: step 1 (repeat): the repeats make more than "
            "1000000 passes in total; repeat fewer times");
  EXPECT_NE(times.find("field 'times' must be an integer from 0 to 1000000"),
            std::string::npos)
      << times;
}

TEST(ScenarioParser, RejectsVariablesThatExpandTooFar) {
  std::string million(1000000, 'x');
  std::string one_value =
      FileError("vars:\n  a: " + million + "\n  b: ${a}${a}\n" + kHeader +
                "  - advance: 1m\n");
  std::string all_values = FileError(
      "vars:\n  a: " + million + "\n" + kHeader +
      "  - repeat: {times: 100, steps: [{create_secret: {name: s, data: {v: "
      "'${a}'}}}]}\n");

  EXPECT_EQ(one_value,
            "bad.yaml:3: the value exceeds 1048576 bytes after variable "
            "expansion; use shorter variables or fewer references to them");
  EXPECT_EQ(all_values,
            "bad.yaml:12: the scenario's text exceeds 67108864 bytes after "
            "variable expansion and repeats; repeat fewer times or use "
            "shorter variables");
}

TEST(ScenarioParser, ReadsDollarDollarBraceAsLiteral) {
  base::StatusOr<Scenario> parsed = ParseScenario(
      "vars: {x: X}\n" + std::string(kHeader) +
          "  - create_secret: {name: db, data: {a: '$${HOME}', b: '$$${x}', "
          "c: 'a$$b$', d: '${x}$${x}', e: '$${'}}\n",
      "literal.yaml");

  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const StringMap& data = parsed->steps[0].fields.Map("data");
  EXPECT_EQ(data.at("a"), "${HOME}");
  EXPECT_EQ(data.at("b"), "$${x}");
  EXPECT_EQ(data.at("c"), "a$$b$");
  EXPECT_EQ(data.at("d"), "X${x}");
  EXPECT_EQ(data.at("e"), "${");
}

TEST(ScenarioParser, SuggestsEscapeForUnknownVariable) {
  std::string error =
      ParseError("  - create_secret: {name: db, data: {a: '${HOME}'}}\n");

  EXPECT_NE(error.find("unknown variable '${HOME}'"), std::string::npos)
      << error;
  EXPECT_NE(error.find("(for the literal text ${HOME}, write $${HOME})"),
            std::string::npos)
      << error;
}

TEST(ScenarioParser, RejectsDeepNestingWithLine) {
  std::string block;
  for (int i = 0; i < 600; ++i) block += "- ";
  std::string flow =
      FileError("name: deep\nsteps:\n  - " + std::string(3000, '[') + "\n");
  std::string compact =
      FileError("name: deep\nsteps:\n  - " + block + "x\nseed: 1\n");

  EXPECT_EQ(flow,
            "bad.yaml:3: invalid YAML: lists and maps are nested 500 levels "
            "deep here, past the YAML parser's limit; a scenario needs far "
            "fewer, so check the brackets and indentation");
  EXPECT_NE(compact.find("bad.yaml:3: invalid YAML: lists and maps are "
                         "nested 500 levels deep here"),
            std::string::npos)
      << compact;
}

TEST(ScenarioParser, RejectsKeyNamesThatAreNotIds) {
  base::StatusOr<Scenario> declared = ParseScenario(
      "clusters: [{name: prod, version: 1.19.16_1540}]\n"
      "kms:\n  - instance: kp\n    keys:\n      - name: \"a\\nb\"\n"
      "steps:\n  - advance: 1m\n",
      "bad.yaml");
  std::string created =
      ParseError("  - create_key: {instance: kp, name: 'crk 2'}\n");

  ASSERT_FALSE(declared.ok());
  EXPECT_EQ(declared.status().message(),
            "bad.yaml:5: kms key: key name 'a\nb' must be 1 to 90 letters, "
            "digits, '-' and '_', because it is also the key's id; rename "
            "the key");
  EXPECT_NE(created.find("bad.yaml:10: step 1 (create_key): key name 'crk "),
            std::string::npos)
      << created;
}

TEST(ScenarioParser, RejectsDurationsThatWouldOverflow) {
  EXPECT_EQ(ParseError("  - advance: 300000d\n"),
            "bad.yaml:10: step 1 (advance): field 'duration' is too long: "
            "'300000d' is longer than the maximum 36500d (100 years)");
  EXPECT_EQ(ParseError("  - advance: 300000000000d\n"),
            "bad.yaml:10: step 1 (advance): field 'duration' is too long: "
            "'300000000000d' is longer than the maximum 36500d (100 years)");
  EXPECT_EQ(ParseError("  - advance: 36500d\n"), "ok");
  EXPECT_EQ(ParseError("  - advance: 300000x\n"),
            "bad.yaml:10: step 1 (advance): field 'duration' must be a "
            "duration such as 90s, 5m or 1h30m");
}

TEST(ScenarioParser, RejectsUnknownStep) {
  std::string error = ParseError("  - advance: 1m\n  - disable_keys: crk\n");

  EXPECT_NE(error.find("bad.yaml:11:"), std::string::npos) << error;
  EXPECT_NE(error.find("unknown step 'disable_keys'"), std::string::npos);
  EXPECT_NE(error.find("disable_key,"), std::string::npos) << error;
}

TEST(ScenarioParser, RejectsMissingField) {
  std::string error = ParseError("  - create_secret: {namespace: default}\n");

  EXPECT_NE(error.find("bad.yaml:10:"), std::string::npos) << error;
  EXPECT_NE(error.find("missing required field 'name'"), std::string::npos)
      << error;
}

TEST(ScenarioParser, RejectsWrongType) {
  std::string error = ParseError("  - advance: soon\n");

  EXPECT_NE(error.find("bad.yaml:10:"), std::string::npos) << error;
  EXPECT_NE(error.find("field 'duration' must be a duration"),
            std::string::npos)
      << error;
}

TEST(ScenarioParser, RejectsWithinWithoutDuration) {
  std::string error =
      ParseError("  - expect_cluster: {health: warning, within: later}\n");

  EXPECT_NE(error.find("field 'within' must be a duration"), std::string::npos)
      << error;
}

TEST(ScenarioParser, RejectsUnknownField) {
  std::string error = ParseError("  - get_secret: {name: db, nmae: x}\n");

  EXPECT_NE(error.find("unknown field 'nmae'"), std::string::npos) << error;
}

TEST(ScenarioParser, RejectsUnknownKey) {
  std::string error = ParseError("  - disable_key: other\n");

  EXPECT_NE(error.find("bad.yaml:10:"), std::string::npos) << error;
  EXPECT_NE(error.find("unknown key 'other'; declared: crk; use a declared "
                       "name, add the key under its instance's 'keys:'"),
            std::string::npos)
      << error;
}

TEST(ScenarioParser, RejectsUnknownCluster) {
  std::string error = ParseError("  - get_secret: {cluster: dev, name: x}\n");

  EXPECT_NE(error.find("bad.yaml:10:"), std::string::npos) << error;
  EXPECT_NE(error.find("unknown cluster 'dev'; declared: prod; use a "
                       "declared name or add the cluster under 'clusters:'"),
            std::string::npos)
      << error;
}

TEST(ScenarioParser, RejectsBadVersion) {
  base::StatusOr<Scenario> parsed = ParseScenario(
      "clusters:\n  - {name: a, version: latest}\nsteps:\n  - advance: 1m\n",
      "v.yaml");

  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("v.yaml:2:"), std::string::npos)
      << parsed.status().message();
  EXPECT_NE(parsed.status().message().find("invalid cluster version"),
            std::string::npos);
}

TEST(ScenarioParser, RejectsBadRegex) {
  std::string error =
      ParseError("  - expect_cluster: {master_status: \"(\"}\n");

  EXPECT_NE(error.find("not a valid regular expression"), std::string::npos)
      << error;
}

TEST(ScenarioParser, RejectsMissingSteps) {
  base::StatusOr<Scenario> parsed =
      ParseScenario("clusters:\n  - {name: a, version: '1.19'}\n", "s.yaml");

  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("missing required field 'steps'"),
            std::string::npos);
}

TEST(ScenarioParser, RejectsEmptyWithin) {
  std::string error =
      ParseError("  - expect_cluster: {health: warning, within: }\n");

  EXPECT_NE(error.find("bad.yaml:10:"), std::string::npos) << error;
  EXPECT_NE(error.find("field 'within' must be a duration such as 90s"),
            std::string::npos)
      << error;
}

TEST(ScenarioParser, RejectsUnknownUser) {
  std::string error =
      ParseError("  - get_secret: {name: db, as: eve@example.com}\n");

  EXPECT_NE(error.find("bad.yaml:10:"), std::string::npos) << error;
  EXPECT_NE(error.find("unknown user 'eve@example.com'; add it with an "
                       "add_user step before this one"),
            std::string::npos)
      << error;
}

TEST(ScenarioParser, AcceptsUserAddedEarlier) {
  EXPECT_EQ(ParseError("  - add_user: {email: dev@example.com, "
                       "cluster_service_role: Writer}\n"
                       "  - get_secret: {name: db, as: dev@example.com}\n"),
            "ok");
}

TEST(ScenarioParser, RejectsRestoreWithoutSnapshot) {
  std::string error = ParseError("  - restore: before\n  - snapshot: before\n");

  EXPECT_NE(error.find("bad.yaml:10:"), std::string::npos) << error;
  EXPECT_NE(error.find("no snapshot named 'before' was taken before this "
                       "step; add '- snapshot: before' earlier"),
            std::string::npos)
      << error;
}

TEST(ScenarioParser, RejectsFaultStillInEffect) {
  std::string error = ParseError(
      "  - kms_fault: {name: down, kind: outage}\n"
      "  - kms_fault: {name: down, kind: outage}\n");

  EXPECT_NE(error.find("bad.yaml:11:"), std::string::npos) << error;
  EXPECT_NE(error.find("a KMS fault named 'down' is still in effect; clear "
                       "it first"),
            std::string::npos)
      << error;
}

TEST(ScenarioParser, RejectsClearOfUnknownFault) {
  std::string error = ParseError(
      "  - kms_fault: {name: down, kind: outage}\n"
      "  - clear_kms_fault: down\n  - clear_kms_fault: down\n");

  EXPECT_NE(error.find("bad.yaml:12:"), std::string::npos) << error;
  EXPECT_NE(error.find("unknown KMS fault 'down'; declared: none"),
            std::string::npos)
      << error;
}

TEST(ScenarioParser, RejectsBadFaults) {
  EXPECT_NE(ParseError("  - kms_fault: {name: f, kind: slow}\n")
                .find("field 'kind' must be latency, error or outage"),
            std::string::npos);
  EXPECT_NE(ParseError("  - kms_fault: {name: f, kind: latency}\n")
                .find("a latency fault needs 'latency'"),
            std::string::npos);
  EXPECT_NE(ParseError("  - kms_fault: {name: f, kind: error, operation: "
                       "decrypt}\n")
                .find("unknown KMS operation 'decrypt'"),
            std::string::npos);
  EXPECT_NE(ParseError("  - kms_fault: {name: f, kind: error, rate: 2}\n")
                .find("field 'rate' must be between 0 and 1"),
            std::string::npos);
  EXPECT_NE(ParseError("  - kms_fault: {name: f, kind: error, key: nokey}\n")
                .find("unknown key 'nokey'"),
            std::string::npos);
}

TEST(ScenarioParser, RejectsHttpStatusOnKmsStep) {
  std::string error =
      ParseError("  - disable_key: crk\n    expect: {http_status: 409}\n");

  EXPECT_NE(error.find("'http_status' and 'http_reason' apply to Kubernetes "
                       "operations only"),
            std::string::npos)
      << error;
}

TEST(ScenarioParser, RejectsBadHealthValue) {
  std::string error = ParseError("  - expect_health: {readyz: up}\n");

  EXPECT_NE(error.find("field 'readyz' must be ok or failed, got 'up'"),
            std::string::npos)
      << error;
}

TEST(ScenarioParser, RejectsKsInit) {
  std::string error = ParseError("  - ks: 'init --owner x@example.com'\n");

  EXPECT_NE(error.find("`ks init` is not a step"), std::string::npos) << error;
}

TEST(ScenarioParser, RejectsMissingFieldWithFix) {
  std::string error = ParseError("  - create_secret: {data: {a: b}}\n");

  EXPECT_NE(error.find("bad.yaml:10:"), std::string::npos) << error;
  EXPECT_NE(error.find("missing required field 'name'; add name: <a "
                       "string>"),
            std::string::npos)
      << error;
}

}  // namespace
}  // namespace scenarios

namespace scenarios {
namespace {

// Parses `text` as a whole file; returns the error message, or "ok".
std::string FileError(const std::string& text) {
  base::StatusOr<Scenario> parsed = ParseScenario(text, "bad.yaml");
  if (parsed.ok()) return "ok";
  return parsed.status().message();
}

TEST(ScenarioParser, RejectsNegativeSeeds) {
  std::string top =
      FileError("name: t\nseed: -1\n" + std::string(kHeader).substr(8) +
                "  - advance: 1m\n");
  std::string fault = ParseError(
      "  - kms_fault: {name: f, kind: error, rate: 0.5, seed: -1}\n");

  EXPECT_EQ(top,
            "bad.yaml:2: field 'seed' must be an integer from 0 to "
            "9223372036854775807, got -1");
  EXPECT_EQ(fault,
            "bad.yaml:10: step 1 (kms_fault): field 'seed' must be an integer "
            "from 0 to 9223372036854775807, got -1");
}

TEST(ScenarioParser, RejectsQuotedNumbersAndBooleans) {
  std::string times = ParseError(
      "  - repeat:\n      times: \"3\"\n      steps: [advance: 1m]\n");
  std::string ok =
      ParseError("  - get_secret: {name: db}\n    expect: {ok: 'true'}\n");
  std::string tagged = ParseError("  - reload_worker: !!str 0\n");

  EXPECT_EQ(times,
            "bad.yaml:11: step 1 (repeat): field 'times' must be an integer, "
            "not the string '3'; remove the quotes");
  EXPECT_EQ(ok,
            "bad.yaml:11: step 1 (get_secret): expect: field 'ok' must be true "
            "or false, not the string 'true'; remove the quotes");
  EXPECT_NE(tagged.find("field 'worker' must be an integer, not the string"),
            std::string::npos)
      << tagged;
}

TEST(ScenarioParser, RejectsIntegersOutOfRange) {
  std::string api_server =
      ParseError("  - get_secret: {name: db, api_server: 4294967296}\n");
  std::string times =
      ParseError("  - repeat: {times: -1, steps: [advance: 1m]}\n");

  EXPECT_EQ(api_server,
            "bad.yaml:10: step 1 (get_secret): field 'api_server' must be an "
            "integer from 0 to 2147483647, got 4294967296");
  EXPECT_EQ(times,
            "bad.yaml:10: step 1 (repeat): field 'times' must be an integer "
            "from 0 to 1000000, got -1");
}

TEST(ScenarioParser, RejectsDuplicateKeys) {
  std::string top = FileError("name: a\n" + std::string(kHeader).substr(8) +
                              "  - advance: 1m\nname: b\n");
  std::string in_step = ParseError(
      "  - advance: 1m\n  - get_secret:\n      name: db\n      name: other\n");
  std::string nested =
      ParseError("  - create_secret: {name: db, data: {a: x, b: y, a: z}}\n");

  EXPECT_EQ(top,
            "bad.yaml:11: duplicate key 'name', first at line 1; remove one "
            "of the two");
  EXPECT_EQ(in_step,
            "bad.yaml:13: duplicate key 'name', first at line 12; remove one "
            "of the two");
  EXPECT_EQ(nested,
            "bad.yaml:10: duplicate key 'a', first at line 10; remove one of "
            "the two");
  EXPECT_EQ(ParseError("  - create_secret: {name: db, data: {a: x}}\n"
                       "  - get_secret: {name: db}\n"
                       "    expect: {data: {a: x}}\n"),
            "ok");
}

TEST(ScenarioParser, RejectsEmptyName) {
  EXPECT_EQ(FileError("name: ''\n" + std::string(kHeader).substr(8) +
                      "  - advance: 1m\n"),
            "bad.yaml:1: field 'name' must not be empty; name the scenario or "
            "drop 'name:' to use the file name");
}

TEST(ScenarioParser, ReportsLinesInsideRepeatAndKms) {
  std::string repeat = ParseError(
      "  - advance: 1m\n  - repeat:\n      times: 2\n      count: 3\n"
      "      steps: [advance: 1m]\n");
  std::string kms = FileError(
      "clusters: [{name: prod, version: 1.19.16_1540}]\n"
      "kms:\n  - instance: kp\n    kind: hpcs\n"
      "steps: [advance: 1m]\n");

  EXPECT_NE(repeat.find("bad.yaml:13: step 2 (repeat): unknown field 'count'"),
            std::string::npos)
      << repeat;
  EXPECT_NE(kms.find("bad.yaml:4: kms: unknown field 'kind'"),
            std::string::npos)
      << kms;
}

TEST(ScenarioParser, VarsUseEarlierVars) {
  base::StatusOr<Scenario> parsed = ParseScenario(
      "vars:\n  base: db\n  name: ${base}-1\n" + std::string(kHeader) +
          "  - get_secret: {name: '${name}'}\n",
      "vars.yaml");
  std::string later = FileError("vars:\n  name: ${base}-1\n  base: db\n" +
                                std::string(kHeader) + "  - advance: 1m\n");

  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->steps[0].fields.String("name"), "db-1");
  EXPECT_EQ(later,
            "bad.yaml:2: unknown variable '${base}'; a variable can use only "
            "the variables defined above it under 'vars:' (for the literal "
            "text ${base}, write $${base})");
}

TEST(ScenarioParser, ParsesEveryDocument) {
  std::string document = std::string(kHeader).substr(8) + "  - advance: 1m\n";
  base::StatusOr<std::vector<Scenario>> parsed = ParseScenarios(
      document + "---\nname: second\n" + document + "...\n---\n" + document,
      "dir/suite.yaml");

  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->size(), 3u);
  EXPECT_EQ((*parsed)[0].name, "suite#1");
  EXPECT_EQ((*parsed)[1].name, "second");
  EXPECT_EQ((*parsed)[2].name, "suite#3");
  EXPECT_EQ((*parsed)[0].steps[0].line, 9);
  EXPECT_EQ((*parsed)[1].line, 11);
  EXPECT_EQ((*parsed)[1].steps[0].line, 20);
  EXPECT_EQ((*parsed)[2].line, 22);
  EXPECT_EQ((*parsed)[2].steps[0].line, 31);
}

TEST(ScenarioParser, RejectsErrorsInLaterDocuments) {
  std::string document = std::string(kHeader).substr(8) + "  - advance: 1m\n";

  base::StatusOr<std::vector<Scenario>> bad_step = ParseScenarios(
      document + "---\n" + std::string(kHeader).substr(8) + "  - advanc: 1m\n",
      "bad.yaml");
  base::StatusOr<std::vector<Scenario>> empty =
      ParseScenarios(document + "---\n---\n" + document, "bad.yaml");
  base::StatusOr<std::vector<Scenario>> duplicate = ParseScenarios(
      document + "---\nname: a\nname: b\n" + document, "bad.yaml");
  base::StatusOr<Scenario> single =
      ParseScenario(document + "---\n" + document, "bad.yaml");

  ASSERT_FALSE(bad_step.ok());
  EXPECT_NE(bad_step.status().message().find("bad.yaml:19: step 1: unknown "
                                             "step 'advanc'"),
            std::string::npos)
      << bad_step.status().message();
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().message(),
            "bad.yaml:10: document 2 is empty; remove its '---' line or "
            "write a scenario after it");
  ASSERT_FALSE(duplicate.ok());
  EXPECT_EQ(duplicate.status().message(),
            "bad.yaml:12: duplicate key 'name', first at line 11; remove one "
            "of the two");
  ASSERT_FALSE(single.ok());
  EXPECT_NE(single.status().message().find("bad.yaml:10: a second YAML "
                                           "document starts here"),
            std::string::npos)
      << single.status().message();
}

TEST(ScenarioParser, IgnoresEmptyLastDocument) {
  std::string document = std::string(kHeader).substr(8) + "  - advance: 1m\n";

  base::StatusOr<std::vector<Scenario>> one =
      ParseScenarios(document + "---\n", "dir/one.yaml");
  base::StatusOr<std::vector<Scenario>> two = ParseScenarios(
      document + "---\n" + document + "---\n# the end\n---\n", "dir/two.yaml");
  base::StatusOr<std::vector<Scenario>> only =
      ParseScenarios("---\n", "only.yaml");

  ASSERT_TRUE(one.ok()) << one.status();
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].name, "one");
  ASSERT_TRUE(two.ok()) << two.status();
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ((*two)[1].name, "two#2");
  ASSERT_FALSE(only.ok());
  EXPECT_EQ(only.status().message(),
            "only.yaml:1: a scenario must be a YAML map with 'clusters' and "
            "'steps'");
}

TEST(ScenarioParser, RejectsClustersThatCannotBeCreated) {
  auto cluster = [](const std::string& fields) {
    return FileError("clusters:\n  - {" + fields +
                     "}\nsteps:\n  - advance: 1m\n");
  };

  EXPECT_EQ(cluster("name: A b, version: 1.19.16_1540"),
            "bad.yaml:2: cluster: field 'name': invalid cluster name \"A b\": "
            "use up to 35 letters, digits, '.', '-' or '_', starting with a "
            "letter");
  EXPECT_EQ(cluster("name: " + std::string(36, 'a') + ", version: '1.19'"),
            "bad.yaml:2: cluster: field 'name': invalid cluster name \"" +
                std::string(36, 'a') +
                "\": use up to 35 letters, digits, '.', '-' or '_', starting "
                "with a letter");
  EXPECT_EQ(cluster("name: a, version: 1.16.0"),
            "bad.yaml:2: cluster: field 'version': unsupported cluster "
            "version 1.16.0: the simulated service offers Kubernetes 1.17, "
            "1.18, 1.19, 1.20 and 1.21 (any patch and fix pack), for example "
            "1.19.16_1540");
  EXPECT_EQ(cluster("name: a, version: '1.22', region: mars"),
            "bad.yaml:2: cluster: field 'version': unsupported cluster "
            "version 1.22.0: the simulated service offers Kubernetes 1.17, "
            "1.18, 1.19, 1.20 and 1.21 (any patch and fix pack), for example "
            "1.19.16_1540");
  EXPECT_EQ(cluster("name: a, version: '1.19', region: mars"),
            "bad.yaml:2: cluster: field 'region': unknown region \"mars\": "
            "the simulated service offers au-syd, eu-de, eu-gb, jp-tok, "
            "us-east, us-south");
  EXPECT_EQ(cluster("name: a.b-c_D, version: '1.21', region: eu-de"), "ok");
}

TEST(ScenarioParser, RejectsKeysThatExpireAtStart) {
  auto key = [](const std::string& expiry) {
    return FileError(
        "clusters: [{name: a, version: '1.19'}]\n"
        "kms:\n  - instance: kp\n    keys:\n"
        "      - {name: k1, expires_after: " +
        expiry + "}\nsteps:\n  - advance: 1m\n");
  };

  EXPECT_EQ(key("0s"),
            "bad.yaml:5: kms key: field 'expires_after' must be greater than "
            "0s, got 0s, because the KMS rejects a key that has already "
            "expired; use a later expiry such as 1h and an advance step past "
            "it");
  EXPECT_EQ(key("1s"), "ok");
}

TEST(ScenarioParser, RejectsRepeatVariableInScope) {
  std::string inner_default = ParseError(
      "  - repeat:\n      times: 2\n      steps:\n"
      "        - repeat:\n            times: 2\n"
      "            steps: [create_namespace: 'x${i}']\n");
  std::string inner_named = ParseError(
      "  - repeat:\n      times: 2\n      var: n\n      steps:\n"
      "        - repeat: {times: 2, var: n, steps: [advance: 1m]}\n");
  std::string top = FileError("vars:\n  s: db\n" + std::string(kHeader) +
                              "  - repeat: {times: 2, var: s, steps: "
                              "[advance: 1m]}\n");
  std::string siblings = ParseError(
      "  - repeat: {times: 2, steps: [advance: 1m]}\n"
      "  - repeat:\n      times: 2\n      var: j\n      steps:\n"
      "        - repeat: {times: 2, steps: [create_namespace: 'x${i}${j}']}\n");

  EXPECT_EQ(inner_default,
            "bad.yaml:13: step 1 (repeat): variable 'i' (the default when "
            "'var' is not given) is already defined by the repeat at line 10, "
            "and this repeat would hide it; give this repeat another name "
            "with 'var:', such as var: i2");
  EXPECT_EQ(inner_named,
            "bad.yaml:14: step 1 (repeat): variable 'n' is already defined by "
            "the repeat at line 10, and this repeat would hide it; give this "
            "repeat another name with 'var:', such as var: n2");
  EXPECT_EQ(top,
            "bad.yaml:12: step 1 (repeat): variable 's' is already defined "
            "under 'vars:' at line 2, and this repeat would hide it; give "
            "this repeat another name with 'var:', such as var: s2");
  EXPECT_EQ(siblings, "ok");
}

}  // namespace
}  // namespace scenarios
