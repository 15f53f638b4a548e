// A blocking HTTPS/1.1 client for tests: one request per connection, no
// certificate verification (the tests talk to their own server on
// 127.0.0.1).
#ifndef TESTS_APISERVER_HTTPS_CLIENT_H_
#define TESTS_APISERVER_HTTPS_CLIENT_H_

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace apiserver {

struct HttpsResponse {
  int status = 0;  // 0 when the request failed before a response came
  std::string content_type;
  std::vector<std::string> warnings;  // values of Warning headers
  std::string body;
  std::string error;  // set when status is 0
};

// Sends one request and reads the response. With `declared_length` set,
// the request declares that Content-Length but sends only `body`, for
// checks that the server rejects a size from the header alone.
inline HttpsResponse HttpsRequest(
    uint16_t port, const std::string& method, const std::string& target,
    const std::string& body = "",
    const std::map<std::string, std::string>& headers = {},
    std::optional<size_t> declared_length = std::nullopt) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  namespace net = boost::asio;
  namespace ssl = net::ssl;
  HttpsResponse result;
  try {
    net::io_context context;
    ssl::context tls(ssl::context::tls_client);
    tls.set_verify_mode(ssl::verify_none);
    beast::ssl_stream<beast::tcp_stream> stream(context, tls);
    beast::get_lowest_layer(stream).connect(
        net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    stream.handshake(ssl::stream_base::client);

    http::request<http::string_body> request(http::string_to_verb(method),
                                             target, 11);
    request.set(http::field::host, "127.0.0.1");
    for (const auto& [name, value] : headers) request.set(name, value);
    request.body() = body;
    request.prepare_payload();
    if (declared_length.has_value()) {
      request.content_length(*declared_length);
      http::request_serializer<http::string_body> serializer(request);
      http::write_header(stream, serializer);
      net::write(stream, net::buffer(body));
    } else {
      http::write(stream, request);
    }

    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    http::read(stream, buffer, parser);
    const auto& response = parser.get();
    result.status = response.result_int();
    result.content_type = std::string(response[http::field::content_type]);
    for (const auto& field : response) {
      if (beast::iequals(field.name_string(), "Warning")) {
        result.warnings.emplace_back(field.value());
      }
    }
    result.body = response.body();
  } catch (const std::exception& error) {
    result.error = error.what();
  }
  return result;
}

}  // namespace apiserver

#endif  // TESTS_APISERVER_HTTPS_CLIENT_H_
