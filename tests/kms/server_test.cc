#include "kms-mock/server.h"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "base/clock.h"
#include "base/random.h"
#include "kms-mock/api.h"
#include "kms-mock/kms.h"

namespace kms {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Json = nlohmann::json;

const base::Time kStart = base::Time(
    std::chrono::sys_days{std::chrono::year{2026} / std::chrono::January / 1});

// A blocking HTTP/1.1 client on one keep-alive connection.
class Client {
 public:
  explicit Client(uint16_t port) : stream_(context_) {
    stream_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  }

  http::response<http::string_body> Send(http::verb method,
                                         const std::string& target,
                                         const std::string& body = "",
                                         const std::string& token = "admin") {
    http::request<http::string_body> request{method, target, 11};
    request.set(http::field::host, "127.0.0.1");
    request.set(http::field::authorization, "Bearer " + token);
    request.set("bluemix-instance", "inst-1");
    request.set(http::field::content_type, "application/json");
    request.body() = body;
    request.prepare_payload();
    http::write(stream_, request);
    return Read();
  }

  // Sends only a header that announces a body of `length` bytes.
  void SendHeaderOnly(const std::string& target, size_t length) {
    std::string header = "POST " + target +
                         " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         "Authorization: Bearer admin\r\n"
                         "bluemix-instance: inst-1\r\n"
                         "Content-Length: " +
                         std::to_string(length) + "\r\n\r\n";
    net::write(stream_, net::buffer(header));
  }

  http::response<http::string_body> Read() {
    http::response<http::string_body> response;
    http::read(stream_, buffer_, response);
    return response;
  }

  // True when the server has closed its side of the connection.
  bool ServerClosed() {
    http::response<http::string_body> response;
    beast::error_code error;
    http::read(stream_, buffer_, response, error);
    return error == http::error::end_of_stream || error == net::error::eof;
  }

 private:
  net::io_context context_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
};

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(
        service_.CreateInstance("i", InstanceType::kKeyProtect, "inst-1").ok());
    base::StatusOr<std::unique_ptr<Server>> server = Server::Start(api_, {});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(server).value();
  }

  base::SimulatedClock clock_{kStart};
  base::SeededRandom random_{9};
  KeyService service_{clock_, random_};
  KeyProtectApi api_{service_, clock_, {{"admin", {Role::kManager, {}, ""}}}};
  std::unique_ptr<Server> server_;
};

TEST_F(ServerTest, WrapsAndUnwrapsOverOneConnection) {
  Client client(server_->port());
  Json create = {{"metadata",
                  {{"collectionType", "application/vnd.ibm.kms.key+json"},
                   {"collectionTotal", 1}}},
                 {"resources", {{{"name", "crk"}, {"extractable", false}}}}};

  auto created = client.Send(http::verb::post, "/api/v2/keys", create.dump());
  ASSERT_EQ(created.result_int(), 201) << created.body();
  std::string id = Json::parse(created.body())["resources"][0]["id"];
  auto wrapped =
      client.Send(http::verb::post, "/api/v2/keys/" + id + "/actions/wrap", "");
  ASSERT_EQ(wrapped.result_int(), 200) << wrapped.body();
  Json wrap = Json::parse(wrapped.body());
  Json unwrap_body = {{"ciphertext", wrap["ciphertext"]}};
  auto unwrapped =
      client.Send(http::verb::post, "/api/v2/keys/" + id + "/actions/unwrap",
                  unwrap_body.dump());

  ASSERT_EQ(unwrapped.result_int(), 200) << unwrapped.body();
  EXPECT_EQ(Json::parse(unwrapped.body())["plaintext"], wrap["plaintext"]);
  EXPECT_EQ(unwrapped[http::field::content_type], "application/json");
}

TEST_F(ServerTest, UnknownTokenIsUnauthorized) {
  Client client(server_->port());

  auto response =
      client.Send(http::verb::get, "/api/v2/keys", "", "not-a-token");

  EXPECT_EQ(response.result_int(), 401);
  EXPECT_EQ(Json::parse(response.body())["resources"][0]["reasons"][0]["code"],
            "UNAUTHORIZED_ERR");
}

TEST_F(ServerTest, OversizedBodyIsRejectedAndConnectionClosed) {
  Client client(server_->port());

  client.SendHeaderOnly("/api/v2/keys", kMaxRequestBodyBytes + 1);
  auto response = client.Read();

  EXPECT_EQ(response.result_int(), 400);
  Json reason = Json::parse(response.body())["resources"][0]["reasons"][0];
  EXPECT_EQ(reason["code"], "BAD_BODY_ERR");
  EXPECT_EQ(reason["target"]["name"], "body");
  EXPECT_TRUE(client.ServerClosed());
  EXPECT_TRUE(service_.ListKeys("inst-1")->empty());
}

TEST_F(ServerTest, BodyAtLimitIsRead) {
  Client client(server_->port());
  std::string body(kMaxRequestBodyBytes, ' ');
  body.front() = '{';
  body.back() = '}';

  auto response = client.Send(http::verb::post, "/api/v2/keys", body);

  // An empty object has no metadata, so the API rejects it after reading.
  EXPECT_EQ(response.result_int(), 400);
  EXPECT_EQ(Json::parse(response.body())["resources"][0]["reasons"][0]["code"],
            "BAD_BODY_ERR");
}

TEST_F(ServerTest, StopIsIdempotentAndClosesConnections) {
  uint16_t port = server_->port();
  Client open_client(port);
  ASSERT_EQ(open_client.Send(http::verb::get, "/api/v2/keys").result_int(),
            200);

  server_->Stop();
  server_->Stop();

  EXPECT_TRUE(open_client.ServerClosed());

  net::io_context context;
  tcp::socket socket(context);
  beast::error_code error;
  socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port),
                 error);
  EXPECT_TRUE(error);
}

TEST_F(ServerTest, StartRejectsBadAddressAndBusyPort) {
  ServerOptions bad;
  bad.address = "not-an-address";
  ServerOptions busy;
  busy.port = server_->port();

  EXPECT_EQ(Server::Start(api_, bad).status().code(),
            base::Code::kInvalidArgument);
  EXPECT_EQ(Server::Start(api_, busy).status().code(),
            base::Code::kUnavailable);
}

}  // namespace
}  // namespace kms
