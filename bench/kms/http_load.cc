// kms_http_load: a closed-loop HTTP load generator for kms-mock-server.
//
//   kms_http_load --port 8200 --token admin --instance inst-bench
//       --operation unwrap --connections 16 --duration 10
//
// Opens --connections keep-alive connections to 127.0.0.1, creates a root
// key (and, for unwrap, a ciphertext) through the API, then has every
// connection send the same wrap or unwrap request again as soon as the
// previous response has arrived. Requests completed during the measured
// window, after a warm-up, give the rate; latencies are per request.
// all_requests counts the warm-up too.
// Any response other than 200 counts as an error and fails the run.
//
// Time is measured with std::chrono::steady_clock: this is a measuring
// tool, outside the simulation and its injected clocks.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using Json = nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

struct Flags {
  uint16_t port = 0;
  std::string token = "admin";
  std::string instance;
  std::string operation = "unwrap";
  int connections = 16;
  int threads = 1;
  double duration = 10;
  double warmup = 2;
};

std::string Request(const Flags& flags, const std::string& target,
                    const std::string& body) {
  return "POST " + target +
         " HTTP/1.1\r\n"
         "Host: 127.0.0.1\r\n"
         "Authorization: Bearer " +
         flags.token +
         "\r\n"
         "bluemix-instance: " +
         flags.instance +
         "\r\n"
         "Content-Type: application/json\r\n"
         "Content-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

// Returns whether `text` starts with `prefix`, ignoring ASCII case.
bool StartsWithIgnoringCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != prefix[i]) {
      return false;
    }
  }
  return true;
}

// Parses the status code and Content-Length of a response header, without
// allocating: the client shares the machine's two cores with the server.
bool ParseHeader(std::string_view header, int& status, size_t& length) {
  if (header.size() < 12 || !header.starts_with("HTTP/1.1 ")) return false;
  status =
      (header[9] - '0') * 100 + (header[10] - '0') * 10 + (header[11] - '0');
  length = 0;
  constexpr std::string_view kLength = "content-length:";
  for (size_t at = header.find("\r\n"); at != std::string_view::npos;
       at = header.find("\r\n", at + 2)) {
    std::string_view line = header.substr(at + 2);
    if (!StartsWithIgnoringCase(line, kLength)) continue;
    size_t i = kLength.size();
    while (i < line.size() && line[i] == ' ') ++i;
    while (i < line.size() && line[i] >= '0' && line[i] <= '9') {
      length = length * 10 + static_cast<size_t>(line[i++] - '0');
    }
    return true;
  }
  return true;
}

// One blocking request, for set-up. Returns the status and the body.
std::pair<int, std::string> Exchange(tcp::socket& socket,
                                     const std::string& request) {
  net::write(socket, net::buffer(request));
  std::string buffer;
  size_t header_end =
      net::read_until(socket, net::dynamic_buffer(buffer), "\r\n\r\n");
  int status = 0;
  size_t length = 0;
  if (!ParseHeader(std::string_view(buffer).substr(0, header_end), status,
                   length)) {
    return {0, ""};
  }
  if (buffer.size() < header_end + length) {
    net::read(socket, net::dynamic_buffer(buffer),
              net::transfer_exactly(header_end + length - buffer.size()));
  }
  return {status, buffer.substr(header_end, length)};
}

struct Shared {
  std::atomic<bool> measuring{false};
  std::atomic<bool> stopping{false};
  std::atomic<int64_t> errors{0};
};

// One keep-alive connection sending the same request in a loop.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(net::io_context& context, const std::string& request,
             Shared& shared)
      : socket_(context), request_(request), shared_(shared) {}

  void Start(const tcp::endpoint& endpoint) {
    socket_.connect(endpoint);
    socket_.set_option(tcp::no_delay(true));
    latencies_.reserve(1 << 20);
    Send();
  }

  int64_t completed() const { return completed_; }
  int64_t completed_total() const { return completed_total_; }
  const std::vector<uint32_t>& latencies_us() const { return latencies_; }

 private:
  void Send() {
    if (shared_.stopping) return;
    sent_at_ = SteadyClock::now();
    net::async_write(socket_, net::buffer(request_),
                     [self = shared_from_this()](auto error, size_t) {
                       if (!error) self->ReadHeader();
                     });
  }

  void ReadHeader() {
    net::async_read_until(
        socket_, net::dynamic_buffer(buffer_), "\r\n\r\n",
        [self = shared_from_this()](auto error, size_t header_end) {
          if (!error) self->OnHeader(header_end);
        });
  }

  void OnHeader(size_t header_end) {
    int status = 0;
    size_t length = 0;
    if (!ParseHeader(std::string_view(buffer_).substr(0, header_end), status,
                     length)) {
      ++shared_.errors;
      return;
    }
    size_t total = header_end + length;
    if (buffer_.size() >= total) return OnResponse(status, total);
    net::async_read(
        socket_, net::dynamic_buffer(buffer_),
        net::transfer_exactly(total - buffer_.size()),
        [self = shared_from_this(), status, total](auto error, size_t) {
          if (!error) self->OnResponse(status, total);
        });
  }

  void OnResponse(int status, size_t total) {
    buffer_.erase(0, total);
    ++completed_total_;
    if (status != 200) ++shared_.errors;
    if (shared_.measuring) {
      ++completed_;
      auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(
          SteadyClock::now() - sent_at_);
      latencies_.push_back(static_cast<uint32_t>(elapsed.count()));
    }
    Send();
  }

  tcp::socket socket_;
  const std::string& request_;
  Shared& shared_;
  std::string buffer_;
  SteadyClock::time_point sent_at_;
  int64_t completed_ = 0;        // during the measured window
  int64_t completed_total_ = 0;  // warm-up included
  std::vector<uint32_t> latencies_;
};

int Run(const Flags& flags) {
  tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"), flags.port);
  net::io_context setup_context;
  tcp::socket setup(setup_context);
  setup.connect(endpoint);

  Json key_body = {
      {"metadata",
       {{"collectionType", "application/vnd.ibm.kms.key+json"},
        {"collectionTotal", 1}}},
      {"resources", {{{"name", "bench-root-key"}, {"extractable", false}}}}};
  auto [created_status, created] =
      Exchange(setup, Request(flags, "/api/v2/keys", key_body.dump()));
  if (created_status != 201) {
    std::fprintf(stderr, "creating the key failed with %d: %s\n",
                 created_status, created.c_str());
    return 1;
  }
  std::string key_id = Json::parse(created)["resources"][0]["id"];
  std::string actions = "/api/v2/keys/" + key_id + "/actions/";

  std::string request;
  if (flags.operation == "wrap") {
    request = Request(flags, actions + "wrap", "{}");
  } else {
    auto [wrap_status, wrapped] =
        Exchange(setup, Request(flags, actions + "wrap", "{}"));
    if (wrap_status != 200) {
      std::fprintf(stderr, "wrap failed with %d: %s\n", wrap_status,
                   wrapped.c_str());
      return 1;
    }
    Json body = {{"ciphertext", Json::parse(wrapped)["ciphertext"]}};
    request = Request(flags, actions + "unwrap", body.dump());
  }

  net::io_context context;
  Shared shared;
  std::vector<std::shared_ptr<Connection>> connections;
  for (int i = 0; i < flags.connections; ++i) {
    connections.push_back(
        std::make_shared<Connection>(context, request, shared));
    connections.back()->Start(endpoint);
  }
  std::vector<std::thread> threads;
  for (int i = 0; i < flags.threads; ++i) {
    threads.emplace_back([&context] { context.run(); });
  }

  std::this_thread::sleep_for(std::chrono::duration<double>(flags.warmup));
  shared.measuring = true;
  SteadyClock::time_point start = SteadyClock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(flags.duration));
  shared.measuring = false;
  double seconds =
      std::chrono::duration<double>(SteadyClock::now() - start).count();
  shared.stopping = true;
  context.stop();
  for (std::thread& thread : threads) thread.join();

  int64_t completed = 0;
  int64_t completed_total = 0;
  std::vector<uint32_t> latencies;
  for (const auto& connection : connections) {
    completed += connection->completed();
    completed_total += connection->completed_total();
    latencies.insert(latencies.end(), connection->latencies_us().begin(),
                     connection->latencies_us().end());
  }
  std::sort(latencies.begin(), latencies.end());
  auto percentile = [&latencies](double p) -> uint32_t {
    if (latencies.empty()) return 0;
    return latencies[static_cast<size_t>(p * (latencies.size() - 1))];
  };
  std::printf(
      "operation=%s connections=%d seconds=%.2f requests=%lld "
      "requests_per_second=%.0f errors=%lld p50_us=%u p99_us=%u "
      "all_requests=%lld\n",
      flags.operation.c_str(), flags.connections, seconds,
      static_cast<long long>(completed), completed / seconds,
      static_cast<long long>(shared.errors.load()), percentile(0.5),
      percentile(0.99), static_cast<long long>(completed_total));
  return shared.errors > 0 ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  CLI::App app{"Closed-loop HTTP load on kms-mock-server (wrap or unwrap)"};
  app.add_option("--port", flags.port, "the server's port on 127.0.0.1")
      ->required();
  app.add_option("--token", flags.token, "bearer token with the Writer role")
      ->capture_default_str();
  app.add_option("--instance", flags.instance, "bluemix-instance id")
      ->required();
  app.add_option("--operation", flags.operation, "wrap or unwrap")
      ->check(CLI::IsMember({"wrap", "unwrap"}))
      ->capture_default_str();
  app.add_option("--connections", flags.connections,
                 "keep-alive connections, each with one request in flight")
      ->capture_default_str();
  app.add_option("--threads", flags.threads, "client I/O threads")
      ->capture_default_str();
  app.add_option("--duration", flags.duration, "measured seconds")
      ->capture_default_str();
  app.add_option("--warmup", flags.warmup, "seconds before measuring")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    return Run(flags);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kms_http_load: %s\n", e.what());
    return 1;
  }
}
