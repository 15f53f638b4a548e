#include "scenarios/engine/scenario.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string_view>

#include "kms-mock/faults.h"
#include "kms-mock/kms.h"

namespace scenarios {
namespace {

enum class Type {
  kString,
  kDuration,
  kBool,
  kInt,
  kNumber,
  kStringMap,
  kStringList
};

struct FieldSpec {
  std::string name;
  Type type;
  bool required = false;
  // The range of a kInt field.
  int64_t min = std::numeric_limits<int64_t>::min();
  int64_t max = std::numeric_limits<int64_t>::max();
};

struct StepSpec {
  std::string kind;
  // The field that a scalar step value fills: `disable_key: crk1`.
  std::string shorthand;
  std::vector<FieldSpec> fields;
  bool has_expect = false;  // takes an `expect:` block
};

const FieldSpec kClusterField{"cluster", Type::kString};
const FieldSpec kNamespaceField{"namespace", Type::kString};
const FieldSpec kKeyField{"key", Type::kString, true};
const FieldSpec kWithinField{"within", Type::kDuration};
const FieldSpec kForField{"for", Type::kDuration};
// Kubernetes operations: the API server that serves the call and the
// account user who makes it.
const FieldSpec kApiServerField{"api_server", Type::kInt, false, 0,
                                std::numeric_limits<int>::max()};
// Seeds of the scenario and of KMS faults. Negative numbers are rejected
// rather than wrapped to huge unsigned values.
const FieldSpec kSeedField{"seed", Type::kInt, false, 0,
                           std::numeric_limits<int64_t>::max()};
const FieldSpec kAsField{"as", Type::kString};
const FieldSpec kSecretNameField{"name", Type::kString, true};

// The maximum number of passes of one repeat block.
constexpr int64_t kMaxRepeat = 1000000;
// The maximum number of steps of a scenario after its repeats are expanded,
// and of passes of all its repeat blocks together. Nested repeats multiply,
// and would otherwise run out of memory or never end.
constexpr int64_t kMaxSteps = 1000000;
constexpr int64_t kMaxRounds = 1000000;

// The fields of a root or standard key, in `kms:` and in create_key.
const std::vector<FieldSpec> kKeyFields = {{"name", Type::kString, true},
                                           {"root", Type::kBool},
                                           {"expires_after", Type::kDuration},
                                           {"dual_auth_delete", Type::kBool}};
// The fields of an entry of `clusters:`.
const std::vector<FieldSpec> kClusterFields = {
    {"name", Type::kString, true},
    {"version", Type::kString, true},
    {"infrastructure", Type::kString},
    {"region", Type::kString}};

StepSpec KeyAction(const std::string& kind) {
  return {kind, "key", {kKeyField}, true};
}

// A Kubernetes operation: `fields` after the cluster and namespace, then the
// API server that serves the call and the user who makes it.
StepSpec KubernetesStep(const std::string& kind, std::vector<FieldSpec> fields,
                        const std::string& shorthand = "") {
  fields.insert(fields.begin(), {kClusterField, kNamespaceField});
  fields.push_back(kApiServerField);
  fields.push_back(kAsField);
  return {kind, shorthand, std::move(fields), true};
}

std::vector<FieldSpec> CreateKeyFields() {
  std::vector<FieldSpec> fields = {{"instance", Type::kString, true}};
  fields.insert(fields.end(), kKeyFields.begin(), kKeyFields.end());
  return fields;
}

const std::vector<StepSpec>& StepSpecs() {
  static const std::vector<StepSpec> specs = {
      {"advance", "duration", {{"duration", Type::kDuration, true}}},
      {"create_key", "", CreateKeyFields(), true},
      KeyAction("disable_key"),
      KeyAction("enable_key"),
      KeyAction("rotate_key"),
      KeyAction("restore_key"),
      KeyAction("purge_key"),
      KeyAction("set_key_for_deletion"),
      KeyAction("unset_key_for_deletion"),
      {"delete_key", "key", {kKeyField, {"force", Type::kBool}}, true},
      {"kms_enable",
       "",
       {kClusterField,
        {"instance", Type::kString, true},
        {"key", Type::kString, true},
        {"public_endpoint", Type::kBool},
        {"as", Type::kString}},
       true},
      {"kms_fault",
       "",
       {{"name", Type::kString, true},
        {"kind", Type::kString, true},
        {"operation", Type::kString},
        {"key", Type::kString},
        {"latency", Type::kDuration},
        {"status", Type::kInt, false, 400, 599},
        {"reason", Type::kString},
        {"message", Type::kString},
        {"outage", Type::kString},
        {"nth", Type::kInt, false, 0},
        {"rate", Type::kNumber},
        kSeedField,
        {"max_hits", Type::kInt, false, 0},
        {"lasts", Type::kDuration}},
       true},
      {"clear_kms_fault", "name", {{"name", Type::kString}}, true},
      {"snapshot", "name", {{"name", Type::kString, true}}},
      {"restore", "name", {{"name", Type::kString, true}}},
      {"create_namespace",
       "name",
       {kClusterField,
        {"name", Type::kString, true},
        kApiServerField,
        kAsField},
       true},
      KubernetesStep("create_secret", {kSecretNameField,
                                       {"type", Type::kString},
                                       {"data", Type::kStringMap}}),
      KubernetesStep("get_secret", {kSecretNameField}),
      KubernetesStep("update_secret",
                     {kSecretNameField, {"data", Type::kStringMap, true}}),
      KubernetesStep("replace_secret", {kSecretNameField,
                                        {"type", Type::kString},
                                        {"data", Type::kStringMap},
                                        {"resource_version", Type::kString}}),
      KubernetesStep("delete_secret", {kSecretNameField}),
      KubernetesStep("list_secrets", {{"all_namespaces", Type::kBool}}),
      KubernetesStep("rewrite_secrets", {}, "cluster"),
      {"add_api_server", "cluster", {kClusterField}, true},
      {"restart_api_server",
       "",
       {kClusterField,
        {"api_server", Type::kInt, true, 0, std::numeric_limits<int>::max()}},
       true},
      {"ks", "command", {{"command", Type::kString, true}, kAsField}, true},
      {"disable_kms", "cluster", {kClusterField}, true},
      {"update_master",
       "version",
       {kClusterField, {"version", Type::kString, true}},
       true},
      {"refresh_master", "cluster", {kClusterField}, true},
      {"add_workers",
       "",
       {kClusterField, {"flavor", Type::kString}, {"count", Type::kInt}},
       true},
      {"reload_worker",
       "worker",
       {kClusterField, {"worker", Type::kInt, true}},
       true},
      {"update_worker",
       "worker",
       {kClusterField, {"worker", Type::kInt, true}},
       true},
      {"enable_data_shield", "cluster", {kClusterField}, true},
      {"add_user",
       "",
       {kClusterField,
        {"email", Type::kString, true},
        {"cluster_role", Type::kString},
        {"cluster_service_role", Type::kString},
        {"kms_platform_role", Type::kString},
        {"kms_service_role", Type::kString}},
       true},
      {"set_api_key",
       "user",
       {kClusterField, {"user", Type::kString, true}},
       true},
      {"expect_worker",
       "",
       {kClusterField,
        {"worker", Type::kInt, true},
        {"state", Type::kString},
        {"luks_secret", Type::kBool},
        {"luks_key_generation", Type::kInt},
        {"luks_encrypted", Type::kBool},
        kWithinField,
        kForField}},
      {"expect_cluster",
       "",
       {kClusterField,
        {"master_status", Type::kString},
        {"health", Type::kString},
        {"kms", Type::kString},
        kWithinField,
        kForField}},
      {"expect_health",
       "",
       {kClusterField,
        kApiServerField,
        {"livez", Type::kString},
        {"readyz", Type::kString},
        {"kms_providers", Type::kString},
        kWithinField,
        kForField}},
      {"expect_key",
       "",
       {kKeyField, {"state", Type::kString, true}, kWithinField, kForField}},
      {"expect_kms_calls",
       "",
       {{"operation", Type::kString, true},
        {"calls", Type::kInt},
        {"at_most", Type::kInt},
        {"failed", Type::kInt}}},
      {"expect_stored",
       "",
       {kClusterField,
        kNamespaceField,
        {"name", Type::kString, true},
        {"prefix", Type::kString},
        {"contains", Type::kStringList},
        {"not_contains", Type::kStringList},
        {"absent", Type::kBool},
        kWithinField,
        kForField}},
  };
  return specs;
}

const std::vector<FieldSpec>& ExpectFields() {
  static const std::vector<FieldSpec> fields = {
      {"ok", Type::kBool},
      {"error", Type::kString},
      {"reason", Type::kString},
      {"data", Type::kStringMap},
      {"count", Type::kInt},
      {"names", Type::kStringList},
      {"written", Type::kInt},
      {"http_status", Type::kInt},
      {"http_reason", Type::kString},
      {"output", Type::kString},
      kWithinField,
      kForField,
  };
  return fields;
}

const StepSpec* FindStepSpec(const std::string& kind) {
  for (const StepSpec& spec : StepSpecs()) {
    if (spec.kind == kind) return &spec;
  }
  return nullptr;
}

std::string TypeName(Type type) {
  switch (type) {
    case Type::kString:
      return "a string";
    case Type::kDuration:
      return "a duration such as 90s, 5m or 1h30m";
    case Type::kBool:
      return "true or false";
    case Type::kInt:
      return "an integer";
    case Type::kNumber:
      return "a number";
    case Type::kStringMap:
      return "a map of strings";
    case Type::kStringList:
      return "a list of strings";
  }
  return "?";
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

using Vars = std::map<std::string, std::string>;

// The maximum size of one scalar after variable expansion: the API server
// rejects a Secret whose values exceed 1 MiB together
// (apiserver::kMaxDataSize), so no field needs more.
constexpr size_t kMaxScalarBytes = 1 << 20;
// The maximum size of all scalars together after expansion. Repeats copy
// their steps' text and variables multiply it, so without a bound a short
// file could expand to more memory than the machine has.
constexpr size_t kMaxExpandedBytes = 64 << 20;

// The file being parsed: builds errors of the form "FILE:LINE: message" and
// expands ${name} references in scalars from the variables in scope.
class Errors {
 public:
  explicit Errors(std::string file) : file_(std::move(file)) {}

  // Variables in scope; replaced while a repeat block is parsed.
  Vars vars;

  // Returns the scalar's text with every ${name} replaced by its value and
  // every $${ by a literal ${. Fails when the result, or all results so far
  // together, exceed the size limits. `fix` ends the message for an unknown
  // variable.
  base::StatusOr<std::string> Text(
      const YAML::Node& node,
      std::string_view fix =
          "; define it under 'vars:' or as a repeat's 'var'") {
    const std::string& text = node.Scalar();
    std::string out;
    size_t at = 0;
    while (at < text.size()) {
      size_t dollar = std::min(text.find('$', at), text.size());
      RETURN_IF_ERROR(Append(node, out, text.substr(at, dollar - at)));
      if (dollar == text.size()) break;
      if (text.compare(dollar, 3, "$${") == 0) {
        RETURN_IF_ERROR(Append(node, out, "${"));
        at = dollar + 3;
        continue;
      }
      if (text.compare(dollar, 2, "${") != 0) {
        RETURN_IF_ERROR(Append(node, out, "$"));
        at = dollar + 1;
        continue;
      }
      size_t close = text.find('}', dollar);
      if (close == std::string::npos) {
        return At(node, "unterminated variable reference in '" + text +
                            "'; write $${ for a literal ${");
      }
      std::string name = text.substr(dollar + 2, close - dollar - 2);
      auto value = vars.find(name);
      if (value == vars.end()) {
        return At(node, "unknown variable '${" + name + "}'" +
                            std::string(fix) + " (for the literal text ${" +
                            name + "}, write $${" + name + "})");
      }
      RETURN_IF_ERROR(Append(node, out, value->second));
      at = close + 1;
    }
    expanded_bytes_ += out.size();
    if (expanded_bytes_ > kMaxExpandedBytes) {
      return At(node, "the scenario's text exceeds " +
                          std::to_string(kMaxExpandedBytes) +
                          " bytes after variable expansion and repeats; "
                          "repeat fewer times or use shorter variables");
    }
    return out;
  }

  base::Status At(const YAML::Node& node, const std::string& message) const {
    return base::InvalidArgumentError(file_ + ":" + std::to_string(Line(node)) +
                                      ": " + message);
  }
  static int Line(const YAML::Node& node) { return node.Mark().line + 1; }

 private:
  // Appends `piece` to the expansion `out` of the scalar `node`, or fails
  // before `out` grows past kMaxScalarBytes.
  base::Status Append(const YAML::Node& node, std::string& out,
                      std::string_view piece) const {
    if (out.size() + piece.size() > kMaxScalarBytes) {
      return At(node, "the value exceeds " + std::to_string(kMaxScalarBytes) +
                          " bytes after variable expansion; use shorter "
                          "variables or fewer references to them");
    }
    out += piece;
    return base::OkStatus();
  }

  std::string file_;
  // The size of every expansion so far, for kMaxExpandedBytes.
  size_t expanded_bytes_ = 0;
};

base::StatusOr<Value> ConvertField(Errors& errors, const YAML::Node& node,
                                   const FieldSpec& spec,
                                   const std::string& where) {
  auto wrong_type = [&] {
    return errors.At(node, where + "field '" + spec.name + "' must be " +
                               TypeName(spec.type));
  };
  // Scalars are read after variable expansion, then converted.
  auto scalar = [&](const YAML::Node& item) -> base::StatusOr<std::string> {
    if (!item.IsScalar()) return wrong_type();
    return errors.Text(item);
  };
  // A quoted scalar, or one tagged !!str, is a string in YAML, so it is no
  // boolean or number even if its text reads like one.
  bool is_string = node.IsScalar() &&
                   (node.Tag() == "!" || node.Tag() == "tag:yaml.org,2002:str");
  if (is_string && (spec.type == Type::kBool || spec.type == Type::kInt ||
                    spec.type == Type::kNumber)) {
    return errors.At(node, where + "field '" + spec.name + "' must be " +
                               TypeName(spec.type) + ", not the string '" +
                               node.Scalar() + "'; remove the quotes");
  }
  switch (spec.type) {
    case Type::kString: {
      ASSIGN_OR_RETURN(std::string text, scalar(node));
      return Value(text);
    }
    case Type::kDuration: {
      ASSIGN_OR_RETURN(std::string text, scalar(node));
      base::StatusOr<base::Duration> d = base::ParseDurationOrError(text);
      if (d.status().code() == base::Code::kOutOfRange) {
        return errors.At(node, where + "field '" + spec.name +
                                   "' is too long: " + d.status().message());
      }
      if (!d.ok()) return wrong_type();
      return Value(*d);
    }
    case Type::kBool: {
      ASSIGN_OR_RETURN(std::string text, scalar(node));
      bool b;
      if (!YAML::convert<bool>::decode(YAML::Node(text), b)) {
        return wrong_type();
      }
      return Value(b);
    }
    case Type::kInt: {
      ASSIGN_OR_RETURN(std::string text, scalar(node));
      int64_t i;
      if (!YAML::convert<int64_t>::decode(YAML::Node(text), i)) {
        return wrong_type();
      }
      if (i < spec.min || i > spec.max) {
        return errors.At(node, where + "field '" + spec.name +
                                   "' must be an integer from " +
                                   std::to_string(spec.min) + " to " +
                                   std::to_string(spec.max) + ", got " + text);
      }
      return Value(i);
    }
    case Type::kNumber: {
      ASSIGN_OR_RETURN(std::string text, scalar(node));
      double d;
      if (!YAML::convert<double>::decode(YAML::Node(text), d)) {
        return wrong_type();
      }
      return Value(d);
    }
    case Type::kStringMap: {
      if (!node.IsMap()) return wrong_type();
      StringMap map;
      for (const auto& item : node) {
        ASSIGN_OR_RETURN(std::string key, scalar(item.first));
        ASSIGN_OR_RETURN(std::string value, scalar(item.second));
        map[key] = value;
      }
      return Value(map);
    }
    case Type::kStringList: {
      if (!node.IsSequence()) return wrong_type();
      StringList list;
      for (const auto& item : node) {
        ASSIGN_OR_RETURN(std::string value, scalar(item));
        list.push_back(value);
      }
      return Value(list);
    }
  }
  return wrong_type();
}

// Validates the fields of `node` against `specs` into `out`. Keys named in
// `skipped` are left to the caller, such as the 'steps' of a repeat.
base::Status ConvertFields(Errors& errors, const YAML::Node& node,
                           const std::vector<FieldSpec>& specs,
                           const std::string& where, Fields& out,
                           const std::set<std::string>& skipped = {}) {
  if (!node.IsMap()) {
    return errors.At(node, where + "expected a map of fields");
  }
  std::vector<std::string> known;
  for (const FieldSpec& spec : specs) known.push_back(spec.name);
  for (const auto& item : node) {
    std::string name = item.first.as<std::string>();
    if (skipped.contains(name)) continue;
    auto spec =
        std::find_if(specs.begin(), specs.end(),
                     [&](const FieldSpec& s) { return s.name == name; });
    if (spec == specs.end()) {
      return errors.At(item.first, where + "unknown field '" + name +
                                       "'; known fields: " + Join(known));
    }
    ASSIGN_OR_RETURN(Value value,
                     ConvertField(errors, item.second, *spec, where));
    out.Set(name, std::move(value));
  }
  for (const FieldSpec& spec : specs) {
    if (spec.required && !out.Has(spec.name)) {
      return errors.At(node, where + "missing required field '" + spec.name +
                                 "'; add " + spec.name + ": <" +
                                 TypeName(spec.type) + ">");
    }
  }
  return base::OkStatus();
}

struct ParseContext {
  ParseContext(const std::string& path, Scenario& scenario)
      : errors(path), scenario(scenario) {}

  Errors errors;
  Scenario& scenario;
  std::set<std::string> clusters;
  std::set<std::string> instances;
  std::set<std::string> keys;
  // Steps and repeat passes expanded so far, at most kMaxSteps and
  // kMaxRounds.
  int64_t steps = 0;
  int64_t rounds = 0;
  // Account users that steps may act as: the owner and those that add_user
  // steps before the current one add.
  std::set<std::string> users = {sim::kDefaultOwner};
  // KMS faults in effect before the current step, by name.
  std::set<std::string> faults;
  // The faults in effect when each snapshot was taken, by snapshot name.
  std::map<std::string, std::set<std::string>> snapshots;
  // The origin of each variable in scope, by name: "under 'vars:' at line
  // N" or "by the repeat at line N". A repeat may not reuse a name in
  // scope, because its value would hide the outer one.
  std::map<std::string, std::string> var_origins;
};

bool IsKubernetesStep(const std::string& kind) {
  return kind == "create_namespace" || kind.ends_with("_secret") ||
         kind.ends_with("_secrets");
}

base::Status CheckName(const ParseContext& ctx, const YAML::Node& at,
                       const std::string& where, const std::string& what,
                       const std::string& name,
                       const std::set<std::string>& known) {
  if (known.contains(name)) return base::OkStatus();
  static const std::map<std::string, std::string> kFixes = {
      {"cluster", "use a declared name or add the cluster under 'clusters:'"},
      {"KMS instance", "use a declared name or add the instance under 'kms:'"},
      {"key",
       "use a declared name, add the key under its instance's 'keys:' or "
       "create it with an earlier create_key step"},
      {"KMS fault",
       "name a fault that an earlier kms_fault step added and no step has "
       "cleared"},
  };
  std::vector<std::string> names(known.begin(), known.end());
  std::string fix;
  if (auto it = kFixes.find(what); it != kFixes.end()) fix = "; " + it->second;
  return ctx.errors.At(
      at, where + "unknown " + what + " '" + name +
              "'; declared: " + (names.empty() ? "none" : Join(names)) + fix);
}

// Checks a key name, which the replay also uses as the key's id in the
// KMS, so that `ks` steps can name the key as the scenario does.
base::Status CheckKeyName(const ParseContext& ctx, const YAML::Node& at,
                          const std::string& where, const std::string& name) {
  if (kms::IsValidKeyId(name)) return base::OkStatus();
  return ctx.errors.At(at, where + "key name '" + name +
                               "' must be 1 to 90 letters, digits, '-' and "
                               "'_', because it is also the key's id; "
                               "rename the key");
}

base::Status ParseClusters(ParseContext& ctx, const YAML::Node& root) {
  YAML::Node list = root["clusters"];
  if (!list) {
    return ctx.errors.At(root,
                         "missing required field 'clusters' (a list of "
                         "{name, version, infrastructure})");
  }
  if (!list.IsSequence()) {
    return ctx.errors.At(list, "field 'clusters' must be a list");
  }
  for (const YAML::Node& node : list) {
    Fields fields;
    RETURN_IF_ERROR(
        ConvertFields(ctx.errors, node, kClusterFields, "cluster: ", fields));
    sim::ClusterSpec spec;
    spec.name = fields.String("name");
    // The checks of sim::Cluster::Create, so that a cluster that could
    // never be created is invalid input rather than a failed run.
    if (base::Status valid = sim::ValidateClusterName(spec.name); !valid.ok()) {
      return ctx.errors.At(node["name"],
                           "cluster: field 'name': " + valid.message());
    }
    base::StatusOr<sim::Version> version =
        sim::Version::Parse(fields.String("version"));
    if (!version.ok()) {
      return ctx.errors.At(node["version"], "cluster: field 'version': " +
                                                version.status().message());
    }
    if (base::Status supported = sim::ValidateSupportedVersion(*version);
        !supported.ok()) {
      return ctx.errors.At(node["version"],
                           "cluster: field 'version': " + supported.message());
    }
    spec.version = *version;
    std::string infra = fields.StringOr("infrastructure", "classic");
    if (infra != "classic" && infra != "vpc") {
      return ctx.errors.At(node["infrastructure"],
                           "cluster: field 'infrastructure' must be classic "
                           "or vpc, got '" +
                               infra + "'");
    }
    spec.infrastructure = infra == "vpc" ? sim::Infrastructure::kVpc
                                         : sim::Infrastructure::kClassic;
    spec.region = fields.StringOr("region", "us-south");
    if (base::Status valid = sim::ValidateRegion(spec.region); !valid.ok()) {
      return ctx.errors.At(node["region"],
                           "cluster: field 'region': " + valid.message());
    }
    if (!ctx.clusters.insert(spec.name).second) {
      return ctx.errors.At(
          node, "cluster: duplicate cluster name '" + spec.name + "'");
    }
    ctx.scenario.clusters.push_back(std::move(spec));
  }
  if (ctx.scenario.clusters.empty()) {
    return ctx.errors.At(list, "field 'clusters' needs at least one cluster");
  }
  return base::OkStatus();
}

base::Status ParseKms(ParseContext& ctx, const YAML::Node& root) {
  YAML::Node list = root["kms"];
  if (!list) return base::OkStatus();
  if (!list.IsSequence()) {
    return ctx.errors.At(list, "field 'kms' must be a list of instances");
  }
  for (const YAML::Node& node : list) {
    if (!node.IsMap()) {
      return ctx.errors.At(node,
                           "kms: expected a map with 'instance', "
                           "'type' and 'keys'");
    }
    Fields fields;
    RETURN_IF_ERROR(ConvertFields(
        ctx.errors, node,
        {{"instance", Type::kString, true}, {"type", Type::kString}},
        "kms: ", fields, {"keys"}));
    InstanceSpec instance{fields.String("instance"),
                          fields.StringOr("type", "key-protect")};
    if (instance.type != "key-protect" && instance.type != "hpcs") {
      return ctx.errors.At(node["type"],
                           "kms: field 'type' must be "
                           "key-protect or hpcs, got '" +
                               instance.type + "'");
    }
    if (!ctx.instances.insert(instance.name).second) {
      return ctx.errors.At(
          node, "kms: duplicate instance name '" + instance.name + "'");
    }
    ctx.scenario.instances.push_back(instance);

    YAML::Node keys = node["keys"];
    if (!keys) continue;
    if (!keys.IsSequence()) {
      return ctx.errors.At(keys, "kms: field 'keys' must be a list");
    }
    for (const YAML::Node& key_node : keys) {
      Fields key_fields;
      RETURN_IF_ERROR(ConvertFields(ctx.errors, key_node, kKeyFields,
                                    "kms key: ", key_fields));
      KeySpec key{key_fields.String("name"), instance.name,
                  key_fields.BoolOr("root", true), std::nullopt};
      if (key_fields.Has("expires_after")) {
        key.expires_after = key_fields.DurationOf("expires_after");
        // The KMS rejects a key whose expiration date is not in the future,
        // and the replay creates declared keys at the scenario's start.
        if (*key.expires_after <= base::Duration::zero()) {
          return ctx.errors.At(
              key_node["expires_after"],
              "kms key: field 'expires_after' must be greater than 0s, got " +
                  base::FormatDuration(*key.expires_after) +
                  ", because the KMS rejects a key that has already "
                  "expired; use a later expiry such as 1h and an advance "
                  "step past it");
        }
      }
      key.dual_auth_delete = key_fields.BoolOr("dual_auth_delete", false);
      RETURN_IF_ERROR(
          CheckKeyName(ctx, key_node["name"], "kms key: ", key.name));
      if (!ctx.keys.insert(key.name).second) {
        return ctx.errors.At(key_node, "kms key: duplicate key name '" +
                                           key.name +
                                           "'; key names are unique across "
                                           "instances");
      }
      ctx.scenario.keys.push_back(key);
    }
  }
  return base::OkStatus();
}

base::Status CheckFault(ParseContext& ctx, const YAML::Node& node,
                        const std::string& where, const Fields& f) {
  const std::string& kind = f.String("kind");
  std::optional<kms::FaultKind> parsed = kms::ParseFaultKind(kind);
  if (!parsed) {
    return ctx.errors.At(node, where +
                                   "field 'kind' must be latency, error "
                                   "or outage, got '" +
                                   kind + "'");
  }
  if (*parsed == kms::FaultKind::kLatency && !f.Has("latency")) {
    return ctx.errors.At(node, where +
                                   "a latency fault needs 'latency', such "
                                   "as latency: 5s");
  }
  if (f.Has("operation") && !kms::IsFaultOperation(f.String("operation"))) {
    return ctx.errors.At(node, where + "unknown KMS operation '" +
                                   f.String("operation") +
                                   "'; use wrap, unwrap, get_key, rotate, "
                                   "... (the names of expect_kms_calls)");
  }
  if (f.Has("outage") && !kms::ParseOutageMode(f.String("outage"))) {
    return ctx.errors.At(node, where +
                                   "field 'outage' must be refuse or "
                                   "hang, got '" +
                                   f.String("outage") + "'");
  }
  if (f.Has("rate") && (f.Number("rate") < 0 || f.Number("rate") > 1)) {
    return ctx.errors.At(node, where + "field 'rate' must be between 0 and 1");
  }
  if (!ctx.faults.insert(f.String("name")).second) {
    return ctx.errors.At(node, where + "a KMS fault named '" +
                                   f.String("name") +
                                   "' is still in effect; clear it first "
                                   "or choose another name");
  }
  return base::OkStatus();
}

// Checks the steps that name faults, snapshots and expectation values.
base::Status CheckStateSteps(ParseContext& ctx, const YAML::Node& node,
                             const std::string& where, const Step& step) {
  const Fields& f = step.fields;
  if (step.kind == "kms_fault") return CheckFault(ctx, node, where, f);
  if (step.kind == "clear_kms_fault") {
    if (!f.Has("name")) {
      ctx.faults.clear();
      return base::OkStatus();
    }
    if (ctx.faults.erase(f.String("name")) == 0) {
      return CheckName(ctx, node, where, "KMS fault", f.String("name"),
                       ctx.faults);
    }
  }
  if (step.kind == "snapshot") {
    ctx.snapshots[f.String("name")] = ctx.faults;
  }
  if (step.kind == "restore") {
    auto taken = ctx.snapshots.find(f.String("name"));
    if (taken == ctx.snapshots.end()) {
      return ctx.errors.At(node, where + "no snapshot named '" +
                                     f.String("name") +
                                     "' was taken before this step; add "
                                     "'- snapshot: " +
                                     f.String("name") + "' earlier");
    }
    ctx.faults = taken->second;
  }
  if (step.kind == "expect_health") {
    for (const char* field : {"livez", "readyz", "kms_providers"}) {
      if (f.Has(field) && f.String(field) != "ok" &&
          f.String(field) != "failed") {
        return ctx.errors.At(node, where + "field '" + field +
                                       "' must be ok or failed, got '" +
                                       f.String(field) + "'");
      }
    }
  }
  if (step.kind == "ks") {
    const std::string& command = f.String("command");
    if (command.empty() || command.starts_with("init")) {
      return ctx.errors.At(node, where +
                                     "field 'command' must be a ks command "
                                     "line such as 'cluster get -c prod'; "
                                     "`ks init` is not a step");
    }
  }
  if (step.expect) {
    const Fields& e = *step.expect;
    if ((e.Has("http_status") || e.Has("http_reason")) &&
        !IsKubernetesStep(step.kind)) {
      return ctx.errors.At(node, where +
                                     "'http_status' and 'http_reason' apply "
                                     "to Kubernetes operations only; for "
                                     "KMS and ks steps check 'reason' or "
                                     "'error'");
    }
    if (e.Has("output") && step.kind != "ks") {
      return ctx.errors.At(node, where + "'output' applies to ks steps only");
    }
  }
  return base::OkStatus();
}

// Checks the names a step refers to and records the keys it creates.
base::Status CheckReferences(ParseContext& ctx, const YAML::Node& node,
                             const std::string& where, Step& step) {
  Fields& f = step.fields;
  const StepSpec* spec = FindStepSpec(step.kind);
  bool takes_cluster = std::any_of(
      spec->fields.begin(), spec->fields.end(),
      [](const FieldSpec& field) { return field.name == "cluster"; });
  if (f.Has("cluster")) {
    RETURN_IF_ERROR(CheckName(ctx, node, where, "cluster", f.String("cluster"),
                              ctx.clusters));
  } else if (takes_cluster) {
    if (ctx.scenario.clusters.size() > 1) {
      return ctx.errors.At(node, where +
                                     "missing field 'cluster': the "
                                     "scenario declares several clusters");
    }
    f.Set("cluster", ctx.scenario.clusters.front().name);
  }
  if (f.Has("instance")) {
    RETURN_IF_ERROR(CheckName(ctx, node, where, "KMS instance",
                              f.String("instance"), ctx.instances));
  }
  if (step.kind == "create_key") {
    RETURN_IF_ERROR(CheckKeyName(ctx, node, where, f.String("name")));
    if (!ctx.keys.insert(f.String("name")).second) {
      return ctx.errors.At(
          node, where + "key '" + f.String("name") + "' already exists");
    }
  } else if (f.Has("key")) {
    RETURN_IF_ERROR(
        CheckName(ctx, node, where, "key", f.String("key"), ctx.keys));
  }
  if (f.Has("as") && !ctx.users.contains(f.String("as"))) {
    std::vector<std::string> users(ctx.users.begin(), ctx.users.end());
    return ctx.errors.At(node, where + "unknown user '" + f.String("as") +
                                   "'; add it with an add_user step before "
                                   "this one (users so far: " +
                                   Join(users) + ")");
  }
  if (step.kind == "add_user") ctx.users.insert(f.String("email"));
  return CheckStateSteps(ctx, node, where, step);
}

}  // namespace

std::regex CompileExpectationRegex(const std::string& pattern) {
  return std::regex(
      pattern, std::regex::ECMAScript | std::regex_constants::__polynomial);
}

namespace {

// Checks that the field `name` of `fields`, when present, is a regular
// expression.
base::Status CheckRegex(const Errors& errors, const YAML::Node& node,
                        const std::string& where, const Fields& fields,
                        const std::string& name) {
  if (!fields.Has(name)) return base::OkStatus();
  try {
    std::regex check = CompileExpectationRegex(fields.String(name));
  } catch (const std::regex_error& e) {
    return errors.At(node,
                     where + "field '" + name +
                         "' is not a valid regular expression: " + e.what());
  }
  return base::OkStatus();
}

base::StatusOr<Step> ParseStep(ParseContext& ctx, const YAML::Node& node,
                               int index) {
  std::string where = "step " + std::to_string(index) + ": ";
  if (!node.IsMap()) {
    return ctx.errors.At(node, where +
                                   "expected a map such as "
                                   "'advance: 5m'");
  }
  Step step;
  step.index = index;
  step.line = Errors::Line(node);
  const StepSpec* spec = nullptr;
  YAML::Node body;
  YAML::Node expect;
  bool has_expect = false;
  for (const auto& item : node) {
    std::string name = item.first.as<std::string>();
    if (name == "expect") {
      expect = item.second;
      has_expect = true;
      continue;
    }
    if (spec != nullptr) {
      return ctx.errors.At(item.first, where + "'" + name + "' after '" +
                                           spec->kind +
                                           "': a step has one step keyword");
    }
    spec = FindStepSpec(name);
    if (spec == nullptr) {
      return ctx.errors.At(item.first,
                           where + "unknown step '" + name +
                               "'; known steps: " + Join(StepKinds()));
    }
    body = item.second;
  }
  if (spec == nullptr) {
    return ctx.errors.At(
        node, where + "no step keyword; known steps: " + Join(StepKinds()));
  }
  step.kind = spec->kind;
  where = "step " + std::to_string(index) + " (" + step.kind + "): ";

  if (body.IsScalar() && !spec->shorthand.empty()) {
    // Converted directly: building a YAML map here would merge the whole
    // document's node memory into it, once per step.
    const FieldSpec& field = *std::find_if(
        spec->fields.begin(), spec->fields.end(),
        [&](const FieldSpec& f) { return f.name == spec->shorthand; });
    ASSIGN_OR_RETURN(Value value, ConvertField(ctx.errors, body, field, where));
    step.fields.Set(field.name, std::move(value));
  } else if (body.IsNull() &&
             std::none_of(spec->fields.begin(), spec->fields.end(),
                          [](const FieldSpec& f) { return f.required; })) {
    // `rewrite_secrets:` alone (the only cluster) or `clear_kms_fault:`
    // alone (every fault).
  } else {
    RETURN_IF_ERROR(
        ConvertFields(ctx.errors, body, spec->fields, where, step.fields));
  }
  if (step.fields.Has("within")) {
    step.within = step.fields.DurationOf("within");
  }
  if (step.fields.Has("for")) step.hold = step.fields.DurationOf("for");

  if (has_expect) {
    if (!spec->has_expect) {
      return ctx.errors.At(expect, where +
                                       "'expect' is not allowed here; "
                                       "put the checks in the step's "
                                       "fields");
    }
    Fields expect_fields;
    RETURN_IF_ERROR(ConvertFields(ctx.errors, expect, ExpectFields(),
                                  where + "expect: ", expect_fields));
    if (expect_fields.Has("within")) {
      step.within = expect_fields.DurationOf("within");
    }
    if (expect_fields.Has("for")) step.hold = expect_fields.DurationOf("for");
    step.expect = std::move(expect_fields);
  }
  if (step.kind.starts_with("expect_")) {
    RETURN_IF_ERROR(
        CheckRegex(ctx.errors, node, where, step.fields, "master_status"));
  }
  if (step.expect) {
    for (const char* field : {"output", "error"}) {
      RETURN_IF_ERROR(CheckRegex(ctx.errors, expect,
                                 where + "expect: ", *step.expect, field));
    }
  }
  RETURN_IF_ERROR(CheckReferences(ctx, node, where, step));
  return step;
}

base::Status ParseSteps(ParseContext& ctx, const YAML::Node& steps, int& index);

std::string TooManySteps() {
  return "the repeats expand to more than " + std::to_string(kMaxSteps) +
         " steps; repeat fewer times or split the scenario";
}

std::string TooManyRounds() {
  return "the repeats make more than " + std::to_string(kMaxRounds) +
         " passes in total; repeat fewer times";
}

// Expands `repeat: {times: N, var: i, steps: [...]}` into its steps N times.
base::Status ParseRepeat(ParseContext& ctx, const YAML::Node& node,
                         int& index) {
  std::string where = "step " + std::to_string(index + 1) + " (repeat): ";
  if (node.size() != 1) {
    return ctx.errors.At(node, where + "a repeat step has no other keys");
  }
  YAML::Node body = node["repeat"];
  if (!body.IsMap() || !body["steps"] || !body["steps"].IsSequence()) {
    return ctx.errors.At(body, where +
                                   "expected {times: N, var: i, steps: "
                                   "[...]} with a list of steps");
  }
  Fields fields;
  RETURN_IF_ERROR(ConvertFields(
      ctx.errors, body,
      {{"times", Type::kInt, true, 0, kMaxRepeat}, {"var", Type::kString}},
      where, fields, {"steps"}));
  int64_t times = fields.Int("times");
  std::string var = fields.StringOr("var", "i");
  if (auto outer = ctx.var_origins.find(var); outer != ctx.var_origins.end()) {
    const bool named = static_cast<bool>(body["var"]);
    return ctx.errors.At(
        named ? body["var"] : node,
        where + "variable '" + var + "'" +
            (named ? "" : " (the default when 'var' is not given)") +
            " is already defined " + outer->second +
            ", and this repeat would hide it; give this repeat another "
            "name with 'var:', such as var: " +
            var + "2");
  }
  ctx.var_origins[var] =
      "by the repeat at line " + std::to_string(Errors::Line(node));
  Vars saved = ctx.errors.vars;
  for (int64_t i = 0; i < times; ++i) {
    if (++ctx.rounds > kMaxRounds) {
      ctx.errors.vars = saved;
      return ctx.errors.At(body["times"], where + TooManyRounds());
    }
    ctx.errors.vars[var] = std::to_string(i);
    base::Status parsed = ParseSteps(ctx, body["steps"], index);
    if (!parsed.ok()) {
      ctx.errors.vars = saved;
      return parsed;
    }
  }
  ctx.errors.vars = saved;
  ctx.var_origins.erase(var);
  return base::OkStatus();
}

// Parses a list of steps into ctx.scenario.steps, expanding repeats.
base::Status ParseSteps(ParseContext& ctx, const YAML::Node& steps,
                        int& index) {
  for (const YAML::Node& node : steps) {
    if (node.IsMap() && node["repeat"]) {
      RETURN_IF_ERROR(ParseRepeat(ctx, node, index));
      continue;
    }
    if (++ctx.steps > kMaxSteps) {
      return ctx.errors.At(
          node, "step " + std::to_string(index + 1) + ": " + TooManySteps());
    }
    ASSIGN_OR_RETURN(Step step, ParseStep(ctx, node, ++index));
    ctx.scenario.steps.push_back(std::move(step));
  }
  return base::OkStatus();
}

base::Status ParseVars(ParseContext& ctx, const YAML::Node& root) {
  YAML::Node vars = root["vars"];
  if (!vars) return base::OkStatus();
  if (!vars.IsMap()) {
    return ctx.errors.At(vars, "field 'vars' must be a map of strings");
  }
  // Values are expanded in file order, so a value can use the variables
  // above it. A reference to a later variable is unknown, which also rules
  // out cycles.
  for (const auto& item : vars) {
    if (!item.second.IsScalar()) {
      return ctx.errors.At(item.second, "vars: value of '" +
                                            item.first.as<std::string>() +
                                            "' must be a string");
    }
    ASSIGN_OR_RETURN(
        std::string value,
        ctx.errors.Text(item.second,
                        "; a variable can use only the variables defined "
                        "above it under 'vars:'"));
    ctx.errors.vars[item.first.as<std::string>()] = std::move(value);
    ctx.var_origins[item.first.as<std::string>()] =
        "under 'vars:' at line " + std::to_string(Errors::Line(item.first));
  }
  return base::OkStatus();
}

}  // namespace

const std::string& Fields::String(const std::string& name) const {
  return std::get<std::string>(values_.at(name));
}

std::string Fields::StringOr(const std::string& name,
                             const std::string& fallback) const {
  return Has(name) ? String(name) : fallback;
}

base::Duration Fields::DurationOf(const std::string& name) const {
  return std::get<base::Duration>(values_.at(name));
}

bool Fields::BoolOr(const std::string& name, bool fallback) const {
  return Has(name) ? std::get<bool>(values_.at(name)) : fallback;
}

int64_t Fields::Int(const std::string& name) const {
  return std::get<int64_t>(values_.at(name));
}

double Fields::Number(const std::string& name) const {
  return std::get<double>(values_.at(name));
}

const StringMap& Fields::Map(const std::string& name) const {
  return std::get<StringMap>(values_.at(name));
}

const StringList& Fields::List(const std::string& name) const {
  return std::get<StringList>(values_.at(name));
}

std::string Fields::Describe(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return "";
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return v;
        } else if constexpr (std::is_same_v<T, base::Duration>) {
          return base::FormatDuration(v);
        } else if constexpr (std::is_same_v<T, bool>) {
          return v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, int64_t>) {
          return std::to_string(v);
        } else if constexpr (std::is_same_v<T, double>) {
          std::ostringstream out;
          out << v;
          return out.str();
        } else if constexpr (std::is_same_v<T, StringMap>) {
          std::string out = "{";
          for (const auto& [k, val] : v) {
            if (out.size() > 1) out += ", ";
            out += k + ": " + val;
          }
          return out + "}";
        } else {
          std::string out = "[";
          for (const auto& item : v) {
            if (out.size() > 1) out += ", ";
            out += item;
          }
          return out + "]";
        }
      },
      it->second);
}

namespace {

nlohmann::ordered_json TypeSchema(Type type) {
  using J = nlohmann::ordered_json;
  switch (type) {
    case Type::kString:
      return J{{"type", "string"}};
    case Type::kDuration:
      return J{{"type", "string"},
               {"pattern", "^([0-9.]+(ms|s|m|h|d))+$|\\$\\{"}};
    case Type::kBool:
      return J{{"type", "boolean"}};
    case Type::kInt:
      return J{{"type", "integer"}};
    case Type::kNumber:
      return J{{"type", "number"}};
    case Type::kStringMap:
      return J{{"type", "object"},
               {"additionalProperties", {{"type", "string"}}}};
    case Type::kStringList:
      return J{{"type", "array"}, {"items", {{"type", "string"}}}};
  }
  return J::object();
}

nlohmann::ordered_json FieldSchema(const FieldSpec& field) {
  nlohmann::ordered_json schema = TypeSchema(field.type);
  // A bounded field states both bounds, even the largest int64, because a
  // JSON Schema integer has no limit of its own.
  if (field.min != std::numeric_limits<int64_t>::min() ||
      field.max != std::numeric_limits<int64_t>::max()) {
    schema["minimum"] = field.min;
    schema["maximum"] = field.max;
  }
  return schema;
}

nlohmann::ordered_json FieldsSchema(const std::vector<FieldSpec>& fields) {
  nlohmann::ordered_json properties = nlohmann::ordered_json::object();
  nlohmann::ordered_json required = nlohmann::ordered_json::array();
  for (const FieldSpec& field : fields) {
    properties[field.name] = FieldSchema(field);
    if (field.required) required.push_back(field.name);
  }
  nlohmann::ordered_json schema = {{"type", "object"},
                                   {"properties", properties},
                                   {"additionalProperties", false}};
  if (!required.empty()) schema["required"] = required;
  return schema;
}

}  // namespace

std::string ScenarioJsonSchema() {
  using J = nlohmann::ordered_json;
  J steps = J::array();
  for (const StepSpec& spec : StepSpecs()) {
    J body = FieldsSchema(spec.fields);
    if (!spec.shorthand.empty()) {
      J shorthand = FieldSchema(*std::find_if(
          spec.fields.begin(), spec.fields.end(),
          [&](const FieldSpec& f) { return f.name == spec.shorthand; }));
      body = J{{"anyOf", J::array({body, shorthand, J{{"type", "null"}}})}};
    }
    J step = {{"type", "object"},
              {"properties", {{spec.kind, body}}},
              {"required", J::array({spec.kind})},
              {"additionalProperties", false}};
    if (spec.has_expect) {
      step["properties"]["expect"] = FieldsSchema(ExpectFields());
    }
    steps.push_back(step);
  }
  steps.push_back(
      {{"type", "object"},
       {"properties",
        {{"repeat",
          {{"type", "object"},
           {"properties",
            {{"times",
              {{"type", "integer"}, {"minimum", 0}, {"maximum", kMaxRepeat}}},
             {"var", {{"type", "string"}}},
             {"steps",
              {{"type", "array"}, {"items", {{"$ref", "#/$defs/step"}}}}}}},
           {"required", J::array({"times", "steps"})},
           {"additionalProperties", false}}}}},
       {"required", J::array({"repeat"})},
       {"additionalProperties", false}});

  J key = FieldsSchema(kKeyFields);
  J instance = {{"type", "object"},
                {"properties",
                 {{"instance", {{"type", "string"}}},
                  {"type", {{"enum", J::array({"key-protect", "hpcs"})}}},
                  {"keys", {{"type", "array"}, {"items", key}}}}},
                {"required", J::array({"instance"})},
                {"additionalProperties", false}};
  J cluster = FieldsSchema(kClusterFields);
  cluster["properties"]["infrastructure"] = {
      {"enum", J::array({"classic", "vpc"})}};

  J schema = {
      {"$schema", "https://json-schema.org/draft/2020-12/schema"},
      {"title", "sim replay scenario"},
      {"description",
       "Generated by `sim replay --schema` from the parser's own tables."},
      {"type", "object"},
      {"properties",
       {{"name", {{"type", "string"}}},
        {"description", {{"type", "string"}}},
        {"seed", FieldSchema(kSeedField)},
        {"vars",
         {{"description",
           "Strings that any field value can use as ${name}. Write $${ "
           "for a literal ${."},
          {"type", "object"},
          {"additionalProperties",
           {{"type", J::array({"string", "number", "boolean"})}}}}},
        {"clusters", {{"type", "array"}, {"minItems", 1}, {"items", cluster}}},
        {"kms", {{"type", "array"}, {"items", instance}}},
        {"steps",
         {{"type", "array"},
          {"minItems", 1},
          {"items", {{"$ref", "#/$defs/step"}}}}}}},
      {"required", J::array({"clusters", "steps"})},
      {"additionalProperties", false},
      {"$defs", {{"step", {{"oneOf", steps}}}}}};
  return schema.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) +
         "\n";
}

std::vector<std::string> StepKinds() {
  std::vector<std::string> kinds;
  for (const StepSpec& spec : StepSpecs()) kinds.push_back(spec.kind);
  std::sort(kinds.begin(), kinds.end());
  return kinds;
}

namespace {

// The offset of the first byte that is not part of well-formed UTF-8, or
// npos. Reports carry scenario text into JSON and XML, which need UTF-8.
size_t FirstInvalidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    size_t length;
    unsigned char low = 0x80, high = 0xBF;  // bounds of the second byte
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      length = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      length = 3;
      if (c == 0xE0) low = 0xA0;   // no overlong forms
      if (c == 0xED) high = 0x9F;  // no surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      length = 4;
      if (c == 0xF0) low = 0x90;
      if (c == 0xF4) high = 0x8F;  // nothing past U+10FFFF
    } else {
      return i;
    }
    if (i + length > text.size()) return i;
    for (size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if (next < (k == 1 ? low : 0x80) || next > (k == 1 ? high : 0xBF)) {
        return i;
      }
    }
    i += length;
  }
  return std::string_view::npos;
}

// Finds the first key that appears twice in one YAML mapping. yaml-cpp 0.7
// accepts such a map, so without this check one of two `name:` or
// `within:` lines would be silently ignored. It works on
// parser events, so aliases are not expanded and the check stays linear in
// the size of the file. It also records where each document starts.
class DuplicateKeyFinder : public YAML::EventHandler {
 public:
  // The first duplicate key found, if any, and its two lines.
  std::optional<std::string> key;
  int first_line = 0;
  int second_line = 0;
  // The 1-based line of each document's `---`, or of its first node.
  std::vector<int> document_lines;

  void OnDocumentStart(const YAML::Mark& mark) override {
    document_lines.push_back(mark.line + 1);
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override {
    Node(mark, "~");
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override {
    Node(mark, std::nullopt);
  }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string& value) override {
    Node(mark, value);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&,
                       YAML::anchor_t, YAML::EmitterStyle::value) override {
    Node(mark, std::nullopt);
    frames_.push_back(Frame{.is_map = false});
  }
  void OnSequenceEnd() override { frames_.pop_back(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    Node(mark, std::nullopt);
    frames_.push_back(Frame{.is_map = true});
  }
  void OnMapEnd() override { frames_.pop_back(); }

 private:
  struct Frame {
    bool is_map;
    bool at_key = true;
    std::map<std::string, int> lines{};  // key -> 1-based line
  };

  // Records one node; `text` is nullopt for collections and aliases, which
  // are not compared as keys.
  void Node(const YAML::Mark& mark, const std::optional<std::string>& text) {
    if (frames_.empty() || !frames_.back().is_map) return;
    Frame& frame = frames_.back();
    bool at_key = frame.at_key;
    frame.at_key = !frame.at_key;
    if (!at_key || !text || key) return;
    auto [first, added] = frame.lines.emplace(*text, mark.line + 1);
    if (!added) {
      key = *text;
      first_line = first->second;
      second_line = mark.line + 1;
    }
  }

  std::vector<Frame> frames_;
};

// Parses the YAML document `root` of `path`, which starts at `line`, into
// a scenario. `number` is the document's 1-based position in the file and
// `count` the number of documents in it.
base::StatusOr<Scenario> ParseDocument(const YAML::Node& root,
                                       const std::string& path, int line,
                                       int number, int count) {
  Scenario scenario;
  scenario.file = path;
  scenario.line = line;
  scenario.name = std::filesystem::path(path).stem().string();
  // Unnamed scenarios of one file get different names.
  if (count > 1) scenario.name += "#" + std::to_string(number);
  ParseContext ctx(path, scenario);
  Errors& errors = ctx.errors;
  if (!root.IsMap()) {
    std::string what =
        root.IsNull() && count > 1
            ? "document " + std::to_string(number) +
                  " is empty; remove its '---' line or write a scenario "
                  "after it"
            : "a scenario must be a YAML map with 'clusters' and 'steps'";
    return base::InvalidArgumentError(path + ":" + std::to_string(line) + ": " +
                                      what);
  }

  static const std::set<std::string> kTopLevel = {
      "name", "description", "seed", "vars", "clusters", "kms", "steps"};
  for (const auto& item : root) {
    std::string name = item.first.as<std::string>();
    if (!kTopLevel.contains(name)) {
      return errors.At(item.first,
                       "unknown top-level field '" + name +
                           "'; known fields: clusters, description, kms, "
                           "name, seed, steps, vars");
    }
  }
  Fields top;
  RETURN_IF_ERROR(ConvertFields(
      errors, root,
      {{"name", Type::kString}, {"description", Type::kString}, kSeedField}, "",
      top, {"vars", "clusters", "kms", "steps"}));
  if (top.Has("name")) {
    if (top.String("name").empty()) {
      return errors.At(root["name"],
                       "field 'name' must not be empty; name the scenario "
                       "or drop 'name:' to use the file name");
    }
    scenario.name = top.String("name");
    scenario.line = Errors::Line(root["name"]);
  }
  scenario.description = top.StringOr("description", "");
  if (top.Has("seed")) scenario.seed = static_cast<uint64_t>(top.Int("seed"));

  RETURN_IF_ERROR(ParseVars(ctx, root));
  RETURN_IF_ERROR(ParseClusters(ctx, root));
  RETURN_IF_ERROR(ParseKms(ctx, root));

  YAML::Node steps = root["steps"];
  if (!steps) {
    return errors.At(root, "missing required field 'steps'");
  }
  if (!steps.IsSequence() || steps.size() == 0) {
    return errors.At(steps, "field 'steps' must be a non-empty list");
  }
  int index = 0;
  RETURN_IF_ERROR(ParseSteps(ctx, steps, index));
  return scenario;
}

base::StatusOr<std::vector<Scenario>> ParseYaml(const std::string& text,
                                                const std::string& path) {
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(text);
  } catch (const YAML::DeepRecursion& e) {
    // In flow style the parser has read to the start of the next line.
    int line =
        e.mark.column == 0 && e.mark.line > 0 ? e.mark.line : e.mark.line + 1;
    return base::InvalidArgumentError(
        path + ":" + std::to_string(line) +
        ": invalid YAML: lists and maps are nested " +
        std::to_string(e.depth()) +
        " levels deep here, past the YAML parser's limit; a scenario needs "
        "far fewer, so check the brackets and indentation");
  } catch (const YAML::ParserException& e) {
    return base::InvalidArgumentError(path + ":" +
                                      std::to_string(e.mark.line + 1) +
                                      ": invalid YAML: " + e.msg);
  }
  DuplicateKeyFinder duplicates;
  std::istringstream stream(text);
  YAML::Parser parser(stream);
  while (parser.HandleNextDocument(duplicates) && !duplicates.key) {
  }
  if (duplicates.key) {
    return base::InvalidArgumentError(
        path + ":" + std::to_string(duplicates.second_line) +
        ": duplicate key '" + *duplicates.key + "', first at line " +
        std::to_string(duplicates.first_line) + "; remove one of the two");
  }
  // An empty last document, as after a trailing `---` line, is no
  // scenario: YAML tools such as kubectl skip it.
  while (documents.size() > 1 && documents.back().IsNull()) {
    documents.pop_back();
  }
  if (documents.empty()) {
    return base::InvalidArgumentError(
        path + ":1: a scenario must be a YAML map with 'clusters' and 'steps'");
  }

  std::vector<Scenario> scenarios;
  const int count = static_cast<int>(documents.size());
  for (int i = 0; i < count; ++i) {
    int line = i < static_cast<int>(duplicates.document_lines.size())
                   ? duplicates.document_lines[i]
                   : 1;
    ASSIGN_OR_RETURN(Scenario scenario,
                     ParseDocument(documents[i], path, line, i + 1, count));
    scenarios.push_back(std::move(scenario));
  }
  return scenarios;
}

}  // namespace

base::StatusOr<std::vector<Scenario>> ParseScenarios(const std::string& text,
                                                     const std::string& path) {
  if (size_t bad = FirstInvalidUtf8(text); bad != std::string_view::npos) {
    const size_t line_start = text.rfind('\n', bad);
    const size_t column =
        line_start == std::string::npos ? bad + 1 : bad - line_start;
    char byte[8];
    std::snprintf(byte, sizeof(byte), "0x%02X",
                  static_cast<unsigned char>(text[bad]));
    return base::InvalidArgumentError(
        path + ":" +
        std::to_string(1 + std::count(text.begin(), text.begin() + bad, '\n')) +
        ": byte " + byte + " at column " + std::to_string(column) +
        " is not UTF-8; save the file as UTF-8");
  }
  try {
    return ParseYaml(text, path);
  } catch (const YAML::Exception& e) {
    // Such as a list or map where a name belongs, as in `? [a, b]: 1`.
    return base::InvalidArgumentError(
        path + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg +
        ": keys must be plain strings; see the format in sim replay --schema");
  }
}

base::StatusOr<Scenario> ParseScenario(const std::string& text,
                                       const std::string& path) {
  ASSIGN_OR_RETURN(std::vector<Scenario> scenarios, ParseScenarios(text, path));
  if (scenarios.size() > 1) {
    return base::InvalidArgumentError(
        path + ":" + std::to_string(scenarios[1].line) +
        ": a second YAML document starts here, but one scenario was "
        "expected; use ParseScenarios for a file of several");
  }
  return std::move(scenarios.front());
}

base::StatusOr<std::vector<Scenario>> ParseScenarioFile(
    const std::string& path) {
  std::ifstream in(path);
  if (!in) return base::NotFoundError(path + ": cannot open scenario file");
  std::stringstream text;
  text << in.rdbuf();
  return ParseScenarios(text.str(), path);
}

namespace {

std::string FileTypeName(std::filesystem::file_type type) {
  using std::filesystem::file_type;
  switch (type) {
    case file_type::fifo:
      return "a FIFO";
    case file_type::character:
      return "a character device";
    case file_type::block:
      return "a block device";
    case file_type::socket:
      return "a socket";
    default:
      return "a special file";
  }
}

}  // namespace

base::StatusOr<std::vector<std::string>> FindScenarioFiles(
    const std::vector<std::string>& paths) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  for (const std::string& path : paths) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      std::vector<std::string> found;
      for (const auto& entry : fs::recursive_directory_iterator(path, ec)) {
        std::string ext = entry.path().extension().string();
        if (entry.is_regular_file() && (ext == ".yaml" || ext == ".yml")) {
          found.push_back(entry.path().string());
        }
      }
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::is_regular_file(path, ec)) {
      files.push_back(path);
    } else if (fs::exists(path, ec)) {
      // Such as a FIFO or /dev/zero, which could block or never end.
      return base::InvalidArgumentError(
          path + ": not a regular file or a folder (it is " +
          FileTypeName(fs::status(path, ec).type()) +
          "); name a scenario file or a folder of them");
    } else {
      return base::NotFoundError(path + ": no such scenario file or folder");
    }
  }
  return files;
}

}  // namespace scenarios
