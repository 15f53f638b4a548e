// How the server is reached: the CA and serving certificate kept in a data
// directory, bearer-token authentication with upstream's 401 and 403
// Statuses, and plain HTTP when asked for.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <sstream>
#include <thread>

#include "apiserver/http_server.h"
#include "apiserver/tls_certificates.h"
#include "tests/apiserver/handler_env.h"
#include "tests/apiserver/https_client.h"

namespace apiserver {
namespace {

using ::testing::HasSubstr;

using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;

X509Ptr ParseCertificate(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr),
                 X509_free);
}

// Verifies `leaf_pem` against `ca_pem` as a TLS client checks a server
// certificate for the IP address `ip`. Returns "ok" or OpenSSL's reason.
std::string VerifyServerCertificate(const std::string& leaf_pem,
                                    const std::string& ca_pem,
                                    const std::string& ip) {
  X509Ptr leaf = ParseCertificate(leaf_pem);
  X509Ptr ca = ParseCertificate(ca_pem);
  if (!leaf || !ca) return "not a PEM certificate";
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(
      X509_STORE_new(), X509_STORE_free);
  X509_STORE_add_cert(store.get(), ca.get());
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> context(
      X509_STORE_CTX_new(), X509_STORE_CTX_free);
  X509_STORE_CTX_init(context.get(), store.get(), leaf.get(), nullptr);
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(context.get());
  X509_VERIFY_PARAM_set1_ip_asc(param, ip.c_str());
  X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
  // Verify at the simulated time that dated the certificates.
  X509_VERIFY_PARAM_set_time(
      param,
      std::chrono::system_clock::to_time_t(
          std::chrono::time_point_cast<std::chrono::system_clock::duration>(
              TestStart())));
  if (X509_verify_cert(context.get()) == 1) return "ok";
  return X509_verify_cert_error_string(X509_STORE_CTX_get_error(context.get()));
}

std::string ReadFile(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

using ServingCertificatesTest = ApiserverEnv;

TEST_F(ServingCertificatesTest, FirstStartCreatesThenLaterStartsLoad) {
  const std::string pki = dir_ + "/pki";

  auto created = LoadOrCreateServingCertificates(pki, clock_, random_);
  auto loaded = LoadOrCreateServingCertificates(pki, clock_, random_);

  ASSERT_TRUE(created.ok()) << created.status();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->ca_pem, created->ca_pem);
  EXPECT_EQ(loaded->certificate_pem, created->certificate_pem);
  EXPECT_EQ(loaded->private_key_pem, created->private_key_pem);
  EXPECT_NE(created->ca_pem, created->certificate_pem);
  for (const char* file :
       {"ca.crt", "ca.key", "apiserver.crt", "apiserver.key"}) {
    EXPECT_TRUE(std::filesystem::exists(pki + "/" + file)) << file;
  }
  EXPECT_EQ(ReadFile(pki + "/apiserver.key"), created->private_key_pem);
  const auto key_mode =
      std::filesystem::status(pki + "/apiserver.key").permissions();
  EXPECT_EQ(key_mode & std::filesystem::perms::others_read,
            std::filesystem::perms::none);
  EXPECT_EQ(key_mode & std::filesystem::perms::group_read,
            std::filesystem::perms::none);
}

TEST_F(ServingCertificatesTest, ServingCertificateChainsToCa) {
  auto certificates =
      LoadOrCreateServingCertificates(dir_ + "/pki", clock_, random_);
  ASSERT_TRUE(certificates.ok()) << certificates.status();
  auto other =
      LoadOrCreateServingCertificates(dir_ + "/other", clock_, random_);
  ASSERT_TRUE(other.ok()) << other.status();

  EXPECT_EQ(VerifyServerCertificate(certificates->certificate_pem,
                                    certificates->ca_pem, "127.0.0.1"),
            "ok");
  EXPECT_EQ(VerifyServerCertificate(certificates->certificate_pem,
                                    certificates->ca_pem, "::1"),
            "ok");
  EXPECT_NE(VerifyServerCertificate(certificates->certificate_pem,
                                    certificates->ca_pem, "10.0.0.1"),
            "ok");
  EXPECT_NE(VerifyServerCertificate(certificates->certificate_pem,
                                    other->ca_pem, "127.0.0.1"),
            "ok");
}

TEST_F(ServingCertificatesTest, IncompleteFilesAreRejected) {
  const std::string pki = dir_ + "/pki";
  ASSERT_TRUE(LoadOrCreateServingCertificates(pki, clock_, random_).ok());
  std::filesystem::remove(pki + "/apiserver.key");

  auto loaded = LoadOrCreateServingCertificates(pki, clock_, random_);

  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), base::Code::kFailedPrecondition);
  EXPECT_THAT(loaded.status().message(),
              HasSubstr("incomplete certificate files in " + pki));
}

TEST_F(ServingCertificatesTest, CorruptFileIsRejected) {
  const std::string pki = dir_ + "/pki";
  ASSERT_TRUE(LoadOrCreateServingCertificates(pki, clock_, random_).ok());
  std::ofstream(pki + "/apiserver.crt", std::ios::trunc) << "not a cert\n";

  auto loaded = LoadOrCreateServingCertificates(pki, clock_, random_);

  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), base::Code::kFailedPrecondition);
  EXPECT_THAT(loaded.status().message(),
              HasSubstr("apiserver.crt does not contain a PEM certificate"));
}

constexpr char kToken[] = "the-admin-token";

class AuthenticationTest : public ApiHandlerTest {
 protected:
  ApiHandlerOptions HandlerOptions() override {
    ApiHandlerOptions options = ApiHandlerTest::HandlerOptions();
    options.bearer_tokens = {{kToken, "admin"}};
    return options;
  }

  ApiResponse SendAs(const std::string& authorization,
                     const std::string& method, const std::string& target,
                     const std::string& body = "") {
    std::map<std::string, std::string> headers = {
        {"content-type", "application/json"}};
    if (!authorization.empty()) headers["authorization"] = authorization;
    return Send(method, target, body, headers);
  }
};

TEST_F(AuthenticationTest, ValidTokenIsServed) {
  ApiResponse created = SendAs(std::string("Bearer ") + kToken, "POST",
                               kSecrets, SecretJson("s1"));
  ApiResponse lower_case_scheme =
      SendAs(std::string("bearer ") + kToken, "GET", kSecrets);

  EXPECT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(lower_case_scheme.status, 200) << lower_case_scheme.body;
}

TEST_F(AuthenticationTest, WrongTokenIsUnauthorized) {
  const int64_t revision = store_->CurrentRevision();

  ApiResponse wrong =
      SendAs("Bearer not-the-token", "POST", kSecrets, SecretJson("s1"));
  // Two spaces leave an empty token; "Bearer " alone trims to no
  // credentials at all.
  ApiResponse empty = SendAs("Bearer  x", "GET", kSecrets);
  ApiResponse scheme_only = SendAs("Bearer ", "GET", kSecrets);
  ApiResponse health = SendAs("Bearer not-the-token", "GET", "/healthz");

  for (const ApiResponse* response : {&wrong, &empty, &health}) {
    EXPECT_EQ(response->status, 401);
    EXPECT_EQ(Body(*response),
              Json::parse(R"({"kind":"Status","apiVersion":"v1",)"
                          R"("metadata":{},"status":"Failure",)"
                          R"("message":"Unauthorized","reason":)"
                          R"("Unauthorized","code":401})"));
  }
  EXPECT_EQ(scheme_only.status, 403);
  EXPECT_EQ(store_->CurrentRevision(), revision);
}

TEST_F(AuthenticationTest, AnonymousReadsOnlyHealthAndVersion) {
  EXPECT_EQ(SendAs("", "GET", "/healthz").status, 200);
  EXPECT_EQ(SendAs("", "GET", "/readyz/ping").status, 200);
  EXPECT_EQ(SendAs("", "GET", "/livez").status, 200);
  EXPECT_EQ(SendAs("", "GET", "/version").status, 200);
  // Another scheme counts as no credentials, as upstream.
  EXPECT_EQ(SendAs("Basic YWRtaW46YWRtaW4=", "GET", "/version").status, 200);

  ApiResponse api = SendAs("", "GET", "/api");
  EXPECT_EQ(api.status, 403);
  EXPECT_EQ(Body(api)["message"],
            "forbidden: User \"system:anonymous\" cannot get path \"/api\"");
  EXPECT_EQ(Body(api)["reason"], "Forbidden");
}

TEST_F(AuthenticationTest, AnonymousResourceRequestsAreForbidden) {
  const int64_t revision = store_->CurrentRevision();
  struct Case {
    std::string method;
    std::string target;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"GET", std::string(kSecrets) + "/s1",
       "secrets \"s1\" is forbidden: User \"system:anonymous\" cannot get "
       "resource \"secrets\" in API group \"\" in the namespace \"default\""},
      {"GET", kSecrets,
       "secrets is forbidden: User \"system:anonymous\" cannot list resource "
       "\"secrets\" in API group \"\" in the namespace \"default\""},
      {"GET", "/api/v1/secrets?watch=true",
       "secrets is forbidden: User \"system:anonymous\" cannot watch "
       "resource \"secrets\" in API group \"\" at the cluster scope"},
      {"POST", kSecrets,
       "secrets is forbidden: User \"system:anonymous\" cannot create "
       "resource \"secrets\" in API group \"\" in the namespace \"default\""},
      {"DELETE", kSecrets,
       "secrets is forbidden: User \"system:anonymous\" cannot "
       "deletecollection resource \"secrets\" in API group \"\" in the "
       "namespace \"default\""},
      {"GET", "/api/v1/namespaces/kube-system",
       "namespaces \"kube-system\" is forbidden: User \"system:anonymous\" "
       "cannot get resource \"namespaces\" in API group \"\" in the "
       "namespace \"kube-system\""},
  };

  for (const Case& c : cases) {
    ApiResponse response = SendAs("", c.method, c.target, SecretJson("s1"));
    EXPECT_EQ(response.status, 403) << c.method << " " << c.target;
    EXPECT_EQ(Body(response)["reason"], "Forbidden") << c.target;
    EXPECT_EQ(Body(response)["message"], c.message) << c.target;
    EXPECT_EQ(Body(response)["details"]["kind"],
              c.target.find("namespaces/kube-system") != std::string::npos
                  ? "namespaces"
                  : "secrets")
        << c.target;
  }
  EXPECT_EQ(store_->CurrentRevision(), revision);
}

TEST_F(AuthenticationTest, KubeconfigCarriesTokenAndCa) {
  base::SystemClock wall_clock;
  HttpServerOptions options;
  options.ca_pem = "-----BEGIN CERTIFICATE-----\nnot used for serving\n";
  auto server = HttpServer::Start(*handler_, wall_clock, random_, options);
  ASSERT_TRUE(server.ok()) << server.status();

  const std::string config = (*server)->Kubeconfig(kToken);
  HttpsResponse anonymous = HttpsRequest((*server)->port(), "GET", kSecrets);
  HttpsResponse admin =
      HttpsRequest((*server)->port(), "GET", kSecrets, "",
                   {{"authorization", std::string("Bearer ") + kToken}});

  EXPECT_THAT(config, HasSubstr("    token: the-admin-token\n"));
  EXPECT_THAT(config, HasSubstr("    server: " + (*server)->url() + "\n"));
  EXPECT_THAT(config, HasSubstr("certificate-authority-data: " +
                                base::Base64Encode(options.ca_pem) + "\n"));
  EXPECT_EQ(anonymous.status, 403) << anonymous.error;
  EXPECT_EQ(admin.status, 200) << admin.error;
}

// Sends one plain HTTP/1.1 request and returns the status and body.
std::pair<int, std::string> PlainHttpRequest(uint16_t port,
                                             const std::string& target) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  namespace net = boost::asio;
  net::io_context context;
  beast::tcp_stream stream(context);
  stream.connect(
      net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  http::request<http::string_body> request(http::verb::get, target, 11);
  request.set(http::field::host, "127.0.0.1");
  http::write(stream, request);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(stream, buffer, response);
  return {response.result_int(), response.body()};
}

TEST_F(ApiHandlerTest, PlainHttpOnlyWhenAsked) {
  base::SystemClock wall_clock;
  HttpServerOptions options;
  options.tls = false;
  auto plain = HttpServer::Start(*handler_, wall_clock, random_, options);
  ASSERT_TRUE(plain.ok()) << plain.status();
  auto tls = HttpServer::Start(*handler_, wall_clock, random_, {});
  ASSERT_TRUE(tls.ok()) << tls.status();

  auto [status, body] = PlainHttpRequest((*plain)->port(), "/version");
  HttpsResponse tls_to_plain =
      HttpsRequest((*plain)->port(), "GET", "/version");

  EXPECT_EQ(status, 200);
  EXPECT_EQ(Json::parse(body)["gitVersion"], "v1.32.0");
  EXPECT_EQ((*plain)->url(),
            "http://127.0.0.1:" + std::to_string((*plain)->port()));
  EXPECT_EQ((*plain)->certificate_pem(), "");
  EXPECT_THAT((*plain)->Kubeconfig(),
              testing::Not(HasSubstr("certificate-authority-data")));
  EXPECT_EQ(tls_to_plain.status, 0);
  EXPECT_EQ((*tls)->url(),
            "https://127.0.0.1:" + std::to_string((*tls)->port()));
  EXPECT_THROW(PlainHttpRequest((*tls)->port(), "/version"),
               boost::system::system_error);
}

// A write's handler waits for the store's sync, and must not hold up the
// requests of other connections, even with a single I/O thread.
TEST(HttpServerThreads, WaitingWriteLeavesOtherConnectionsServed) {
  std::promise<void> waiting_started;
  std::promise<void> other_served;
  std::shared_future<void> other_served_future =
      other_served.get_future().share();
  RequestHandler handler = [&](const ApiRequest& request) {
    ApiResponse response;
    if (request.target == "/wait") {
      waiting_started.set_value();
      // Bounded, so that a server that runs one handler at a time fails
      // the test instead of hanging it.
      const bool served =
          other_served_future.wait_for(std::chrono::seconds(30)) ==
          std::future_status::ready;
      response.status = served ? 200 : 504;
    } else if (request.target == "/other") {
      other_served.set_value();
    }
    return response;
  };
  base::SystemClock wall_clock;
  base::SecureRandom random;
  HttpServerOptions options;
  options.threads = 1;
  auto server = HttpServer::Start(handler, wall_clock, random, options);
  ASSERT_TRUE(server.ok()) << server.status();
  const uint16_t port = (*server)->port();

  HttpsResponse waiting;
  std::thread waiting_client(
      [&] { waiting = HttpsRequest(port, "PUT", "/wait", "{}"); });
  waiting_started.get_future().wait();
  HttpsResponse other = HttpsRequest(port, "POST", "/other", "{}");
  HttpsResponse read = HttpsRequest(port, "GET", "/read");
  waiting_client.join();

  EXPECT_EQ(other.status, 200) << other.error;
  EXPECT_EQ(read.status, 200) << read.error;
  EXPECT_EQ(waiting.status, 200) << waiting.error;
}

}  // namespace
}  // namespace apiserver
