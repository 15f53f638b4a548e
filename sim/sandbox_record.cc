// Recorder: `sim serve --record FILE`. Translates the actions taken against
// a sandbox into the steps of a scenario file (scenarios/engine/scenario.h)
// so that `sim replay FILE` repeats them on fresh clusters.
//
// Steps and declarations are written in YAML flow style with JSON-quoted
// strings, which YAML reads as it reads the block style.
#include <spdlog/spdlog.h>

#include <cctype>
#include <fstream>
#include <set>

#include "base/crypto.h"
#include "sim/json_file.h"
#include "sim/sandbox_internal.h"

namespace sim {
namespace {

// The last words of `ks` commands that change nothing.
const std::set<std::string> kReadOnlyCommands = {"ls", "get", "info", "config",
                                                 "show"};

// Quotes a word of a command line for SplitCommandLine when it needs it.
std::string QuoteWord(const std::string& word) {
  if (!word.empty() && word.find_first_of(" \t\n'\"\\") == std::string::npos) {
    return word;
  }
  std::string quoted = "\"";
  for (char c : word) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return quoted + "\"";
}

// `ks` flags that take no value.
const std::set<std::string> kBoolFlags = {
    "--public-endpoint", "--standard",         "--force", "-f",
    "--all-clusters",    "--all-kms-instances"};

struct KsWords {
  std::vector<std::string> command;          // e.g. {"kms", "enable"}
  std::map<std::string, std::string> flags;  // by flag as written
  std::vector<std::string> workers;          // every -w/--worker
  std::string user;
};

KsWords ParseKsWords(const std::vector<std::string>& args) {
  KsWords words;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    if (!arg.starts_with("-")) {
      words.command.push_back(arg);
      continue;
    }
    std::string value;
    size_t equals = arg.find('=');
    if (equals != std::string::npos) {
      value = arg.substr(equals + 1);
      arg = arg.substr(0, equals);
    } else if (!kBoolFlags.contains(arg) && i + 1 < args.size()) {
      value = args[++i];
    } else {
      value = "true";
    }
    if (arg == "-w" || arg == "--worker") words.workers.push_back(value);
    if (arg == "--user") words.user = value;
    words.flags[arg] = value;
  }
  return words;
}

std::string FlagValue(const KsWords& words,
                      std::initializer_list<const char*> names) {
  for (const char* name : names) {
    auto it = words.flags.find(name);
    if (it != words.flags.end()) return it->second;
  }
  return "";
}

// Escapes a text for use in a regular expression.
std::string RegexEscape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (std::string_view(".^$|()[]{}*+?\\").find(c) != std::string_view::npos) {
      out += '\\';
    }
    out += c;
  }
  return out;
}

// A regular expression that matches the master status text now and later
// texts of the same state, which differ in their "(N min ago)".
std::string StatusPattern(const std::string& text) {
  // The first three words: later words may name a key id or a time, which
  // differ in a replay.
  size_t end = 0;
  for (int words = 0; words < 3 && end != std::string::npos; ++words) {
    end = text.find(' ', end == 0 ? 0 : end + 1);
  }
  std::string stem = text.substr(0, end);
  stem = stem.substr(0, stem.find(" ("));
  return "^" + RegexEscape(stem);
}

bool IsUtf8Text(const std::string& text) {
  try {
    (void)json(text).dump();
    return true;
  } catch (const json::exception&) {
    return false;
  }
}

// The decoded `data` of a Secret, or nullopt when a value is not base64
// of UTF-8 text, which a scenario cannot state.
std::optional<json> TextData(const Json& secret) {
  json data = json::object();
  auto encoded = secret.find("data");
  if (encoded == secret.end() || !encoded->is_object()) return data;
  for (const auto& [field, value] : encoded->items()) {
    if (!value.is_string()) return std::nullopt;
    base::StatusOr<std::string> decoded =
        base::Base64Decode(value.get<std::string>());
    if (!decoded.ok() || !IsUtf8Text(*decoded)) return std::nullopt;
    data[field] = *decoded;
  }
  return data;
}

// Returns `text` with each `${` written `$${`, which a scenario reads as a
// literal `${` rather than a variable reference.
std::string EscapeVariables(const std::string& text) {
  std::string out;
  size_t at = 0;
  for (size_t open = text.find("${"); open != std::string::npos;
       open = text.find("${", at)) {
    out += text.substr(at, open - at) + "$${";
    at = open + 2;
  }
  return out + text.substr(at);
}

// Returns `value` with every string, map keys included, escaped by
// EscapeVariables, for a scenario line.
json EscapeVariables(const json& value) {
  if (value.is_string()) return EscapeVariables(value.get<std::string>());
  if (value.is_array()) {
    json escaped = json::array();
    for (const json& item : value) escaped.push_back(EscapeVariables(item));
    return escaped;
  }
  if (value.is_object()) {
    json escaped = json::object();
    for (const auto& [key, item] : value.items()) {
      escaped[EscapeVariables(key)] = EscapeVariables(item);
    }
    return escaped;
  }
  return value;
}

}  // namespace

struct Recorder::State {
  std::mutex mu;
  std::string path;
  std::vector<json> clusters;  // declarations
  struct InstanceDecl {
    std::string id;
    std::string name;
    std::string type;
    std::vector<json> keys;
  };
  std::vector<InstanceDecl> instances;
  std::map<std::string, std::string> instance_names;  // id -> name
  std::map<std::string, std::string> key_names;       // id -> name
  std::set<std::string> used_key_names;
  std::set<std::string> used_instance_names;
  std::vector<std::string> lines;  // step lines, comments included
  std::string begun;
  // KMS faults in effect in the sandbox: step names by the KMS mock's id.
  std::map<uint64_t, std::string> faults;
  int faults_added = 0;
  std::set<std::string> snapshots;  // saved while recording

  std::string UniqueName(std::set<std::string>& used, std::string name) {
    if (name.empty()) name = "unnamed";
    std::string candidate = name;
    for (int i = 2; used.contains(candidate); ++i) {
      candidate = name + "-" + std::to_string(i);
    }
    used.insert(candidate);
    return candidate;
  }

  // A scenario name for a key. A replay uses it as the key's id, which
  // kms::IsValidKeyId limits more than key names: other characters become
  // '-', and the name is cut to leave room for UniqueName's suffix.
  std::string UniqueKeyName(const std::string& key_name) {
    std::string name = key_name.substr(0, 80);
    for (char& c : name) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') c = '-';
    }
    return UniqueName(used_key_names, name);
  }

  std::string InstanceNameLocked(const std::string& id) {
    auto it = instance_names.find(id);
    return it == instance_names.end() ? id : it->second;
  }

  void AddInstanceLocked(const kms::Instance& instance) {
    if (instance_names.contains(instance.id)) return;
    std::string name = UniqueName(used_instance_names, instance.name);
    instance_names[instance.id] = name;
    instances.push_back({instance.id,
                         name,
                         std::string(kms::InstanceTypeName(instance.type)),
                         {}});
  }

  // Registers a key created after Begin and adds its create_key step.
  std::string KeyCreatedLocked(Environment& env, const kms::Key& key) {
    std::string name = UniqueKeyName(key.name);
    key_names[key.id] = name;
    json fields = {{"instance", InstanceNameLocked(key.instance_id)},
                   {"name", name},
                   {"root", !key.extractable}};
    base::Time now = env.clock().Now();
    if (key.expiration && *key.expiration > now) {
      fields["expires_after"] = base::FormatDuration(
          std::chrono::round<std::chrono::seconds>(*key.expiration - now));
    }
    StepLocked({{"create_key", fields}});
    return name;
  }

  // The scenario name of a key. A key not seen before was created through
  // the Key Protect API, which is not recorded, so a create_key step for it
  // comes first.
  std::string KeyNameLocked(Environment& env, const std::string& key_id) {
    auto it = key_names.find(key_id);
    if (it != key_names.end()) return it->second;
    for (const kms::Instance& instance : env.kms().ListInstances()) {
      base::StatusOr<kms::Key> key = env.kms().GetKey(instance.id, key_id);
      if (!key.ok()) continue;
      AddInstanceLocked(instance);
      return KeyCreatedLocked(env, *key);
    }
    return key_id;
  }

  // The words of a `ks` command as one command line, without --user (a
  // step's `as`), with the scenario names of KMS instances and keys.
  std::string KsCommandLineLocked(Environment& env,
                                  const std::vector<std::string>& args) {
    static const std::set<std::string> kInstanceFlags = {"--instance-id",
                                                         "--kms-instance"};
    static const std::set<std::string> kKeyFlags = {"--key", "--crk"};
    std::string line;
    for (size_t i = 0; i < args.size(); ++i) {
      std::string flag = args[i];
      std::string value;
      bool has_value = false;
      if (size_t equals = flag.find('=');
          flag.starts_with("--") && equals != std::string::npos) {
        value = flag.substr(equals + 1);
        flag = flag.substr(0, equals);
        has_value = true;
      } else if ((flag == "--user" || kInstanceFlags.contains(flag) ||
                  kKeyFlags.contains(flag)) &&
                 i + 1 < args.size()) {
        value = args[++i];
        has_value = true;
      }
      if (flag == "--user") continue;
      if (kInstanceFlags.contains(flag)) value = InstanceNameLocked(value);
      if (kKeyFlags.contains(flag)) value = KeyNameLocked(env, value);
      line += (line.empty() ? "" : " ") + QuoteWord(flag);
      if (has_value) line += " " + QuoteWord(value);
    }
    return line;
  }

  // Ends every fault, as a restart of the sandbox's KMS does.
  void ClearFaultsLocked() {
    if (faults.empty()) return;
    faults.clear();
    StepLocked({{"clear_kms_fault", nullptr}});
  }

  void StepLocked(const json& step) {
    lines.push_back(
        "  - " + EscapeVariables(step).dump(
                     -1, ' ', false, nlohmann::json::error_handler_t::replace));
  }

  base::Status WriteLocked() {
    std::string text =
        "# Recorded by `sim serve --record` from " + begun + ".\n" +
        "name: recorded-sandbox-session\n"
        "description: Actions recorded from a sim serve sandbox.\n"
        "clusters:\n";
    for (const json& cluster : clusters) {
      text += "  - " +
              EscapeVariables(cluster).dump(
                  -1, ' ', false, nlohmann::json::error_handler_t::replace) +
              "\n";
    }
    text += instances.empty() ? "kms: []\n" : "kms:\n";
    for (const InstanceDecl& instance : instances) {
      text +=
          "  - instance: " +
          json(EscapeVariables(instance.name))
              .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
          "\n" + "    type: " + instance.type + "\n";
      text += instance.keys.empty() ? "    keys: []\n" : "    keys:\n";
      for (const json& key : instance.keys) {
        text += "      - " +
                EscapeVariables(key).dump(
                    -1, ' ', false, nlohmann::json::error_handler_t::replace) +
                "\n";
      }
    }
    text += "steps:\n";
    bool has_step = false;
    for (const std::string& line : lines) {
      text += line + "\n";
      if (!line.starts_with("  #")) has_step = true;
    }
    // The format needs at least one step.
    if (!has_step) text += "  - {\"advance\": \"0s\"}\n";
    // Private, because its expectations contain each Secret's data.
    base::Status written = WritePrivateFile(path, text);
    if (!written.ok()) {
      return base::FailedPreconditionError(
          "failed to write the recording: " + written.message() +
          "; check that its folder exists and is writable");
    }
    return base::OkStatus();
  }

  void Flush() {
    base::Status written = WriteLocked();
    if (!written.ok()) spdlog::error("sandbox: {}", written.ToString());
  }
};

Recorder::Recorder(std::string path) : state_(std::make_unique<State>()) {
  state_->path = std::move(path);
}

Recorder::~Recorder() = default;

namespace {

json ClusterDeclaration(const Cluster& cluster) {
  return {{"name", cluster.spec().name},
          {"version", cluster.version().ToString()},
          {"infrastructure", InfrastructureName(cluster.spec().infrastructure)},
          {"region", cluster.spec().region}};
}

}  // namespace

base::Status Recorder::Begin(Environment& env) {
  State& s = *state_;
  std::lock_guard lock(s.mu);
  s.begun = "the sandbox in " + env.data_dir() + " at virtual time " +
            base::FormatRfc3339(env.clock().Now());
  base::Time now = env.clock().Now();

  // Keys that exist now are declared; their states other than Active are
  // reached by steps after the KMS enablements that need them Active.
  std::vector<json> key_steps;
  for (const kms::Instance& instance : env.kms().ListInstances()) {
    s.AddInstanceLocked(instance);
    State::InstanceDecl& decl = s.instances.back();
    base::StatusOr<std::vector<kms::Key>> keys =
        env.kms().ListKeys(instance.id);
    if (!keys.ok()) continue;
    for (const kms::Key& key : *keys) {
      std::string name = s.UniqueKeyName(key.name);
      s.key_names[key.id] = name;
      json declared = {{"name", name}};
      if (key.extractable) declared["root"] = false;
      if (key.expiration && *key.expiration > now) {
        declared["expires_after"] = base::FormatDuration(
            std::chrono::duration_cast<std::chrono::seconds>(*key.expiration -
                                                             now));
      }
      decl.keys.push_back(declared);
      if (key.state == kms::KeyState::kSuspended) {
        key_steps.push_back({{"disable_key", name}});
      } else if (key.state == kms::KeyState::kDestroyed) {
        key_steps.push_back({{"delete_key", {{"key", name}, {"force", true}}}});
      } else if (key.state == kms::KeyState::kDeactivated) {
        s.lines.push_back("  # key " + name +
                          " was Deactivated (expired), which no step makes");
      }
    }
  }

  for (Cluster* cluster : env.Clusters()) {
    const std::string& name = cluster->spec().name;
    s.clusters.push_back(ClusterDeclaration(*cluster));
    if (!cluster->Workers().empty()) {
      s.StepLocked(
          {{"add_workers",
            {{"cluster", name}, {"count", cluster->Workers().size()}}}});
    }
    if (cluster->kms_enabled()) {
      s.StepLocked(
          {{"kms_enable",
            {{"cluster", name},
             {"instance", s.InstanceNameLocked(*cluster->kms_instance_id())},
             {"key", s.KeyNameLocked(env, *cluster->crk_id())}}}});
      s.StepLocked(
          {{"expect_cluster",
            {{"cluster", name}, {"kms", "enabled"}, {"within", "2h"}}}});
    }
    base::StatusOr<Json> namespaces =
        cluster->List(apiserver::NamespacesResource(), "");
    if (namespaces.ok()) {
      static const std::set<std::string> kBuiltIn = {
          "default", "kube-system", "kube-public", "kube-node-lease"};
      for (const Json& item : (*namespaces)["items"]) {
        std::string ns = item["metadata"].value("name", "");
        if (!kBuiltIn.contains(ns)) {
          s.StepLocked(
              {{"create_namespace", {{"cluster", name}, {"name", ns}}}});
        }
      }
    }
    base::StatusOr<Json> secrets =
        cluster->List(apiserver::SecretsResource(), "");
    if (!secrets.ok()) {
      s.lines.push_back("  # the Secrets of cluster " + name +
                        " could not be read: " + secrets.status().message());
      continue;
    }
    for (const Json& item : (*secrets)["items"]) {
      std::string ns = item["metadata"].value("namespace", "");
      if (ns == "kube-system") continue;  // the cluster's own Secrets
      std::optional<json> data = TextData(item);
      std::string secret = item["metadata"].value("name", "");
      if (!data) {
        s.lines.push_back("  # Secret " + ns + "/" + secret +
                          " has binary data, which a scenario cannot state");
        continue;
      }
      json fields = {{"cluster", name},
                     {"namespace", ns},
                     {"name", secret},
                     {"data", *data}};
      std::string type = item.value("type", "Opaque");
      if (type != "Opaque") fields["type"] = type;
      s.StepLocked({{"create_secret", fields}});
    }
  }
  for (const json& step : key_steps) s.StepLocked(step);
  return s.WriteLocked();
}

void Recorder::Step(json step) {
  std::lock_guard lock(state_->mu);
  state_->StepLocked(step);
  state_->Flush();
}

void Recorder::Comment(const std::string& text) {
  std::lock_guard lock(state_->mu);
  std::string line = text;
  std::ranges::replace(line, '\n', ' ');
  state_->lines.push_back("  # " + line);
  state_->Flush();
}

void Recorder::FaultAdded(Environment& env, const json& fault) {
  std::lock_guard lock(state_->mu);
  State& s = *state_;
  if (!fault.is_object() || !fault.contains("id") || !fault.contains("kind")) {
    s.lines.push_back(
        "  # a KMS fault was added, but its JSON was " +
        fault.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    s.Flush();
    return;
  }
  std::string instance = fault.value("instance", "");
  if (!instance.empty() && !fault.contains("key")) {
    s.lines.push_back(
        "  # a KMS fault scoped to instance " + s.InstanceNameLocked(instance) +
        " alone was added, which no step states: " +
        fault.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    s.Flush();
    return;
  }

  std::string name = "fault-" + std::to_string(++s.faults_added);
  json fields = {{"name", name}, {"kind", fault["kind"]}};
  if (fault.contains("operation")) fields["operation"] = fault["operation"];
  if (fault.contains("key")) {
    fields["key"] = s.KeyNameLocked(env, fault["key"].get<std::string>());
  }
  std::string kind = fault["kind"].get<std::string>();
  if (kind == "latency") fields["latency"] = fault["latency"];
  if (kind == "error") {
    fields["status"] = fault["status"];
    if (!fault.value("reason", "").empty()) fields["reason"] = fault["reason"];
    if (fault.contains("message")) fields["message"] = fault["message"];
  }
  if (kind == "outage") fields["outage"] = fault.value("mode", "refuse");

  if (fault.value("nth", 0) > 0) fields["nth"] = fault["nth"];
  if (fault.value("rate", 1.0) < 1.0) fields["rate"] = fault["rate"];
  fields["seed"] = fault.value("seed", 1);
  if (fault.value("max_hits", 0) > 0) fields["max_hits"] = fault["max_hits"];
  // A fault that removes itself keeps the time it has left.
  if (fault.contains("expires_at")) {
    std::optional<base::Time> expires =
        base::ParseRfc3339(fault["expires_at"].get<std::string>());
    if (expires && *expires > env.clock().Now()) {
      fields["lasts"] =
          base::FormatDuration(std::chrono::duration_cast<std::chrono::seconds>(
              *expires - env.clock().Now()));
    }
  }
  s.faults[fault["id"].get<uint64_t>()] = name;
  s.StepLocked({{"kms_fault", fields}});
  s.Flush();
}

void Recorder::FaultsCleared(std::optional<uint64_t> id) {
  std::lock_guard lock(state_->mu);
  State& s = *state_;
  if (!id) {
    s.faults.clear();
    s.StepLocked({{"clear_kms_fault", nullptr}});
  } else if (auto it = s.faults.find(*id); it != s.faults.end()) {
    s.StepLocked({{"clear_kms_fault", it->second}});
    s.faults.erase(it);
  }
  s.Flush();
}

void Recorder::Snapshot(const std::string& name) {
  std::lock_guard lock(state_->mu);
  State& s = *state_;
  s.snapshots.insert(name);
  s.StepLocked({{"snapshot", name}});
  s.ClearFaultsLocked();
  s.Flush();
}

void Recorder::Restore(const std::string& name) {
  std::lock_guard lock(state_->mu);
  State& s = *state_;
  if (!s.snapshots.contains(name)) {
    s.lines.push_back("  # snapshot " + name +
                      " was restored, but it was saved before the recording "
                      "began, so the steps below start from another state");
    s.Flush();
    return;
  }
  s.StepLocked({{"restore", name}});
  // The replay's restore brings back the faults of the snapshot, but the
  // sandbox's does not.
  s.faults.clear();
  s.StepLocked({{"clear_kms_fault", nullptr}});
  s.Flush();
}

void Recorder::AddInstance(const kms::Instance& instance) {
  std::lock_guard lock(state_->mu);
  state_->AddInstanceLocked(instance);
  state_->Flush();
}

void Recorder::KeyCreated(Environment& env, const kms::Key& key) {
  std::lock_guard lock(state_->mu);
  if (state_->key_names.contains(key.id)) return;
  state_->KeyCreatedLocked(env, key);
  state_->Flush();
}

std::string Recorder::KeyName(Environment& env, const std::string& key_id) {
  std::lock_guard lock(state_->mu);
  return state_->KeyNameLocked(env, key_id);
}

std::string Recorder::InstanceName(const std::string& instance_id) {
  std::lock_guard lock(state_->mu);
  return state_->InstanceNameLocked(instance_id);
}

void Recorder::AddCluster(const Cluster& cluster) {
  std::lock_guard lock(state_->mu);
  state_->clusters.push_back(ClusterDeclaration(cluster));
  state_->lines.push_back("  # cluster " + cluster.spec().name +
                          " was created here; the scenario declares it from "
                          "the start");
  state_->Flush();
}

void Recorder::KubernetesWrite(Cluster& cluster,
                               const apiserver::ApiRequest& request,
                               const apiserver::ApiResponse& response) {
  std::string path = request.target.substr(0, request.target.find('?'));
  std::vector<std::string> parts;
  for (size_t at = 1; at <= path.size();) {
    size_t next = std::min(path.find('/', at), path.size());
    parts.push_back(path.substr(at, next - at));
    at = next + 1;
  }
  // api/v1/namespaces[/NS[/secrets[/NAME]]]
  if (parts.size() < 3 || parts[0] != "api" || parts[1] != "v1" ||
      parts[2] != "namespaces") {
    return;
  }
  // A server-side dry run (kubectl --dry-run=server) stores nothing, and
  // no step can repeat one, so the recording only notes it.
  if (apiserver::ApiHandler::IsDryRun(request)) {
    std::lock_guard lock(state_->mu);
    state_->lines.push_back("  # dry run: " + request.method + " " + path +
                            " (dryRun=All) stored nothing, so it has no "
                            "step");
    state_->Flush();
    return;
  }
  const std::string& name = cluster.spec().name;
  json object = json::parse(response.body, nullptr, false);
  if (!object.is_object() || !object.contains("metadata")) {
    object = json::parse(request.body, nullptr, false);
  }
  std::lock_guard lock(state_->mu);
  State& s = *state_;
  // A server-side apply (PATCH) returns 201 when it created the object.
  const bool created = request.method == "POST" ||
                       (request.method == "PATCH" && response.status == 201);
  if (parts.size() <= 4) {
    if (created && object.is_object() &&
        (parts.size() == 3 || request.method == "PATCH")) {
      s.StepLocked({{"create_namespace",
                     {{"cluster", name},
                      {"name", object["metadata"].value("name", "")}}}});
    } else if (request.method != "POST") {
      s.lines.push_back("  # " + request.method + " " + path +
                        ": no step changes namespaces this way");
    }
    s.Flush();
    return;
  }
  if (parts[4] != "secrets") return;
  const std::string& ns = parts[3];
  if (request.method == "DELETE") {
    if (parts.size() == 6) {
      s.StepLocked(
          {{"delete_secret",
            {{"cluster", name}, {"namespace", ns}, {"name", parts[5]}}}});
    } else {
      s.lines.push_back("  # DELETE " + path +
                        ": no step deletes a collection of Secrets");
    }
    s.Flush();
    return;
  }
  if (!object.is_object() || !object.contains("metadata")) {
    s.lines.push_back("  # " + request.method + " " + path +
                      ": the object was not JSON, so it is not recorded");
    s.Flush();
    return;
  }
  std::string secret = object["metadata"].value("name", "");
  // The LUKS key Secrets of workers have names that differ per run.
  for (const Worker& worker : cluster.Workers()) {
    if (ns == "kube-system" && worker.luks_secret == secret) {
      s.lines.push_back("  # " + request.method + " of worker Secret " + ns +
                        "/" + secret + " (its name differs in a replay)");
      s.Flush();
      return;
    }
  }
  json data = json::object();
  const json encoded = object.value("data", json::object());
  for (const auto& [field, value] : encoded.items()) {
    base::StatusOr<std::string> decoded =
        value.is_string() ? base::Base64Decode(value.get<std::string>())
                          : base::StatusOr<std::string>(
                                base::InvalidArgumentError("not a string"));
    if (!decoded.ok() || !IsUtf8Text(*decoded)) {
      s.lines.push_back("  # " + request.method + " of Secret " + ns + "/" +
                        secret +
                        " has binary data, which a scenario cannot "
                        "state");
      s.Flush();
      return;
    }
    data[field] = *decoded;
  }
  json fields = {
      {"cluster", name}, {"namespace", ns}, {"name", secret}, {"data", data}};
  // kubectl create sends POST, kubectl replace PUT with the whole object,
  // and kubectl edit, apply and patch send PATCH.
  if (created || request.method == "PUT") {
    std::string type = object.value("type", "Opaque");
    if (type != "Opaque") fields["type"] = type;
    s.StepLocked({{created ? "create_secret" : "replace_secret", fields}});
  } else {
    s.StepLocked({{"update_secret", fields}});
  }
  s.Flush();
}

void Recorder::KsCommand(Environment& env, const std::vector<std::string>& args,
                         int exit_code) {
  KsWords words = ParseKsWords(args);
  const std::vector<std::string>& c = words.command;
  auto is = [&](std::initializer_list<const char*> expected) {
    if (c.size() < expected.size()) return false;
    size_t i = 0;
    for (const char* word : expected) {
      if (c[i++] != word) return false;
    }
    return true;
  };
  // Usage errors (exit 2) ran nothing.
  if (exit_code == 2) return;
  const bool failed = exit_code != 0;
  std::string cluster = FlagValue(words, {"-c", "--cluster"});
  std::lock_guard lock(state_->mu);
  State& s = *state_;
  auto add = [&](json step) {
    if (failed) step["expect"] = {{"ok", false}};
    s.StepLocked(step);
    s.Flush();
  };

  if (is({"kms", "enable"})) {
    std::string instance = FlagValue(words, {"--instance-id"});
    json fields = {{"cluster", cluster},
                   {"instance", s.InstanceNameLocked(instance)},
                   {"key", s.KeyNameLocked(env, FlagValue(words, {"--crk"}))}};
    if (words.flags.contains("--public-endpoint")) {
      fields["public_endpoint"] = true;
    }
    if (!words.user.empty()) fields["as"] = words.user;
    add({{"kms_enable", fields}});
  } else if (is({"kms", "disable"})) {
    add({{"disable_kms", {{"cluster", cluster}}}});
  } else if (is({"kms", "key", "create"})) {
    if (failed) return;
    std::string instance = FlagValue(words, {"--instance-id"});
    std::string key_name = FlagValue(words, {"--name"});
    base::StatusOr<std::vector<kms::Key>> keys = env.kms().ListKeys(instance);
    if (!keys.ok()) return;
    for (auto it = keys->rbegin(); it != keys->rend(); ++it) {
      if (it->name != key_name || s.key_names.contains(it->id)) continue;
      std::string name = s.UniqueKeyName(key_name);
      s.key_names[it->id] = name;
      json fields = {{"instance", s.InstanceNameLocked(instance)},
                     {"name", name},
                     {"root", !it->extractable}};
      std::string expires = FlagValue(words, {"--expires-in"});
      if (!expires.empty()) fields["expires_after"] = expires;
      add({{"create_key", fields}});
      break;
    }
  } else if (is({"kms", "key"}) && c.size() == 3) {
    static const std::map<std::string, std::string> kSteps = {
        {"disable", "disable_key"},
        {"enable", "enable_key"},
        {"rotate", "rotate_key"},
        {"delete", "delete_key"},
        {"restore", "restore_key"}};
    auto step = kSteps.find(c[2]);
    if (step == kSteps.end()) return;
    json fields = {{"key", s.KeyNameLocked(env, FlagValue(words, {"--key"}))}};
    if (c[2] == "delete" && words.flags.contains("--force")) {
      fields["force"] = true;
    }
    add({{step->second, fields}});
  } else if (is({"kms", "instance", "create"})) {
    if (failed) return;
    std::string name = FlagValue(words, {"--name"});
    std::vector<kms::Instance> instances = env.kms().ListInstances();
    for (auto it = instances.rbegin(); it != instances.rend(); ++it) {
      if (it->name == name && !s.instance_names.contains(it->id)) {
        s.AddInstanceLocked(*it);
        break;
      }
    }
    s.Flush();
  } else if (is({"clock", "advance"}) && c.size() == 3) {
    if (!failed) add({{"advance", c[2]}});
  } else if (is({"cluster", "create"})) {
    if (failed) return;
    base::StatusOr<Cluster*> created =
        env.FindCluster(FlagValue(words, {"--name"}));
    if (!created.ok()) return;
    s.clusters.push_back(ClusterDeclaration(**created));
    s.lines.push_back("  # cluster " + (*created)->spec().name +
                      " was created here; the scenario declares it from the "
                      "start");
    if (!(*created)->Workers().empty()) {
      s.StepLocked({{"add_workers",
                     {{"cluster", (*created)->spec().name},
                      {"count", (*created)->Workers().size()}}}});
    }
    s.Flush();
  } else if (is({"cluster", "master", "update"})) {
    add({{"update_master",
          {{"cluster", cluster},
           {"version", FlagValue(words, {"--version"})}}}});
  } else if (is({"cluster", "master", "refresh"})) {
    add({{"refresh_master", {{"cluster", cluster}}}});
  } else if (is({"worker", "reload"}) || is({"worker", "update"})) {
    base::StatusOr<Cluster*> found = env.FindCluster(cluster);
    if (!found.ok()) return;
    std::vector<Worker> workers = (*found)->Workers();
    for (const std::string& id : words.workers) {
      for (size_t i = 0; i < workers.size(); ++i) {
        if (workers[i].id != id) continue;
        add({{c[1] == "reload" ? "reload_worker" : "update_worker",
              {{"cluster", cluster}, {"worker", i}}}});
      }
    }
  } else if (is({"worker", "add"})) {
    json fields = {{"cluster", cluster}};
    std::string flavor = FlagValue(words, {"--flavor"});
    if (!flavor.empty()) fields["flavor"] = flavor;
    std::string count = FlagValue(words, {"--count"});
    fields["count"] = count.empty() ? 1 : std::atoi(count.c_str());
    add({{"add_workers", fields}});
  } else if (is({"data-shield", "enable"})) {
    add({{"enable_data_shield", {{"cluster", cluster}}}});
  } else if (is({"iam", "user", "add"})) {
    // An add_user step, because a scenario accepts `as:` a user only after
    // an add_user step added it.
    json fields = {{"email", FlagValue(words, {"--email"})}};
    if (!s.clusters.empty()) fields["cluster"] = s.clusters.front()["name"];
    add({{"add_user", fields}});
  } else if (!c.empty() && !kReadOnlyCommands.contains(c.back())) {
    // Any other command, such as `iam policy set` or `api-key reset`, runs
    // as a ks step with the scenario's names for instances and keys.
    json fields = {{"command", s.KsCommandLineLocked(env, args)}};
    if (!words.user.empty()) fields["as"] = words.user;
    add({{"ks", fields}});
  }
}

base::Status Recorder::Finish(Environment& env) {
  State& s = *state_;
  std::lock_guard lock(s.mu);
  s.lines.push_back("  # The state when the sandbox stopped:");
  for (Cluster* cluster : env.Clusters()) {
    s.StepLocked(
        {{"expect_cluster",
          {{"cluster", cluster->spec().name},
           {"kms", cluster->kms_enabled() ? "enabled" : "disabled"},
           {"master_status", StatusPattern(cluster->MasterStatusText())},
           {"within", "2h"}}}});
  }
  for (Cluster* cluster : env.Clusters()) {
    // The Secrets as the API server returns them, where it can read them.
    base::StatusOr<Json> secrets =
        cluster->List(apiserver::SecretsResource(), "");
    if (!secrets.ok()) continue;
    for (const Json& item : (*secrets)["items"]) {
      std::string ns = item["metadata"].value("namespace", "");
      if (ns == "kube-system") continue;  // the cluster's own Secrets
      std::optional<json> data = TextData(item);
      if (!data) continue;
      s.StepLocked({{"get_secret",
                     {{"cluster", cluster->spec().name},
                      {"namespace", ns},
                      {"name", item["metadata"].value("name", "")}}},
                    {"expect", {{"data", *data}}}});
    }
  }
  for (const auto& [id, name] : s.key_names) {
    for (const kms::Instance& instance : env.kms().ListInstances()) {
      base::StatusOr<kms::Key> key = env.kms().GetKey(instance.id, id);
      if (!key.ok()) continue;
      s.StepLocked({{"expect_key",
                     {{"key", name},
                      {"state", kms::KeyStateName(key->state)},
                      {"within", "2h"}}}});
    }
  }
  return s.WriteLocked();
}

}  // namespace sim
