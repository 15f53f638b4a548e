// A blocking HTTP/1.1 test client for kms-mock's server: one keep-alive
// connection to 127.0.0.1, with the Key Protect headers set by default.
#ifndef TESTS_KMS_HTTP_CLIENT_H_
#define TESTS_KMS_HTTP_CLIENT_H_

#include <boost/asio/connect.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <string>

namespace kms::testing {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

struct RequestOptions {
  std::string token = "admin";
  std::string instance = "inst-1";
  std::string content_type = "application/json";
};

class Client {
 public:
  explicit Client(uint16_t port) : stream_(context_) {
    stream_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  }

  // Returns the error of a fresh connection attempt to `port`; success when
  // something listens there.
  static beast::error_code Connect(uint16_t port) {
    net::io_context context;
    tcp::socket socket(context);
    beast::error_code error;
    socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port),
                   error);
    return error;
  }

  // Sends a request without reading the response.
  void Write(http::verb method, const std::string& target,
             const std::string& body = "", const RequestOptions& options = {}) {
    http::request<http::string_body> request{method, target, 11};
    request.set(http::field::host, "127.0.0.1");
    if (!options.token.empty()) {
      request.set(http::field::authorization, "Bearer " + options.token);
    }
    if (!options.instance.empty()) {
      request.set("bluemix-instance", options.instance);
    }
    if (!options.content_type.empty()) {
      request.set(http::field::content_type, options.content_type);
    }
    request.body() = body;
    request.prepare_payload();
    http::write(stream_, request);
  }

  http::response<http::string_body> Send(http::verb method,
                                         const std::string& target,
                                         const std::string& body = "",
                                         const RequestOptions& options = {}) {
    Write(method, target, body, options);
    return Read();
  }

  // Sends raw bytes, for requests that http::request cannot express.
  void WriteRaw(const std::string& bytes) {
    net::write(stream_, net::buffer(bytes));
  }

  http::response<http::string_body> Read() {
    http::response<http::string_body> response;
    http::read(stream_, buffer_, response);
    return response;
  }

  // True when the server closed or reset the connection before sending
  // anything more.
  bool ServerClosed() {
    http::response<http::string_body> response;
    beast::error_code error;
    http::read(stream_, buffer_, response, error);
    return error == http::error::end_of_stream || error == net::error::eof ||
           error == net::error::connection_reset;
  }

  // Bytes received and not read yet.
  size_t Available() { return buffer_.size() + stream_.socket().available(); }

  beast::tcp_stream& stream() { return stream_; }
  beast::flat_buffer& buffer() { return buffer_; }

 private:
  net::io_context context_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
};

}  // namespace kms::testing

#endif  // TESTS_KMS_HTTP_CLIENT_H_
