// apiserver-test-server: the API server on a RocksDB store in a data
// directory, with an in-process KMS, for tests that drive it with other
// clients and for trying clients by hand.
//
//   apiserver-test-server --dir /tmp/api [--kms | --encryption-config FILE]
//       [--port N] [--plain-http] [--client-validation]
//
// On first start it creates <dir>/pki (a CA and a serving certificate) and
// <dir>/admin-token (a random bearer token), and on every start it writes
// <dir>/kubeconfig for that token. It prints "ready <url>" and serves until
// its standard input closes. With --kms, Secrets are encrypted by a KMS v2
// provider named "kp"; with --encryption-config, as the file configures them
// (its kms providers use the in-process KMS) and the file is reloaded when it
// changes; otherwise they are stored as plain JSON.
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "apiserver/encryption_config.h"
#include "apiserver/http_server.h"
#include "apiserver/transformer.h"
#include "base/clock.h"
#include "base/crypto.h"
#include "base/random.h"
#include "etcd-store/store.h"
#include "kms-mock/kms.h"

namespace {

// Reads <dir>/admin-token, creating it with a random token on first start.
std::string AdminToken(const std::string& dir, base::Random& random) {
  const std::string path = dir + "/admin-token";
  std::ifstream in(path);
  std::string token;
  if (in && std::getline(in, token) && !token.empty()) return token;
  token = base::Sha256Hex(random.Bytes(32)).substr(0, 32);
  std::ofstream(path, std::ios::trunc) << token << "\n";
  chmod(path.c_str(), 0600);
  return token;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app(
      "Serves the Kubernetes API facade on 127.0.0.1 for manual tests");
  std::string dir;
  std::string encryption_config;
  bool use_kms = false;
  bool plain_http = false;
  bool client_validation = false;
  uint16_t port = 0;
  app.add_option("--dir", dir,
                 "data folder for the store, certificates and kubeconfig")
      ->required();
  app.add_flag("--kms", use_kms, "encrypt Secrets with a KMS v2 provider");
  app.add_option("--encryption-config", encryption_config,
                 "EncryptionConfiguration file, reloaded when it changes");
  app.add_option("--port", port, "port to listen on; 0 picks a free one");
  app.add_flag("--plain-http", plain_http, "serve HTTP instead of HTTPS");
  app.add_flag("--client-validation", client_validation,
               "leave field validation to clients, as servers before "
               "server-side field validation did");
  CLI11_PARSE(app, argc, argv);

  base::SystemClock clock;
  base::SecureRandom random;
  std::filesystem::create_directories(dir);
  auto store = etcd::OpenRocksDbStore(dir + "/db", clock);
  if (!store.ok()) {
    std::cerr << store.status().ToString() << "\n";
    return 1;
  }
  kms::KeyService kms(clock, random);
  auto instance = kms.CreateInstance("test", kms::InstanceType::kKeyProtect);
  kms::CreateKeyRequest key_request;
  key_request.name = "root";
  auto key = kms.CreateKey(instance->id, key_request);
  if (!key.ok()) {
    std::cerr << key.status().ToString() << "\n";
    return 1;
  }

  std::shared_ptr<apiserver::KmsV2Transformer> provider;
  std::shared_ptr<apiserver::Transformer> transformer =
      apiserver::NewIdentityTransformer();
  if (use_kms) {
    provider = std::make_shared<apiserver::KmsV2Transformer>(
        "kp", apiserver::NewKeyServiceKmsClient(kms, instance->id, key->id),
        clock, random);
    transformer = provider;
  }
  std::unique_ptr<apiserver::EncryptionConfigReloader> reloader;
  std::unique_ptr<apiserver::Registry> registry;
  if (!encryption_config.empty()) {
    auto factory = [&](const apiserver::KmsProviderConfig&)
        -> base::StatusOr<std::shared_ptr<apiserver::KmsClient>> {
      return std::shared_ptr<apiserver::KmsClient>(
          apiserver::NewKeyServiceKmsClient(kms, instance->id, key->id));
    };
    auto started = apiserver::EncryptionConfigReloader::Start(
        encryption_config, factory, clock, random,
        [&registry](std::shared_ptr<const apiserver::EncryptionConfig> config) {
          if (registry)
            registry->SetTransformer(config->ForResource("secrets"));
        });
    if (!started.ok()) {
      std::cerr << started.status().ToString() << "\n";
      return 1;
    }
    reloader = std::move(*started);
    transformer = reloader->current()->ForResource("secrets");
  }
  registry = std::make_unique<apiserver::Registry>(**store, transformer, clock,
                                                   random);

  const std::string token = AdminToken(dir, random);
  apiserver::ApiHandlerOptions options;
  options.server_side_field_validation = !client_validation;
  options.bearer_tokens = {{token, "admin"}};
  if (provider) {
    options.kms_health = [&] { return provider->Health(); };
    options.kms_stats = [&] {
      return std::map<std::string, apiserver::KmsV2Stats>{
          {"kp", provider->stats()}};
    };
  } else if (reloader) {
    options.encryption_config_reloads = [&] { return reloader->stats(); };
    options.kms_health = [&]() -> base::Status {
      for (const auto& [name, kms_provider] :
           reloader->current()->kms_providers) {
        RETURN_IF_ERROR(kms_provider->Health());
      }
      return base::OkStatus();
    };
    options.kms_stats = [&] {
      std::map<std::string, apiserver::KmsV2Stats> stats;
      for (const auto& [name, kms_provider] :
           reloader->current()->kms_providers) {
        stats[name] = kms_provider->stats();
      }
      return stats;
    };
  }
  apiserver::ApiHandler handler(*registry, clock, options);

  apiserver::HttpServerOptions server_options;
  server_options.port = port;
  server_options.tls = !plain_http;
  if (!plain_http) {
    auto certificates =
        apiserver::LoadOrCreateServingCertificates(dir + "/pki", clock, random);
    if (!certificates.ok()) {
      std::cerr << certificates.status().ToString() << "\n";
      return 1;
    }
    server_options.certificate_pem = certificates->certificate_pem;
    server_options.private_key_pem = certificates->private_key_pem;
    server_options.ca_pem = certificates->ca_pem;
  }
  auto server =
      apiserver::HttpServer::Start(handler, clock, random, server_options);
  if (!server.ok()) {
    std::cerr << server.status().ToString() << "\n";
    return 1;
  }
  std::ofstream(dir + "/kubeconfig", std::ios::trunc)
      << (*server)->Kubeconfig(token);
  chmod((dir + "/kubeconfig").c_str(), 0600);
  std::cout << "ready " << (*server)->url() << std::endl;

  char ignored[256];
  while (read(STDIN_FILENO, ignored, sizeof(ignored)) > 0) {
  }
  return 0;
}
