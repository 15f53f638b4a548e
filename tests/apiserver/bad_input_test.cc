// Bad request bodies and paths: each gets upstream's Status code, reason
// and message, and nothing reaches the store.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "apiserver/http_server.h"
#include "base/crypto.h"
#include "tests/apiserver/handler_env.h"
#include "tests/apiserver/https_client.h"

namespace apiserver {
namespace {

using ::testing::StartsWith;

constexpr char kScheme[] =
    "\"k8s.io/kubernetes/pkg/api/legacyscheme/scheme.go:30\"";

class BadInputTest : public ApiHandlerTest {
 protected:
  struct Case {
    std::string name;  // what the case sends, for failure messages
    std::string method = "POST";
    std::string target = kSecrets;
    std::string body;
    std::string content_type = "application/json";
    int code = 400;
    std::string reason = "BadRequest";
    std::string message;  // exact, or a prefix when prefix_only
    bool prefix_only = false;
  };

  // Sends the case and checks its Status and that the store did not change.
  void Check(const Case& c) {
    const int64_t revision = store_->CurrentRevision();

    ApiResponse response =
        Send(c.method, c.target, c.body, {{"content-type", c.content_type}});

    Json status = Body(response);
    EXPECT_EQ(response.status, c.code) << c.name;
    EXPECT_EQ(status["kind"], "Status") << c.name;
    EXPECT_EQ(status["status"], "Failure") << c.name;
    EXPECT_EQ(status["code"], c.code) << c.name;
    EXPECT_EQ(status["reason"], c.reason) << c.name;
    if (c.prefix_only) {
      EXPECT_THAT(status["message"].get<std::string>(), StartsWith(c.message))
          << c.name;
    } else {
      EXPECT_EQ(status["message"], c.message) << c.name;
    }
    EXPECT_EQ(store_->CurrentRevision(), revision) << c.name;
  }

  static std::string SecretBody(const Json& changes) {
    Json secret = {{"apiVersion", "v1"},
                   {"kind", "Secret"},
                   {"metadata", {{"name", "bad"}}},
                   {"data", {{"a", "YQ=="}}}};
    if (changes.is_object()) secret.merge_patch(changes);
    return secret.dump();
  }
};

TEST_F(BadInputTest, MalformedJsonIsBadRequest) {
  const std::string truncated = R"({"apiVersion": "v1", "kind": "Secret", )"
                                R"("metadata": {"name": "bad")";
  Check({.name = "truncated JSON",
         .body = truncated,
         .message = "the object provided is unrecognized (must be of type "
                    "Secret): couldn't get version/kind; json parse error: "
                    "unexpected end of JSON input (" +
                    truncated.substr(0, 30) + " ...)"});
  Check({.name = "not JSON",
         .body = "hello",
         .message = "the object provided is unrecognized (must be of type "
                    "Secret): couldn't get version/kind; json parse error: "
                    "invalid character 'h' looking for beginning of value "
                    "(68656c6c6f)"});
  Check({.name = "misspelled null",
         .body = "nxll",
         .message = "the object provided is unrecognized (must be of type "
                    "Secret): couldn't get version/kind; json parse error: "
                    "invalid character 'x' in literal null (expecting 'u') "
                    "(6e786c6c)"});
  Check({.name = "truncated null",
         .body = "nul",
         .message = "the object provided is unrecognized (must be of type "
                    "Secret): couldn't get version/kind; json parse error: "
                    "unexpected end of JSON input (6e756c)"});
  Check({.name = "empty body",
         .body = "",
         .message = "the object provided is unrecognized (must be of type "
                    "Secret): couldn't get version/kind; json parse error: "
                    "unexpected end of JSON input (<empty>)"});
  Check({.name = "JSON array",
         .body = "[]",
         .message =
             "the object provided is unrecognized (must be of type Secret): "
             "couldn't get version/kind; json parse error: json: cannot "
             "unmarshal array into Go value of type struct { APIVersion "
             "string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string "
             "\"json:\\\"kind,omitempty\\\"\" } (5b5d)"});
  Check({.name = "trailing garbage",
         .body = SecretBody({}) + "}",
         .message = "the object provided is unrecognized (must be of type "
                    "Secret): couldn't get version/kind; json parse error: "
                    "invalid character '}' after top-level value (" +
                    SecretBody({}).substr(0, 30) + " ...)"});
}

// Walking a document recurses once per level, so bodies nested deeper than
// base::kMaxJsonDepth are rejected before they are parsed, as Go's decoder
// rejects them past its own limit.
TEST_F(BadInputTest, DeeplyNestedJsonIsBadRequest) {
  const std::string deep = std::string(5000, '[') + std::string(5000, ']');
  Check({.name = "deep create",
         .body = deep,
         .message = "the object provided is unrecognized (must be of type "
                    "Secret): couldn't get version/kind; json parse error: "
                    "exceeded max depth",
         .prefix_only = true});
}

TEST_F(BadInputTest, DeeplyNestedPatchIsBadRequest) {
  ASSERT_EQ(Send("POST", kSecrets, SecretBody({}),
                 {{"content-type", "application/json"}})
                .status,
            201);
  const std::string patch = R"({"data": {"a": )" + std::string(5000, '[') +
                            std::string(5000, ']') + "}}";
  for (const char* type :
       {"application/strategic-merge-patch+json",
        "application/merge-patch+json", "application/json-patch+json"}) {
    Check({.name = type,
           .method = "PATCH",
           .target = std::string(kSecrets) + "/bad",
           .body = patch,
           .content_type = type,
           .message = "",
           .prefix_only = true});
  }
}

TEST_F(BadInputTest, MalformedYamlIsBadRequest) {
  // NOTE: the cause after "yaml: line 4:" is yaml-cpp's wording, not
  // go-yaml's, so only the prefix is compared.
  Check({.name = "unclosed flow sequence",
         .body = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: [bad\n",
         .content_type = "application/yaml",
         .message = "the object provided is unrecognized (must be of type "
                    "Secret): error converting YAML to JSON: yaml: line ",
         .prefix_only = true});
}

TEST_F(BadInputTest, YamlBodyCreatesSecret) {
  ApiResponse created =
      Send("POST", kSecrets,
           "apiVersion: v1\nkind: Secret\nmetadata:\n  name: from-yaml\n"
           "stringData:\n  port: \"8080\"\n",
           {{"content-type", "application/yaml"}});

  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(Body(created)["data"]["port"], base::Base64Encode("8080"));
}

TEST_F(BadInputTest, WrongKindIsBadRequest) {
  Check({.name = "ConfigMap sent to secrets",
         .body = SecretBody({{"kind", "ConfigMap"}}),
         .message = "ConfigMap in version \"v1\" cannot be handled as a "
                    "Secret: converting (k8s.io/api/core/v1).ConfigMap to "
                    "(k8s.io/kubernetes/pkg/apis/core).Secret: unknown "
                    "conversion"});
  Check({.name = "misspelled kind",
         .body = SecretBody({{"kind", "secret"}}),
         .message = "secret in version \"v1\" cannot be handled as a Secret: "
                    "no kind \"secret\" is registered for version \"v1\" in "
                    "scheme " +
                    std::string(kScheme)});
}

TEST_F(BadInputTest, WrongApiVersionIsBadRequest) {
  Check({.name = "apiVersion v2",
         .body = SecretBody({{"apiVersion", "v2"}}),
         .message = "Secret in version \"v2\" cannot be handled as a Secret: "
                    "no kind \"Secret\" is registered for version \"v2\" in "
                    "scheme " +
                    std::string(kScheme)});
  Check({.name = "apiVersion apps/v1",
         .body = SecretBody({{"apiVersion", "apps/v1"}}),
         .message = "Secret in version \"v1\" cannot be handled as a Secret: "
                    "no kind \"Secret\" is registered for version \"apps/v1\" "
                    "in scheme " +
                    std::string(kScheme)});
}

TEST_F(BadInputTest, NameDifferingFromUrlIsBadRequest) {
  Json created = Body(Send("POST", kSecrets, SecretJson("x")));
  Json renamed = created;
  renamed["metadata"]["name"] = "y";

  Check({.name = "PUT with another name",
         .method = "PUT",
         .target = std::string(kSecrets) + "/x",
         .body = renamed.dump(),
         .message = "the name of the object (y) does not match the name on "
                    "the URL (x)"});
  Check({.name = "merge patch that renames",
         .method = "PATCH",
         .target = std::string(kSecrets) + "/x",
         .body = R"({"metadata": {"name": "y"}})",
         .content_type = "application/merge-patch+json",
         .message = "the name of the object (y) does not match the name on "
                    "the URL (x)"});
  EXPECT_EQ(Body(Send("GET", std::string(kSecrets) + "/x")), created);
}

TEST_F(BadInputTest, NamespaceDifferingFromUrlIsBadRequest) {
  Check({.name = "namespace kube-system posted to default",
         .body = SecretBody({{"metadata", {{"namespace", "kube-system"}}}}),
         .message = "the namespace of the provided object does not match the "
                    "namespace sent on the request"});
}

TEST_F(BadInputTest, InvalidBase64IsBadRequest) {
  Check({.name = "character outside the alphabet",
         .body = SecretBody({{"data", {{"a", "YQ=!"}}}}),
         .message = "Secret in version \"v1\" cannot be handled as a Secret: "
                    "illegal base64 data at input byte 2"});
  Check({.name = "truncated quantum",
         .body = SecretBody({{"data", {{"a", "YWJjZ"}}}}),
         .message = "Secret in version \"v1\" cannot be handled as a Secret: "
                    "illegal base64 data at input byte 4"});
}

TEST_F(BadInputTest, UnknownNamespaceIsNotFound) {
  Check({.name = "secret in a namespace that does not exist",
         .target = "/api/v1/namespaces/nope/secrets",
         .body = SecretBody({}),
         .code = 404,
         .reason = "NotFound",
         .message = "namespaces \"nope\" not found"});
}

TEST_F(BadInputTest, DataOverOneMebibyteIsInvalid) {
  const std::string big = base::Base64Encode(std::string(1024 * 1024 + 1, 'x'));

  Check({.name = "1 MiB + 1 byte of data",
         .body = SecretBody({{"data", {{"a", big}}}}),
         .code = 422,
         .reason = "Invalid",
         .message = "Secret \"bad\" is invalid: data: Too long: may not be "
                    "more than 1048576 bytes"});
}

TEST_F(BadInputTest, MissingNameIsInvalid) {
  Check({.name = "no metadata.name",
         .body = R"({"apiVersion": "v1", "kind": "Secret", "metadata": {}})",
         .code = 422,
         .reason = "Invalid",
         .message = "Secret \"\" is invalid: metadata.name: Required value: "
                    "name or generateName is required"});
}

// Every kind of bad body sent as an update leaves the stored object as it
// was.
TEST_F(BadInputTest, BadUpdatesLeaveSecretUnchanged) {
  Json created = Body(Send("POST", kSecrets, SecretJson("x")));
  const std::string target = std::string(kSecrets) + "/x";
  Json wrong_kind = created;
  wrong_kind["kind"] = "ConfigMap";
  Json wrong_version = created;
  wrong_version["apiVersion"] = "v2";
  Json bad_base64 = created;
  bad_base64["data"]["password"] = "not base64!";
  Json too_big = created;
  too_big["data"]["password"] =
      base::Base64Encode(std::string(1024 * 1024 + 1, 'x'));

  Check({.name = "PUT of malformed JSON",
         .method = "PUT",
         .target = target,
         .body = "{\"kind\": ",
         .message = "the object provided is unrecognized (must be of type "
                    "Secret): couldn't get version/kind; json parse error: "
                    "unexpected end of JSON input ({\"kind\": )"});
  Check({.name = "PUT of a ConfigMap",
         .method = "PUT",
         .target = target,
         .body = wrong_kind.dump(),
         .message = "ConfigMap in version \"v1\" cannot be handled as a "
                    "Secret: converting (k8s.io/api/core/v1).ConfigMap to "
                    "(k8s.io/kubernetes/pkg/apis/core).Secret: unknown "
                    "conversion"});
  Check({.name = "PUT with apiVersion v2",
         .method = "PUT",
         .target = target,
         .body = wrong_version.dump(),
         .message = "Secret in version \"v2\" cannot be handled as a Secret: "
                    "no kind \"Secret\" is registered for version \"v2\" in "
                    "scheme " +
                    std::string(kScheme)});
  Check({.name = "PUT with invalid base64",
         .method = "PUT",
         .target = target,
         .body = bad_base64.dump(),
         .message = "Secret in version \"v1\" cannot be handled as a Secret: "
                    "illegal base64 data at input byte 3"});
  Check({.name = "PUT over 1 MiB of data",
         .method = "PUT",
         .target = target,
         .body = too_big.dump(),
         .code = 422,
         .reason = "Invalid",
         .message = "Secret \"x\" is invalid: data: Too long: may not be "
                    "more than 1048576 bytes"});
  // Secrets are not created by an update, so the Secret is what is missing.
  Check({.name = "PUT into a namespace that does not exist",
         .method = "PUT",
         .target = "/api/v1/namespaces/nope/secrets/x",
         .body = SecretJson("x"),
         .code = 404,
         .reason = "NotFound",
         .message = "secrets \"x\" not found"});
  Check({.name = "merge patch with invalid base64",
         .method = "PATCH",
         .target = target,
         .body = R"({"data": {"password": "%%%"}})",
         .content_type = "application/merge-patch+json",
         .message = "Secret in version \"v1\" cannot be handled as a Secret: "
                    "illegal base64 data at input byte 0"});
  EXPECT_EQ(Body(Send("GET", target)), created);
}

TEST_F(BadInputTest, StrictValidationRejectsUnknownAndDuplicateFields) {
  Check({.name = "unknown field, Strict",
         .target = std::string(kSecrets) + "?fieldValidation=Strict",
         .body = SecretBody({{"spec", Json::object()}}),
         .message = "Secret in version \"v1\" cannot be handled as a Secret: "
                    "strict decoding error: unknown field \"spec\""});
  Check({.name = "duplicate field, Strict",
         .target = std::string(kSecrets) + "?fieldValidation=Strict",
         .body = R"({"apiVersion": "v1", "kind": "Secret", "metadata": )"
                 R"({"name": "bad", "name": "worse"}})",
         .message = "Secret in version \"v1\" cannot be handled as a Secret: "
                    "strict decoding error: duplicate field "
                    "\"metadata.name\""});
  Check({.name = "unsupported fieldValidation",
         .target = std::string(kSecrets) + "?fieldValidation=Loose",
         .body = SecretBody({}),
         .code = 422,
         .reason = "Invalid",
         .message =
             "CreateOptions.meta.k8s.io \"\" is invalid: "
             "fieldValidation: Unsupported value: \"Loose\": "
             "supported values: \"\", \"Ignore\", \"Strict\", \"Warn\""});
}

TEST_F(BadInputTest, WarnValidationDropsUnknownFields) {
  ApiResponse created = Send(
      "POST", kSecrets,
      SecretBody({{"spec", Json::object()}, {"metadata", {{"bogus", 1}}}}));

  ASSERT_EQ(created.status, 201) << created.body;
  ASSERT_EQ(created.headers.size(), 2u);
  EXPECT_EQ(created.headers[0].first, "Warning");
  EXPECT_EQ(created.headers[0].second,
            "299 - \"unknown field \\\"metadata.bogus\\\"\"");
  EXPECT_EQ(created.headers[1].second, "299 - \"unknown field \\\"spec\\\"\"");
  Json stored = Body(Send("GET", std::string(kSecrets) + "/bad"));
  EXPECT_FALSE(stored.contains("spec"));
  EXPECT_FALSE(stored["metadata"].contains("bogus"));
}

TEST_F(BadInputTest, UnsupportedContentTypeIsRejected) {
  Check({.name = "text/plain body",
         .body = SecretBody({}),
         .content_type = "text/plain",
         .code = 415,
         .reason = "UnsupportedMediaType",
         .message = "the body of the request was in an unknown format - "
                    "accepted media types include: application/json, "
                    "application/yaml, application/vnd.kubernetes.protobuf"});
}

// Names, keys and numbers far over their limits are checked in one pass: a
// recursive regular expression would overflow the stack on them.
TEST_F(BadInputTest, NamesAndKeysOfAMebibyteAreInvalid) {
  const std::string huge(1024 * 1024, 'a');

  Check({.name = "1 MiB Secret name",
         .body = SecretBody({{"metadata", {{"name", huge}}}}),
         .code = 422,
         .reason = "Invalid",
         .message = "Secret \"" + huge +
                    "\" is invalid: metadata.name: "
                    "Invalid value: \"" +
                    huge +
                    "\": must be no more than "
                    "253 characters"});
  Check({.name = "1 MiB namespace name",
         .target = "/api/v1/namespaces",
         .body = Json({{"apiVersion", "v1"},
                       {"kind", "Namespace"},
                       {"metadata", {{"name", huge}}}})
                     .dump(),
         .code = 422,
         .reason = "Invalid",
         .message = "Namespace \"" + huge + "\" is invalid: ",
         .prefix_only = true});
  Check({.name = "1 MiB data key",
         .body = SecretBody({{"data", {{huge, "YQ=="}}}}),
         .code = 422,
         .reason = "Invalid",
         .message = "Secret \"bad\" is invalid: data[" + huge + "]: ",
         .prefix_only = true});
  Check({.name = "1 MiB label value",
         .body = SecretBody({{"metadata", {{"labels", {{"a", huge}}}}}}),
         .code = 422,
         .reason = "Invalid",
         .message = "Secret \"bad\" is invalid: metadata.labels: ",
         .prefix_only = true});
}

// As in go-yaml, a plain number too large for a float64 stays a string.
TEST_F(BadInputTest, YamlNumberOfAMebibyteIsAString) {
  const std::string digits(1024 * 1024, '7');

  ApiResponse created =
      Send("POST", kSecrets,
           "apiVersion: v1\nkind: Secret\nmetadata:\n  name: digits\n"
           "stringData:\n  a: " +
               digits + "\n",
           {{"content-type", "application/yaml"}});

  ASSERT_EQ(created.status, 201) << created.body.substr(0, 300);
  EXPECT_EQ(Body(created)["data"]["a"], base::Base64Encode(digits));
}

// The body limit is enforced by the HTTPS server before the handler runs,
// from the declared Content-Length alone.
TEST_F(BadInputTest, BodyOverThreeMebibytesIsTooLarge) {
  base::SystemClock wall_clock;
  auto server = HttpServer::Start(*handler_, wall_clock, random_, {});
  ASSERT_TRUE(server.ok()) << server.status();
  const int64_t revision = store_->CurrentRevision();

  HttpsResponse response = HttpsRequest(
      (*server)->port(), "POST", kSecrets, SecretBody({}),
      {{"content-type", "application/json"}}, kMaxApiRequestBodyBytes + 1);
  HttpsResponse at_limit = HttpsRequest(
      (*server)->port(), "POST", kSecrets,
      SecretBody({}) +
          std::string(kMaxApiRequestBodyBytes - SecretBody({}).size(), ' '),
      {{"content-type", "application/json"}});

  ASSERT_EQ(response.status, 413) << response.error;
  Json status = Json::parse(response.body);
  EXPECT_EQ(status["reason"], "RequestEntityTooLarge");
  EXPECT_EQ(status["code"], 413);
  EXPECT_EQ(status["message"], "Request entity too large: limit is 3145728");
  EXPECT_EQ(at_limit.status, 201) << at_limit.error << at_limit.body;
  EXPECT_EQ(store_->CurrentRevision(), revision + 1);
}

// Sends `text` as it is to 127.0.0.1:`port` and returns what comes back
// until the server closes the connection.
std::string RawExchange(uint16_t port, const std::string& text) {
  namespace net = boost::asio;
  net::io_context context;
  net::ip::tcp::socket socket(context);
  socket.connect({net::ip::make_address("127.0.0.1"), port});
  net::write(socket, net::buffer(text));
  std::string reply;
  boost::system::error_code error;
  net::read(socket, net::dynamic_buffer(reply), error);
  return reply;
}

// kube-apiserver's Go HTTP server replies to a request it cannot parse with
// a plain-text 400, or 431 for headers over its limit, and closes.
TEST_F(BadInputTest, UnreadableRequestGetsGoReply) {
  base::SystemClock wall_clock;
  HttpServerOptions options;
  options.tls = false;
  auto server = HttpServer::Start(*handler_, wall_clock, random_, options);
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string bad_request =
      "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; "
      "charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request";

  std::string request_line = RawExchange((*server)->port(), "GARBAGE\r\n\r\n");
  std::string header =
      RawExchange((*server)->port(),
                  "GET /version HTTP/1.1\r\nHost: x\r\nno colon\r\n\r\n");
  std::string too_long = RawExchange(
      (*server)->port(), "GET /version HTTP/1.1\r\nHost: x\r\nX-Long: " +
                             std::string(9000, 'a') + "\r\n\r\n");

  EXPECT_EQ(request_line, bad_request);
  EXPECT_EQ(header, bad_request);
  EXPECT_THAT(too_long,
              StartsWith("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
}

}  // namespace
}  // namespace apiserver
