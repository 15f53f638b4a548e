// apiserver_bench: Secret create and get over HTTPS, identity against KMS v2,
// in one run; KMS calls per 10,000 writes; and the rewrite of 10,000
// Secrets after a KMS key rotation.
//
//   apiserver_bench [--runs 5] [--seconds 3] [--connections 16]
//       [--rewrite-count 10000] [--server-threads 2]
//
// Each mode (identity, kms) gets its own API server: HttpServer over
// ApiHandler over Registry over a synced RocksDB store in a temporary
// folder, with an in-process KMS for the KMS v2 provider. The load
// generator runs in the same process: --connections threads, each with one
// keep-alive TLS connection to 127.0.0.1, sending its next request as soon
// as the previous response arrives. The modes alternate run by run, so
// both see the same background load, and the medians over --runs are
// compared.
//
// Time is measured with std::chrono::steady_clock: this is a measuring
// tool, outside the simulation and its injected clocks. Any response with
// an unexpected status fails the run.
#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "apiserver/http_server.h"
#include "apiserver/transformer.h"
#include "base/clock.h"
#include "base/crypto.h"
#include "base/random.h"
#include "etcd-store/store.h"
#include "kms-mock/kms.h"

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using SteadyClock = std::chrono::steady_clock;

constexpr char kToken[] = "bench-token";
constexpr char kSecrets[] = "/api/v1/namespaces/default/secrets";

struct Flags {
  int runs = 5;
  double seconds = 3;
  int connections = 16;
  int rewrite_count = 10000;
  int server_threads = 2;
};

// One API server with its store, KMS and transformer.
class Server {
 public:
  // `kms` selects the KMS v2 provider; otherwise Secrets are stored as JSON.
  Server(bool kms, int threads) {
    char pattern[] = "/tmp/apiserver-bench-XXXXXX";
    if (mkdtemp(pattern) == nullptr) Die("mkdtemp failed");
    dir_ = pattern;
    auto store = etcd::OpenRocksDbStore(dir_ + "/db", clock_);
    if (!store.ok()) Die(store.status().ToString());
    store_ = std::move(*store);
    auto instance =
        kms_.CreateInstance("bench", kms::InstanceType::kKeyProtect);
    kms::CreateKeyRequest key_request;
    key_request.name = "root";
    auto key = kms_.CreateKey(instance->id, key_request);
    if (!key.ok()) Die(key.status().ToString());
    instance_id_ = instance->id;
    key_id_ = key->id;

    std::shared_ptr<apiserver::Transformer> transformer =
        apiserver::NewIdentityTransformer();
    if (kms) {
      provider_ = std::make_shared<apiserver::KmsV2Transformer>(
          "kp", apiserver::NewKeyServiceKmsClient(kms_, instance_id_, key_id_),
          clock_, random_);
      transformer = std::make_shared<apiserver::TransformerChain>(
          std::vector<apiserver::Provider>{
              {provider_->prefix(), provider_},
              {"", apiserver::NewIdentityTransformer()}});
    }
    registry_ = std::make_unique<apiserver::Registry>(*store_, transformer,
                                                      clock_, random_);
    apiserver::ApiHandlerOptions options;
    options.bearer_tokens = {{kToken, "admin"}};
    handler_ =
        std::make_unique<apiserver::ApiHandler>(*registry_, clock_, options);
    apiserver::HttpServerOptions server_options;
    server_options.threads = threads;
    auto server = apiserver::HttpServer::Start(*handler_, clock_, random_,
                                               server_options);
    if (!server.ok()) Die(server.status().ToString());
    server_ = std::move(*server);
  }

  ~Server() {
    server_.reset();
    handler_.reset();
    registry_.reset();
    provider_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  uint16_t port() const { return server_->port(); }
  apiserver::Registry& registry() { return *registry_; }
  apiserver::KmsV2Transformer* provider() { return provider_.get(); }

  int64_t KmsCalls(const std::string& operation) const {
    auto counts = kms_.CallCounts();
    auto it = counts.find(operation);
    return it == counts.end() ? 0 : it->second.ok + it->second.failed;
  }

  // Adds a key version in the KMS and has the provider see it now.
  void RotateKey() {
    if (!kms_.Rotate(instance_id_, key_id_).ok()) Die("rotate failed");
    if (!provider_->ProbeNow().ok()) Die("probe after rotate failed");
  }

  [[noreturn]] static void Die(const std::string& message) {
    std::fprintf(stderr, "apiserver_bench: %s\n", message.c_str());
    std::exit(1);
  }

 private:
  base::SystemClock clock_;
  base::SecureRandom random_;
  kms::KeyService kms_{clock_, random_};
  std::string instance_id_;
  std::string key_id_;
  std::string dir_;
  std::unique_ptr<etcd::Store> store_;
  std::shared_ptr<apiserver::KmsV2Transformer> provider_;
  std::unique_ptr<apiserver::Registry> registry_;
  std::unique_ptr<apiserver::ApiHandler> handler_;
  std::unique_ptr<apiserver::HttpServer> server_;
};

// A keep-alive TLS connection that sends one request at a time.
class Connection {
 public:
  Connection(net::io_context& context, ssl::context& tls, uint16_t port)
      : stream_(context, tls) {
    beast::get_lowest_layer(stream_).connect(
        net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    beast::get_lowest_layer(stream_).socket().set_option(
        net::ip::tcp::no_delay(true));
    stream_.handshake(ssl::stream_base::client);
  }

  // Sends a request and returns the response status; the body goes to
  // `body` when given.
  int Send(http::verb method, const std::string& target,
           const std::string& request_body, std::string* body = nullptr) {
    http::request<http::string_body> request(method, target, 11);
    request.set(http::field::host, "127.0.0.1");
    request.set(http::field::authorization, std::string("Bearer ") + kToken);
    if (!request_body.empty()) {
      request.set(http::field::content_type, "application/json");
    }
    request.body() = request_body;
    request.keep_alive(true);
    request.prepare_payload();
    http::write(stream_, request);
    http::response_parser<http::string_body> parser;
    parser.body_limit(1 << 30);
    http::read(stream_, buffer_, parser);
    if (body != nullptr) *body = std::move(parser.get().body());
    return parser.get().result_int();
  }

 private:
  beast::ssl_stream<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
};

// Runs `work(connection, thread, sequence)` on `connections` threads, each
// with its own connection, until `done(sequence)` or `seconds` pass.
// `work` returns false for an unexpected response. Returns the requests
// completed per second, or exits on an error.
double RunLoad(uint16_t port, int connections, double seconds,
               const std::function<bool(Connection&, int, int64_t)>& work,
               const std::function<bool(int64_t)>& done = nullptr,
               int64_t* completed_out = nullptr) {
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> completed{0};
  std::atomic<int64_t> errors{0};
  const auto started = SteadyClock::now();
  const auto deadline =
      started + std::chrono::duration_cast<SteadyClock::duration>(
                    std::chrono::duration<double>(seconds));
  std::vector<std::thread> threads;
  for (int t = 0; t < connections; ++t) {
    threads.emplace_back([&, t] {
      net::io_context context;
      ssl::context tls(ssl::context::tls_client);
      tls.set_verify_mode(ssl::verify_none);
      Connection connection(context, tls, port);
      while (SteadyClock::now() < deadline) {
        const int64_t sequence = next++;
        if (done && done(sequence)) break;
        if (!work(connection, t, sequence)) ++errors;
        ++completed;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  const double elapsed =
      std::chrono::duration<double>(SteadyClock::now() - started).count();
  if (errors > 0) {
    Server::Die(std::to_string(errors.load()) + " requests failed");
  }
  if (completed_out != nullptr) *completed_out = completed;
  return static_cast<double>(completed) / elapsed;
}

std::string SecretBody(const std::string& name, base::Random& random) {
  return "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":"
         "\"" +
         name + "\"},\"data\":{\"password\":\"" +
         base::Base64Encode(random.Bytes(32)) + "\"}}";
}

// Creates Secrets named "<prefix>-<sequence>" for `seconds` (or `count`
// of them); returns the rate and stores how many were created.
double CreateSecrets(Server& server, const Flags& flags,
                     const std::string& prefix, double seconds, int64_t count,
                     int64_t& created) {
  base::SecureRandom random;
  return RunLoad(
      server.port(), flags.connections, seconds,
      [&](Connection& connection, int, int64_t sequence) {
        const std::string name = prefix + "-" + std::to_string(sequence);
        return connection.Send(http::verb::post, kSecrets,
                               SecretBody(name, random)) == 201;
      },
      [count](int64_t sequence) { return count > 0 && sequence >= count; },
      &created);
}

double GetSecrets(Server& server, const Flags& flags, const std::string& prefix,
                  int64_t existing) {
  return RunLoad(server.port(), flags.connections, flags.seconds,
                 [&](Connection& connection, int, int64_t sequence) {
                   const std::string target =
                       std::string(kSecrets) + "/" + prefix + "-" +
                       std::to_string(sequence % existing);
                   return connection.Send(http::verb::get, target, "") == 200;
                 });
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// CPU time of the whole process (server and load generator), user and
// system, in seconds.
double ProcessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

std::string LoadAverage() {
  std::ifstream file("/proc/loadavg");
  std::string one, five, fifteen;
  file >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

// Creates `count` Secrets with KMS v2, counting KMS calls, then rotates the
// key and rewrites them all as `kubectl get secrets -A -o json | kubectl
// replace -f -` does: one list, then a PUT of each item as listed.
void MeasureKmsCallsAndRewrite(const Flags& flags) {
  Server server(/*kms=*/true, flags.server_threads);
  const int64_t wraps_at_start = server.KmsCalls("wrap");
  const int64_t unwraps_at_start = server.KmsCalls("unwrap");
  int64_t created = 0;
  const auto create_started = SteadyClock::now();
  CreateSecrets(server, flags, "w", 600, flags.rewrite_count, created);
  const double create_ms = std::chrono::duration<double, std::milli>(
                               SteadyClock::now() - create_started)
                               .count();
  std::printf(
      "kms_calls writes=%lld create_ms=%.0f wrap_calls=%lld "
      "unwrap_calls=%lld wrap_calls_at_start=%lld\n",
      static_cast<long long>(created), create_ms,
      static_cast<long long>(server.KmsCalls("wrap") - wraps_at_start),
      static_cast<long long>(server.KmsCalls("unwrap") - unwraps_at_start),
      static_cast<long long>(wraps_at_start));

  server.RotateKey();
  const int64_t wraps_before_rewrite = server.KmsCalls("wrap");
  const auto started = SteadyClock::now();
  const double cpu_at_start = ProcessCpuSeconds();
  net::io_context context;
  ssl::context tls(ssl::context::tls_client);
  tls.set_verify_mode(ssl::verify_none);
  std::string list_text;
  if (Connection(context, tls, server.port())
          .Send(http::verb::get, "/api/v1/secrets", "", &list_text) != 200) {
    Server::Die("listing Secrets failed");
  }
  const auto list = nlohmann::json::parse(list_text, nullptr, false)["items"];
  std::vector<std::string> bodies;
  for (auto item : list) {
    // kubectl fills in each item's kind and apiVersion, which list items
    // leave out.
    item["kind"] = "Secret";
    item["apiVersion"] = "v1";
    bodies.push_back(item.dump());
  }
  const auto listed = SteadyClock::now();
  RunLoad(
      server.port(), flags.connections, 600,
      [&](Connection& connection, int, int64_t sequence) {
        const auto& item = list[sequence];
        const std::string target =
            "/api/v1/namespaces/" +
            item["metadata"]["namespace"].get<std::string>() + "/secrets/" +
            item["metadata"]["name"].get<std::string>();
        return connection.Send(http::verb::put, target, bodies[sequence]) ==
               200;
      },
      [&](int64_t sequence) {
        return sequence >= static_cast<int64_t>(bodies.size());
      });
  const auto finished = SteadyClock::now();
  const double cpu_seconds = ProcessCpuSeconds() - cpu_at_start;

  // Every Secret must now be stored under the new key_id.
  int64_t stale = 0;
  for (const auto& item : list) {
    const std::string ns = item["metadata"]["namespace"];
    const std::string name = item["metadata"]["name"];
    auto raw =
        server.registry().RawValue(apiserver::SecretsResource(), ns, name);
    auto read = raw.ok()
                    ? server.provider()->FromStorage(
                          *raw, apiserver::EtcdKey(apiserver::SecretsResource(),
                                                   ns, name))
                    : base::StatusOr<apiserver::ReadResult>(raw.status());
    if (!read.ok() || read->stale) ++stale;
  }
  std::printf(
      "rewrite secrets=%zu list_ms=%.0f total_ms=%.0f cpu_ms=%.0f "
      "wrap_calls=%lld stale_after=%lld\n",
      bodies.size(),
      std::chrono::duration<double, std::milli>(listed - started).count(),
      std::chrono::duration<double, std::milli>(finished - started).count(),
      cpu_seconds * 1000,
      static_cast<long long>(server.KmsCalls("wrap") - wraps_before_rewrite),
      static_cast<long long>(stale));
}

// Creates, then gets, Secrets for --seconds per run, identity and KMS v2
// alternating, and prints each run, the medians and their ratios.
void MeasureThroughput(const Flags& flags) {
  std::vector<double> creates[2], gets[2];
  const char* names[2] = {"identity", "kms"};
  for (int run = 1; run <= flags.runs; ++run) {
    for (int mode = 0; mode < 2; ++mode) {
      Server server(/*kms=*/mode == 1, flags.server_threads);
      int64_t created = 0;
      const double create_rate =
          CreateSecrets(server, flags, "s", flags.seconds, 0, created);
      const double get_rate = GetSecrets(server, flags, "s", created);
      creates[mode].push_back(create_rate);
      gets[mode].push_back(get_rate);
      std::printf(
          "run=%d mode=%s creates_per_second=%.0f "
          "gets_per_second=%.0f\n",
          run, names[mode], create_rate, get_rate);
      std::fflush(stdout);
    }
  }
  for (int mode = 0; mode < 2; ++mode) {
    std::printf("median mode=%s creates_per_second=%.0f gets_per_second=%.0f\n",
                names[mode], Median(creates[mode]), Median(gets[mode]));
  }
  std::printf("ratio kms/identity creates=%.3f gets=%.3f\n",
              Median(creates[1]) / Median(creates[0]),
              Median(gets[1]) / Median(gets[0]));
}

int Run(const Flags& flags) {
  std::printf("load_average_before=%s\n", LoadAverage().c_str());
  if (flags.runs > 0) MeasureThroughput(flags);
  MeasureKmsCallsAndRewrite(flags);
  std::printf("load_average_after=%s\n", LoadAverage().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app(
      "Benchmarks Secret writes and reads over HTTPS, identity "
      "against KMS v2");
  Flags flags;
  app.add_option("--runs", flags.runs,
                 "measured runs per mode; 0 measures only the rewrite");
  app.add_option("--seconds", flags.seconds,
                 "seconds of creates, then of gets, per run");
  app.add_option("--connections", flags.connections,
                 "keep-alive HTTPS connections, one client thread each");
  app.add_option("--rewrite-count", flags.rewrite_count,
                 "Secrets written, then rewritten after a key rotation");
  app.add_option("--server-threads", flags.server_threads,
                 "threads running the server's I/O loop");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);
  return Run(flags);
}
