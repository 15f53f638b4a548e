// A small blocking HTTP/1.1 client for gateway tests: one request per
// connection, plus a reader for chunked streams that stay open (etcd's
// /v3/watch) which returns once it has a number of lines.
#ifndef TESTS_ETCD_HTTP_CLIENT_H_
#define TESTS_ETCD_HTTP_CLIENT_H_

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace etcd::testing {

struct HttpReply {
  int status = 0;
  std::string body;
};

// Deadline for every socket operation, so that a broken server fails the
// test instead of hanging it.
inline constexpr std::chrono::seconds kIoTimeout(10);

inline HttpReply HttpPost(uint16_t port, const std::string& path,
                          const std::string& body,
                          const std::string& method = "POST") {
  namespace beast = boost::beast;
  namespace http = beast::http;
  boost::asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.expires_after(kIoTimeout);
  stream.connect(boost::asio::ip::tcp::endpoint(
      boost::asio::ip::make_address("127.0.0.1"), port));
  http::request<http::string_body> request(http::string_to_verb(method), path,
                                           11);
  request.set(http::field::host, "127.0.0.1");
  request.set(http::field::content_type, "application/json");
  request.keep_alive(false);
  request.body() = body;
  request.prepare_payload();
  http::write(stream, request);

  // Read asynchronously so that kIoTimeout applies; Beast's timeouts do
  // not cover synchronous reads.
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  beast::error_code ec = boost::asio::error::timed_out;
  http::async_read(stream, buffer, response,
                   [&ec](beast::error_code result, size_t) { ec = result; });
  ioc.run();
  if (ec) return {0, "read failed: " + ec.message()};
  return {static_cast<int>(response.result_int()), response.body()};
}

// Sends `bytes` as they are, which need not be valid HTTP, and returns
// everything the server sends until it closes the connection or kIoTimeout
// passes.
inline std::string HttpRaw(uint16_t port, const std::string& bytes) {
  namespace beast = boost::beast;
  boost::asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.expires_after(kIoTimeout);
  stream.connect(boost::asio::ip::tcp::endpoint(
      boost::asio::ip::make_address("127.0.0.1"), port));
  boost::asio::write(stream, boost::asio::buffer(bytes));

  std::string received;
  char buffer[4096];
  std::function<void(beast::error_code, size_t)> on_read =
      [&](beast::error_code ec, size_t n) {
        received.append(buffer, n);
        if (!ec) stream.async_read_some(boost::asio::buffer(buffer), on_read);
      };
  stream.async_read_some(boost::asio::buffer(buffer), on_read);
  ioc.run();
  return received;
}

// An open streaming request whose body lines are read as they arrive.
class HttpStream {
 public:
  // Sends `body` whole, with a Content-Length.
  HttpStream(uint16_t port, const std::string& path, const std::string& body)
      : stream_(ioc_) {
    Connect(port);
    Write("POST " + path +
          " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
          "Content-Type: application/json\r\n"
          "Content-Length: " +
          std::to_string(body.size()) + "\r\n\r\n" + body);
  }

  // Starts a chunked request body that stays open; add to it with
  // SendChunk and end it with EndBody.
  HttpStream(uint16_t port, const std::string& path) : stream_(ioc_) {
    Connect(port);
    Write("POST " + path +
          " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
          "Content-Type: application/json\r\n"
          // Without it, etcd's Go server delays replies until the body ends.
          "Expect: 100-continue\r\n"
          "Transfer-Encoding: chunked\r\n\r\n");
  }

  void SendChunk(const std::string& data) {
    char size[20];
    std::snprintf(size, sizeof(size), "%zx\r\n", data.size());
    Write(size + data + "\r\n");
  }

  void EndBody() { Write("0\r\n\r\n"); }

  // Returns the HTTP status, reading the response header if needed.
  int Status() {
    while (header_end_ == std::string::npos && ReadMore()) {
    }
    if (header_end_ == std::string::npos) return 0;
    return std::stoi(raw_.substr(9, 3));
  }

  // Returns the next `count` body lines (without their newlines); fewer if
  // the stream ends or stalls for kIoTimeout.
  std::vector<std::string> ReadLines(size_t count) {
    std::vector<std::string> lines;
    while (lines.size() < count) {
      Decode();
      size_t newline = body_.find('\n');
      if (newline != std::string::npos) {
        lines.push_back(body_.substr(0, newline));
        body_.erase(0, newline + 1);
        continue;
      }
      if (!ReadMore()) break;
    }
    return lines;
  }

 private:
  void Connect(uint16_t port) {
    stream_.expires_after(kIoTimeout);
    stream_.connect(boost::asio::ip::tcp::endpoint(
        boost::asio::ip::make_address("127.0.0.1"), port));
  }

  void Write(const std::string& bytes) {
    stream_.expires_after(kIoTimeout);
    boost::asio::write(stream_, boost::asio::buffer(bytes));
  }

  bool ReadMore() {
    char buffer[4096];
    boost::beast::error_code ec = boost::asio::error::timed_out;
    size_t n = 0;
    // Asynchronous, so that the stream's timeout applies.
    stream_.expires_after(kIoTimeout);
    stream_.async_read_some(
        boost::asio::buffer(buffer),
        [&](boost::beast::error_code result, size_t received) {
          ec = result;
          n = received;
        });
    ioc_.restart();
    ioc_.run();
    if (ec) return false;
    raw_.append(buffer, n);
    if (header_end_ == std::string::npos) {
      size_t end = raw_.find("\r\n\r\n");
      // Skip an interim "100 Continue" response.
      while (end != std::string::npos && raw_.starts_with("HTTP/1.1 100")) {
        raw_.erase(0, end + 4);
        end = raw_.find("\r\n\r\n");
      }
      if (end != std::string::npos) {
        header_end_ = end + 4;
        chunked_ = raw_.substr(0, end).find("chunked") != std::string::npos;
        pending_ = raw_.substr(header_end_);
      }
    } else {
      pending_.append(buffer, n);
    }
    return true;
  }

  // Moves complete chunks from pending_ to body_.
  void Decode() {
    if (!chunked_) {
      body_ += pending_;
      pending_.clear();
      return;
    }
    while (true) {
      size_t line_end = pending_.find("\r\n");
      if (line_end == std::string::npos) return;
      size_t size = std::stoul(pending_.substr(0, line_end), nullptr, 16);
      if (pending_.size() < line_end + 2 + size + 2) return;
      body_ += pending_.substr(line_end + 2, size);
      pending_.erase(0, line_end + 2 + size + 2);
      if (size == 0) return;
    }
  }

  boost::asio::io_context ioc_;
  boost::beast::tcp_stream stream_;
  std::string raw_;
  size_t header_end_ = std::string::npos;
  bool chunked_ = false;
  std::string pending_;
  std::string body_;
};

}  // namespace etcd::testing

#endif  // TESTS_ETCD_HTTP_CLIENT_H_
