// apiserver-test-server: the API server on a RocksDB store in a folder, with
// an in-process KMS, for trying clients by hand.
//
//   apiserver-test-server --dir /tmp/api [--kms] [--client-validation]
//
// Writes <dir>/kubeconfig, prints "ready <url>" and serves until its
// standard input closes. With --kms, Secrets are encrypted by a KMS v2
// provider named "kp"; without it they are stored as plain JSON.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "apiserver/http_server.h"
#include "apiserver/transformer.h"
#include "base/clock.h"
#include "base/random.h"
#include "etcd-store/store.h"
#include "kms-mock/kms.h"

int main(int argc, char** argv) {
  CLI::App app(
      "Serves the Kubernetes API facade on 127.0.0.1 for manual tests");
  std::string dir;
  bool use_kms = false;
  bool client_validation = false;
  app.add_option("--dir", dir, "folder for the store and the kubeconfig")
      ->required();
  app.add_flag("--kms", use_kms, "encrypt Secrets with a KMS v2 provider");
  app.add_flag("--client-validation", client_validation,
               "leave field validation to clients, as servers before "
               "server-side field validation did");
  CLI11_PARSE(app, argc, argv);

  base::SystemClock clock;
  base::SecureRandom random;
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
  apiserver::Registry registry(**store, transformer, clock, random);
  apiserver::ApiHandlerOptions options;
  options.server_side_field_validation = !client_validation;
  if (provider) {
    options.kms_health = [&] { return provider->Health(); };
    options.kms_stats = [&] {
      return std::map<std::string, apiserver::KmsV2Stats>{
          {"kp", provider->stats()}};
    };
  }
  apiserver::ApiHandler handler(registry, clock, options);
  auto server = apiserver::HttpServer::Start(handler, clock, random, {});
  if (!server.ok()) {
    std::cerr << server.status().ToString() << "\n";
    return 1;
  }
  std::ofstream(dir + "/kubeconfig") << (*server)->Kubeconfig();
  std::cout << "ready " << (*server)->url() << std::endl;

  char ignored[256];
  while (read(STDIN_FILENO, ignored, sizeof(ignored)) > 0) {
  }
  return 0;
}
