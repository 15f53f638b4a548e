#include "apiserver/kms_http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>
#include <utility>

#include "base/crypto.h"

namespace apiserver {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Json = nlohmann::json;

constexpr int kActiveState = 1;

struct HttpResult {
  int status = 0;
  Json body;
};

// Maps a Key Protect HTTP status to the code a caller should act on.
base::Code CodeForHttpStatus(int status) {
  switch (status) {
    case 400:
      return base::Code::kInvalidArgument;
    case 401:
      return base::Code::kUnauthenticated;
    case 403:
      return base::Code::kPermissionDenied;
    case 404:
    case 410:
      return base::Code::kNotFound;
    case 409:
      return base::Code::kFailedPrecondition;
    case 422:
      return base::Code::kInvalidArgument;
    case 429:
      return base::Code::kResourceExhausted;
    default:
      return status >= 500 ? base::Code::kUnavailable : base::Code::kInternal;
  }
}

// Turns Key Protect's error body into a Status carrying its reason code.
base::Status ErrorFromBody(int status, const Json& body) {
  std::string message = "Key Protect returned HTTP " + std::to_string(status);
  std::string reason;
  if (body.is_object() && body.contains("resources") &&
      body["resources"].is_array() && !body["resources"].empty()) {
    const Json& resource = body["resources"][0];
    if (resource.contains("reasons") && resource["reasons"].is_array() &&
        !resource["reasons"].empty()) {
      const Json& first = resource["reasons"][0];
      reason = first.value("code", "");
      message = first.value("message", message);
    } else {
      message = resource.value("errorMsg", message);
    }
  }
  return base::Status(CodeForHttpStatus(status), message, reason);
}

class KeyProtectHttpClient : public KmsClient {
 public:
  explicit KeyProtectHttpClient(KeyProtectEndpoint endpoint)
      : endpoint_(std::move(endpoint)) {}

  base::StatusOr<KmsEncryptResponse> Encrypt(
      const std::string& uid, const std::string& plaintext) override {
    ASSIGN_OR_RETURN(Json body,
                     Call(http::verb::post, KeyPath() + "/actions/wrap",
                          Json{{"plaintext", base::Base64Encode(plaintext)}}));
    base::StatusOr<std::string> ciphertext =
        base::Base64Decode(body.value("ciphertext", ""));
    const std::string version =
        body.value("keyVersion", Json::object()).value("id", "");
    if (!ciphertext.ok() || ciphertext->empty() || version.empty()) {
      return base::InternalError(
          "Key Protect wrap response has no ciphertext or keyVersion.id");
    }
    KmsEncryptResponse response;
    response.ciphertext = std::move(*ciphertext);
    response.key_id = endpoint_.key_id + ":" + version;
    return response;
  }

  base::StatusOr<std::string> Decrypt(const std::string& uid,
                                      const std::string& ciphertext,
                                      const std::string& key_id) override {
    if (!key_id.starts_with(endpoint_.key_id + ":")) {
      return base::InvalidArgumentError("key_id \"" + key_id +
                                        "\" does not belong to root key \"" +
                                        endpoint_.key_id + "\"");
    }
    ASSIGN_OR_RETURN(
        Json body, Call(http::verb::post, KeyPath() + "/actions/unwrap",
                        Json{{"ciphertext", base::Base64Encode(ciphertext)}}));
    base::StatusOr<std::string> plaintext =
        base::Base64Decode(body.value("plaintext", ""));
    if (!plaintext.ok() || plaintext->empty()) {
      return base::InternalError(
          "Key Protect unwrap response has no plaintext");
    }
    return std::move(*plaintext);
  }

  KmsStatusResponse Status() override {
    KmsStatusResponse response;
    base::StatusOr<Json> body = Call(http::verb::get, KeyPath(), nullptr);
    if (!body.ok()) {
      response.error = body.status().message();
      return response;
    }
    const Json key = body->value("resources", Json::array()).empty()
                         ? Json::object()
                         : (*body)["resources"][0];
    const std::string version =
        key.value("keyVersion", Json::object()).value("id", "");
    if (!version.empty()) response.key_id = endpoint_.key_id + ":" + version;
    const int state = key.value("state", 0);
    if (state != kActiveState) {
      response.error = "root key " + endpoint_.key_id + " is in state " +
                       std::to_string(state) + ", not Active (1)";
      return response;
    }
    response.healthy = !version.empty();
    if (!response.healthy) {
      response.error = "Key Protect key response has no keyVersion.id";
    }
    return response;
  }

 private:
  std::string KeyPath() const { return "/api/v2/keys/" + endpoint_.key_id; }

  std::string Address() const {
    return "http://" + endpoint_.host + ":" + std::to_string(endpoint_.port);
  }

  // Sends one request on a new connection and returns the JSON body of a
  // 2xx response, or the error that the status and body describe.
  base::StatusOr<Json> Call(http::verb method, const std::string& target,
                            const Json& body) {
    net::io_context context;
    tcp::resolver resolver(context);
    beast::tcp_stream stream(context);
    beast::error_code error;
    http::response<http::string_body> response;

    stream.expires_after(endpoint_.timeout);
    auto endpoints =
        resolver.resolve(endpoint_.host, std::to_string(endpoint_.port), error);
    if (!error) stream.connect(endpoints, error);
    if (!error) {
      http::request<http::string_body> request{method, target, 11};
      request.set(http::field::host, endpoint_.host);
      request.set(http::field::authorization, "Bearer " + endpoint_.token);
      request.set("bluemix-instance", endpoint_.instance_id);
      request.set(http::field::accept, "application/json");
      if (!body.is_null()) {
        request.set(http::field::content_type, "application/json");
        request.body() =
            body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      }
      request.prepare_payload();
      http::write(stream, request, error);
    }
    beast::flat_buffer buffer;
    if (!error) http::read(stream, buffer, response, error);
    if (error) {
      return base::UnavailableError("failed to reach Key Protect at " +
                                    Address() + target + ": " +
                                    error.message());
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);

    const int status = static_cast<int>(response.result_int());
    Json parsed = Json::parse(response.body(), nullptr, false);
    if (status < 200 || status >= 300) return ErrorFromBody(status, parsed);
    if (parsed.is_discarded() || !parsed.is_object()) {
      return base::InternalError(
          "Key Protect returned a body that is not "
          "a JSON object for " +
          target);
    }
    return parsed;
  }

  const KeyProtectEndpoint endpoint_;
};

}  // namespace

std::unique_ptr<KmsClient> NewKeyProtectHttpClient(
    KeyProtectEndpoint endpoint) {
  return std::make_unique<KeyProtectHttpClient>(std::move(endpoint));
}

}  // namespace apiserver
