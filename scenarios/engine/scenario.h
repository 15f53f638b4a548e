// Scenario files: the YAML format that `sim replay` runs, and its parser.
//
// A scenario declares clusters and KMS instances with keys, then lists
// steps. Each step is a map with one step keyword (`disable_key: crk1` or
// `create_secret: {name: db, data: {...}}`) and, for steps that call an API,
// an optional `expect:` block. Expectations may carry `within: <duration>`,
// a deadline on the virtual clock: the engine advances the clock timer by
// timer until the expectation holds or the deadline passes.
//
// `for: <duration>` is the opposite check: the expectation must hold now and at
// every timer until the duration has passed.
//
// Top-level `vars:` defines strings that steps use as `${name}`, and a
// `repeat: {times: N, var: i, steps: [...]}` step expands its steps N times
// with `${i}` counting from 0, for soak scenarios. A variable's value may use
// the variables defined above it; each value is expanded once, where it is
// defined. `$${` stands for a literal `${`. Expansion is bounded: one value
// at most 1 MiB, all values together 64 MiB, at most 1,000,000 steps and
// 1,000,000 repeat passes.
//
// Parsing validates everything before any step runs: YAML syntax, duplicate
// keys, step keywords, field names and types (a quoted "3" is a string, not
// an integer), integer ranges, and the names of clusters, instances and keys
// that steps refer to. Errors name the file, line and field.
#ifndef SCENARIOS_ENGINE_SCENARIO_H_
#define SCENARIOS_ENGINE_SCENARIO_H_

#include <cstdint>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <variant>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "sim/cluster.h"

namespace scenarios {

using StringMap = std::map<std::string, std::string>;
using StringList = std::vector<std::string>;
using Value = std::variant<std::string, base::Duration, bool, int64_t,
                           StringMap, StringList, double>;

// A step's fields after validation, by name.
class Fields {
 public:
  bool Has(const std::string& name) const { return values_.contains(name); }
  // REQUIRES: the field was declared with the matching type.
  const std::string& String(const std::string& name) const;
  std::string StringOr(const std::string& name,
                       const std::string& fallback) const;
  base::Duration DurationOf(const std::string& name) const;
  bool BoolOr(const std::string& name, bool fallback) const;
  int64_t Int(const std::string& name) const;
  double Number(const std::string& name) const;
  const StringMap& Map(const std::string& name) const;
  const StringList& List(const std::string& name) const;

  void Set(const std::string& name, Value value) {
    values_[name] = std::move(value);
  }
  // Returns the field as written, for failure messages and reports.
  std::string Describe(const std::string& name) const;

 private:
  std::map<std::string, Value> values_;
};

struct Step {
  int index = 0;  // 1-based position in the file
  int line = 0;   // 1-based line of the step in the file
  std::string kind;
  Fields fields;
  // The `expect:` block of an action step; empty for expect_* steps, whose
  // checks are in `fields`.
  std::optional<Fields> expect;
  std::optional<base::Duration> within;
  // `for: <duration>`: the expectation must keep holding this long.
  std::optional<base::Duration> hold;
};

struct KeySpec {
  std::string name;
  std::string instance;
  bool root = true;
  std::optional<base::Duration> expires_after;  // from the scenario start
  // Deletion needs a prior set_key_for_deletion (dual authorization).
  bool dual_auth_delete = false;
};

struct InstanceSpec {
  std::string name;
  std::string type = "key-protect";
};

struct Scenario {
  std::string file;
  // 1-based line of the scenario's `name:`, or else of the start of its
  // YAML document.
  int line = 1;
  std::string name;
  std::string description;
  std::optional<uint64_t> seed;
  std::vector<sim::ClusterSpec> clusters;
  std::vector<InstanceSpec> instances;
  std::vector<KeySpec> keys;
  std::vector<Step> steps;
};

// Compiles `pattern`, an expectation's regular expression, for matching
// text of any length: libstdc++'s default matcher recurses once per input
// character and overflows the stack on long messages, while its polynomial
// mode does not (and refuses back-references). Throws std::regex_error.
std::regex CompileExpectationRegex(const std::string& pattern);

// Parses and validates a scenario file: one scenario per YAML document, in
// file order, so a file may hold several separated by `---` lines. An
// unnamed scenario takes the file's name without extension, followed by
// "#N" (its document's position) in a file of several. Errors are
// kInvalidArgument with the message "FILE:LINE: ..." naming the field and
// how to fix it, or kNotFound when the file cannot be opened.
base::StatusOr<std::vector<Scenario>> ParseScenarioFile(
    const std::string& path);
// As ParseScenarioFile, from text; `path` is used in names and messages
// only.
base::StatusOr<std::vector<Scenario>> ParseScenarios(const std::string& text,
                                                     const std::string& path);
// As ParseScenarios, for text of exactly one YAML document.
base::StatusOr<Scenario> ParseScenario(const std::string& text,
                                       const std::string& path);

// Expands files and folders (recursively, *.yaml and *.yml, sorted) into a
// list of scenario files. Fails with kNotFound for a missing path, and with
// kInvalidArgument for a path that is neither a regular file nor a folder,
// such as a FIFO or a device.
base::StatusOr<std::vector<std::string>> FindScenarioFiles(
    const std::vector<std::string>& paths);

// A JSON Schema (draft 2020-12) of the format, built from the parser's
// tables so that the two cannot drift apart.
std::string ScenarioJsonSchema();

// The step keywords the parser accepts, sorted.
std::vector<std::string> StepKinds();

}  // namespace scenarios

#endif  // SCENARIOS_ENGINE_SCENARIO_H_
