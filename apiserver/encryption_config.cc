#include "apiserver/encryption_config.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

#include "apiserver/validation.h"
#include "base/crypto.h"

namespace apiserver {
namespace {

constexpr char kConfigApiVersion[] = "apiserver.config.k8s.io/v1";
constexpr char kConfigKind[] = "EncryptionConfiguration";

// The field errors found so far, formatted as upstream's field.Error.
using Errors = std::vector<std::string>;

std::string AtLeastOne(const std::string& what) {
  return "at least one " + what + " is required";
}

std::string Mandatory(const std::string& field, const std::string& owner) {
  return field + " is a mandatory field for a " + owner;
}

std::string ScalarOr(const YAML::Node& node, const std::string& fallback) {
  return node && node.IsScalar() ? node.as<std::string>() : fallback;
}

// A key of aescbc, aesgcm or secretbox after validation.
struct ParsedKey {
  std::string name;
  std::string secret;  // decoded
};

// Validates keys as upstream's validateKeys and returns the decoded ones.
std::vector<ParsedKey> ParseKeys(const YAML::Node& provider,
                                 const std::string& path,
                                 const std::string& sizes_text,
                                 const std::set<size_t>& sizes,
                                 Errors& errors) {
  std::vector<ParsedKey> keys;
  const YAML::Node list = provider["keys"];
  if (!list || !list.IsSequence() || list.size() == 0) {
    errors.push_back(path + ": Required value: " + AtLeastOne("keys"));
    return keys;
  }
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string key_path = path + "[" + std::to_string(i) + "]";
    ParsedKey key{ScalarOr(list[i]["name"], ""), ""};
    const std::string secret = ScalarOr(list[i]["secret"], "");
    if (key.name.empty()) {
      errors.push_back(key_path +
                       ".name: Required value: " + Mandatory("name", "key"));
    }
    if (secret.empty()) {
      errors.push_back(
          key_path + ".secret: Required value: " + Mandatory("secret", "key"));
      continue;
    }
    base::StatusOr<std::string> decoded = base::Base64Decode(secret);
    if (!decoded.ok()) {
      errors.push_back(key_path +
                       ".secret: Invalid value: \"REDACTED\": secrets must be "
                       "base64 encoded");
      continue;
    }
    if (!sizes.contains(decoded->size())) {
      errors.push_back(key_path +
                       ".secret: Invalid value: \"REDACTED\": secret is not "
                       "of the expected length, got " +
                       std::to_string(decoded->size()) + ", expected one of " +
                       sizes_text);
      continue;
    }
    key.secret = std::move(*decoded);
    keys.push_back(std::move(key));
  }
  return keys;
}

// Validates a kms entry as upstream's validateKMSConfiguration.
KmsProviderConfig ParseKms(const YAML::Node& node, const std::string& path,
                           std::set<std::string>& names, Errors& errors) {
  KmsProviderConfig config;
  config.name = ScalarOr(node["name"], "");
  config.endpoint = ScalarOr(node["endpoint"], "");
  config.api_version = ScalarOr(node["apiVersion"], "v1");
  const std::string timeout = ScalarOr(node["timeout"], "3s");

  if (config.name.empty()) {
    errors.push_back(path +
                     ".name: Required value: " + Mandatory("name", "provider"));
  }
  if (config.api_version != "v1" &&
      config.name.find(':') != std::string::npos) {
    errors.push_back(path + ".name: Invalid value: " + GoQuote(config.name) +
                     ": invalid KMS provider name " + config.name +
                     ", must not contain ':'");
  }
  if (names.contains(config.name)) {
    errors.push_back(path + ".name: Invalid value: " + GoQuote(config.name) +
                     ": duplicate KMS provider name " + config.name +
                     ", names must be unique");
  }
  names.insert(config.name);

  std::optional<base::Duration> parsed = base::ParseDuration(timeout);
  if (!parsed.has_value() || parsed->count() <= 0) {
    errors.push_back(path + ".timeout: Invalid value: " + GoQuote(timeout) +
                     ": timeout should be a positive value");
  } else {
    config.timeout = *parsed;
  }
  // NOTE: upstream accepts only unix:// endpoints because it dials a plugin
  // socket. Here the KmsClientFactory interprets the endpoint, so any
  // non-empty value passes and the factory rejects what it cannot reach.
  if (config.endpoint.empty()) {
    errors.push_back(path + ".endpoint: Invalid value: \"\": " +
                     Mandatory("endpoint", "kms"));
  }
  if (config.api_version != "v1" && config.api_version != "v2") {
    errors.push_back(
        path + ".apiVersion: Invalid value: " + GoQuote(config.api_version) +
        ": unsupported apiVersion apiVersion for KMS provider, "
        "only v1 and v2 are supported");
  } else if (config.api_version == "v1") {
    errors.push_back(path +
                     ".apiVersion: Invalid value: \"v1\": KMS v1 is "
                     "not supported here, set apiVersion: v2");
  }
  return config;
}

class ConfigParser {
 public:
  ConfigParser(const KmsClientFactory& kms_clients, base::Clock& clock,
               base::Random& random)
      : kms_clients_(kms_clients), clock_(clock), random_(random) {}

  base::StatusOr<EncryptionConfig> Parse(const YAML::Node& root);

 private:
  std::vector<Provider> ParseProvider(const YAML::Node& node,
                                      const std::string& path);
  void AddKmsProvider(const KmsProviderConfig& config,
                      std::vector<Provider>& providers);

  const KmsClientFactory& kms_clients_;
  base::Clock& clock_;
  base::Random& random_;
  Errors errors_;
  std::set<std::string> kms_names_;
  EncryptionConfig config_;
};

base::StatusOr<EncryptionConfig> ConfigParser::Parse(const YAML::Node& root) {
  const std::string api_version = ScalarOr(root["apiVersion"], "");
  const std::string kind = ScalarOr(root["kind"], "");
  if (api_version != kConfigApiVersion || kind != kConfigKind) {
    return base::InvalidArgumentError(
        "encryption configuration has apiVersion " + GoQuote(api_version) +
        " and kind " + GoQuote(kind) + ", expected " + kConfigApiVersion + " " +
        kConfigKind);
  }
  const YAML::Node entries = root["resources"];
  if (!entries || !entries.IsSequence() || entries.size() == 0) {
    errors_.push_back("resources: Required value: " + AtLeastOne("resources"));
  }
  for (size_t i = 0; entries && entries.IsSequence() && i < entries.size();
       ++i) {
    const std::string entry_path = "resources[" + std::to_string(i) + "]";
    const YAML::Node resources = entries[i]["resources"];
    const YAML::Node providers = entries[i]["providers"];
    if (!resources || !resources.IsSequence() || resources.size() == 0) {
      errors_.push_back(entry_path + ".resources: Required value: " +
                        AtLeastOne(entry_path + ".resources"));
    }
    if (!providers || !providers.IsSequence() || providers.size() == 0) {
      errors_.push_back(entry_path + ".providers: Required value: " +
                        AtLeastOne(entry_path + ".providers"));
    }
    std::vector<Provider> chain;
    for (size_t j = 0;
         providers && providers.IsSequence() && j < providers.size(); ++j) {
      std::vector<Provider> parsed = ParseProvider(
          providers[j], entry_path + ".providers[" + std::to_string(j) + "]");
      chain.insert(chain.end(), parsed.begin(), parsed.end());
    }
    if (!errors_.empty() || chain.empty()) continue;
    auto transformer = std::make_shared<TransformerChain>(chain);
    for (size_t k = 0; k < resources.size(); ++k) {
      // The first entry that lists a resource decides, as upstream.
      config_.transformers.emplace(ScalarOr(resources[k], ""), transformer);
    }
  }
  if (!errors_.empty()) {
    std::string joined = errors_.front();
    if (errors_.size() > 1) {
      joined = "[";
      for (size_t i = 0; i < errors_.size(); ++i) {
        joined += (i > 0 ? ", " : "") + errors_[i];
      }
      joined += "]";
    }
    return base::InvalidArgumentError("invalid encryption configuration: " +
                                      joined);
  }
  return std::move(config_);
}

std::vector<Provider> ConfigParser::ParseProvider(const YAML::Node& node,
                                                  const std::string& path) {
  std::vector<Provider> providers;
  int found = 0;
  for (const char* type :
       {"kms", "aesgcm", "aescbc", "secretbox", "identity"}) {
    if (node.IsMap() && node[type]) ++found;
  }
  if (found != 1) {
    errors_.push_back(
        path + ": Invalid value: " + GoQuote(YAML::Dump(node)) + ": " +
        (found == 0 ? "provider does not contain any of the expected "
                      "providers: KMS, AESGCM, AESCBC, Secretbox, Identity"
                    : "more than one provider specified in a single element, "
                      "should split into different list elements"));
    return providers;
  }

  static const std::set<size_t> kAesSizes = {16, 24, 32};
  if (node["identity"]) {
    providers.push_back({"", NewIdentityTransformer()});
  } else if (node["secretbox"]) {
    std::vector<ParsedKey> keys = ParseKeys(
        node["secretbox"], path + ".secretbox.keys", "[32]", {32}, errors_);
    for (ParsedKey& key : keys) {
      std::string prefix = "k8s:enc:secretbox:v1:" + key.name + ":";
      base::StatusOr<std::shared_ptr<Transformer>> transformer =
          NewSecretboxTransformer(prefix, std::move(key.secret), random_);
      if (!transformer.ok()) {
        errors_.push_back(path + ": " + transformer.status().message());
        continue;
      }
      providers.push_back({std::move(prefix), std::move(*transformer)});
    }
  } else if (node["kms"]) {
    KmsProviderConfig kms =
        ParseKms(node["kms"], path + ".kms", kms_names_, errors_);
    if (errors_.empty()) AddKmsProvider(kms, providers);
  } else {
    const bool cbc = static_cast<bool>(node["aescbc"]);
    const std::string type = cbc ? "aescbc" : "aesgcm";
    std::vector<ParsedKey> keys =
        ParseKeys(node[type], path + "." + type + ".keys", "[16 24 32]",
                  kAesSizes, errors_);
    for (ParsedKey& key : keys) {
      std::string prefix = "k8s:enc:" + type + ":v1:" + key.name + ":";
      base::StatusOr<std::shared_ptr<Transformer>> transformer =
          cbc ? NewAesCbcTransformer(prefix, std::move(key.secret), random_)
              : NewAesGcmTransformer(prefix, std::move(key.secret), random_);
      if (!transformer.ok()) {
        errors_.push_back(path + ": " + transformer.status().message());
        continue;
      }
      providers.push_back({std::move(prefix), std::move(*transformer)});
    }
  }
  return providers;
}

void ConfigParser::AddKmsProvider(const KmsProviderConfig& config,
                                  std::vector<Provider>& providers) {
  base::StatusOr<std::shared_ptr<KmsClient>> client = kms_clients_(config);
  if (!client.ok()) {
    errors_.push_back("kms provider " + config.name + ": " +
                      client.status().message());
    return;
  }
  auto transformer = std::make_shared<KmsV2Transformer>(
      config.name, std::move(*client), clock_, random_);
  config_.kms_providers[config.name] = transformer;
  providers.push_back({transformer->prefix(), transformer});
}

}  // namespace

std::shared_ptr<Transformer> EncryptionConfig::ForResource(
    const std::string& resource) const {
  for (const std::string& name :
       {resource, std::string("*."), std::string("*.*")}) {
    auto it = transformers.find(name);
    if (it != transformers.end()) return it->second;
  }
  return std::make_shared<TransformerChain>(
      std::vector<Provider>{{"", NewIdentityTransformer()}});
}

base::StatusOr<EncryptionConfig> ParseEncryptionConfig(
    const std::string& yaml, const KmsClientFactory& kms_clients,
    base::Clock& clock, base::Random& random) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& error) {
    return base::InvalidArgumentError(
        "error while parsing encryption configuration: " +
        std::string(error.what()));
  }
  if (!root.IsMap()) {
    return base::InvalidArgumentError(
        "error while parsing encryption configuration: the document is not a "
        "YAML mapping");
  }
  try {
    return ConfigParser(kms_clients, clock, random).Parse(root);
  } catch (const YAML::Exception& error) {
    return base::InvalidArgumentError(
        "error while parsing encryption configuration: " +
        std::string(error.what()));
  }
}

base::StatusOr<EncryptionConfig> LoadEncryptionConfigFile(
    const std::string& path, const KmsClientFactory& kms_clients,
    base::Clock& clock, base::Random& random) {
  std::ifstream file(path);
  if (!file) {
    return base::NotFoundError("failed to read encryption configuration " +
                               path);
  }
  std::stringstream text;
  text << file.rdbuf();
  return ParseEncryptionConfig(text.str(), kms_clients, clock, random);
}

}  // namespace apiserver
