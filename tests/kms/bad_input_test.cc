// Bad input over HTTP: every kind of malformed request gets a Key
// Protect-shaped error naming what is wrong, and changes nothing.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/crypto.h"
#include "base/random.h"
#include "kms-mock/api.h"
#include "kms-mock/kms.h"
#include "kms-mock/server.h"
#include "tests/kms/http_client.h"

namespace kms {
namespace {

using testing::Client;
using testing::RequestOptions;
using Json = nlohmann::json;
namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

const base::Time kStart = base::Time(
    std::chrono::sys_days{std::chrono::year{2026} / std::chrono::January / 1});

std::string B64(const std::string& bytes) { return base::Base64Encode(bytes); }

std::string KeyBody(Json resource) {
  Json body = {{"metadata",
                {{"collectionType", "application/vnd.ibm.kms.key+json"},
                 {"collectionTotal", 1}}},
               {"resources", Json::array({resource})}};
  return body.dump();
}

// One rejected request and what the error must name.
struct BadRequest {
  std::string name;  // for failure messages
  http::verb method;
  std::string target;
  std::string body;
  std::string content_type = "application/json";
  int status = 400;
  std::string code;
  std::string target_type;  // empty when the error names no field
  std::string target_name;
};

class BadInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(
        service_.CreateInstance("i", InstanceType::kKeyProtect, "inst-1").ok());
    key_ = service_.CreateKey("inst-1", {.name = "crk"})->id;
    ciphertext_ = B64(service_.Wrap("inst-1", key_, std::nullopt)->ciphertext);
    base::StatusOr<std::unique_ptr<Server>> server = Server::Start(api_, {});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(server).value();
  }

  // Everything a request could change: keys with their versions and
  // states, registrations and the calls that reached the service.
  std::string Snapshot() {
    std::ostringstream out;
    std::vector<Key> keys = service_.ListKeys("inst-1").value();
    for (const Key& key : keys) {
      out << key.id << " " << key.name << " state "
          << static_cast<int>(key.state) << " versions " << key.versions.size()
          << " updated " << base::FormatRfc3339(key.last_update_date) << "\n";
    }
    out << "registrations " << service_.ListRegistrations("inst-1", "").size()
        << "\n";
    // Calls that failed change nothing; those that succeeded may have.
    for (const auto& [name, count] : service_.CallCounts()) {
      if (name != "list_keys" && count.ok > 0) {
        out << name << " ok " << count.ok << "\n";
      }
    }
    return out.str();
  }

  // Sends each request on its own connection and checks the error.
  void ExpectRejected(const std::vector<BadRequest>& requests) {
    std::string before = Snapshot();
    for (const BadRequest& r : requests) {
      Client client(server_->port());
      auto response = client.Send(r.method, r.target, r.body,
                                  {.content_type = r.content_type});

      EXPECT_EQ(response.result_int(), r.status)
          << r.name << ": " << response.body();
      Json body = Json::parse(response.body(), nullptr, false);
      ASSERT_FALSE(body.is_discarded()) << r.name;
      EXPECT_EQ(body["metadata"]["collectionType"],
                "application/vnd.ibm.kms.error+json")
          << r.name;
      Json reason = body["resources"][0]["reasons"][0];
      EXPECT_EQ(reason["code"], r.code) << r.name;
      EXPECT_EQ(reason["status"], r.status) << r.name;
      if (r.target_name.empty()) {
        EXPECT_FALSE(reason.contains("target")) << r.name;
      } else {
        EXPECT_EQ(reason["target"]["type"], r.target_type) << r.name;
        EXPECT_EQ(reason["target"]["name"], r.target_name) << r.name;
      }
      EXPECT_EQ(Snapshot(), before) << r.name << " changed the service";
    }
  }

  std::string Action(const std::string& action) {
    return "/api/v2/keys/" + key_ + "/actions/" + action;
  }

  base::SimulatedClock clock_{kStart};
  base::SeededRandom random_{17};
  KeyService service_{clock_, random_};
  KeyProtectApi api_{service_, clock_, {{"admin", {Role::kManager, {}}}}};
  std::unique_ptr<Server> server_;
  std::string key_;
  std::string ciphertext_;
};

TEST_F(BadInputTest, MalformedJsonNamesTheBody) {
  std::vector<BadRequest> requests;
  // The last is nested too deep to walk, so it is rejected before parsing.
  for (std::string body :
       {std::string("{oops"), std::string("[1,2"), std::string("\"text"),
        std::string("nul"), std::string(5000, '[') + std::string(5000, ']')}) {
    requests.push_back(
        {"create " + body, http::verb::post, "/api/v2/keys", body});
    for (std::string action : {"wrap", "unwrap", "rewrap", "rotate"}) {
      requests.push_back(
          {action + " " + body, http::verb::post, Action(action), body});
    }
    requests.push_back({"register " + body, http::verb::post,
                        "/api/v2/keys/" + key_ +
                            "/registrations/"
                            "crn%3Av1%3Abluemix%3Apublic%3Acontainers-"
                            "kubernetes%3Aus-south%3Aa%2Facct%3Ac1%3A%3A",
                        body});
  }
  for (BadRequest& r : requests) {
    r.code = "BAD_BODY_ERR";
    r.target_type = "field";
    r.target_name = "body";
  }

  ExpectRejected(requests);
}

TEST_F(BadInputTest, NonObjectJsonNamesTheBody) {
  std::vector<BadRequest> requests = {
      {"array", http::verb::post, Action("wrap"), "[]"},
      {"number", http::verb::post, Action("unwrap"), "42"},
      {"string", http::verb::post, "/api/v2/keys", "\"key\""},
  };
  for (BadRequest& r : requests) {
    r.code = "BAD_BODY_ERR";
    r.target_type = "field";
    r.target_name = "body";
  }

  ExpectRejected(requests);
}

TEST_F(BadInputTest, WrongContentTypeNamesTheHeader) {
  std::string create = KeyBody({{"name", "key-k"}});
  std::string unwrap = Json{{"ciphertext", ciphertext_}}.dump();
  std::vector<BadRequest> requests = {
      {"text/plain", http::verb::post, "/api/v2/keys", create, "text/plain"},
      {"form", http::verb::post, Action("wrap"), "{}",
       "application/x-www-form-urlencoded"},
      {"missing", http::verb::post, Action("unwrap"), unwrap, ""},
      {"xml", http::verb::post, Action("rewrap"), unwrap, "application/xml"},
      {"not json suffix", http::verb::post, Action("rotate"), "{}",
       "application/vnd.ibm.kms.key_action+xml"},
  };
  for (BadRequest& r : requests) {
    r.code = "BAD_BODY_ERR";
    r.target_type = "header";
    r.target_name = "content-type";
  }

  ExpectRejected(requests);
}

TEST_F(BadInputTest, JsonMediaTypesAreAccepted) {
  Client client(server_->port());

  for (std::string type :
       {"application/json", "application/json; charset=utf-8",
        "Application/JSON", "application/vnd.ibm.kms.key_action_wrap+json"}) {
    auto response = client.Send(http::verb::post, Action("wrap"), "{}",
                                {.content_type = type});
    EXPECT_EQ(response.result_int(), 200) << type << ": " << response.body();
  }
  // A request without a body needs no content type.
  auto disable = client.Send(http::verb::post, Action("disable"), "",
                             {.content_type = ""});
  EXPECT_EQ(disable.result_int(), 204) << disable.body();
}

TEST_F(BadInputTest, UndecodableBase64NamesTheField) {
  std::vector<BadRequest> requests = {
      {"wrap plaintext", http::verb::post, Action("wrap"),
       R"({"plaintext":"not base64!"})"},
      {"wrap plaintext bad padding", http::verb::post, Action("wrap"),
       R"({"plaintext":"abc"})"},
      {"unwrap ciphertext", http::verb::post, Action("unwrap"),
       R"({"ciphertext":"%%%%"})"},
      {"rewrap ciphertext", http::verb::post, Action("rewrap"),
       R"({"ciphertext":"AAAA=AAA"})"},
      {"rotate payload", http::verb::post, Action("rotate"),
       R"({"payload":"****"})"},
      {"create payload", http::verb::post, "/api/v2/keys",
       KeyBody({{"name", "key-k"}, {"payload", "@@@@"}})},
  };
  std::vector<std::string> fields = {"plaintext",  "plaintext", "ciphertext",
                                     "ciphertext", "payload",   "payload"};
  for (size_t i = 0; i < requests.size(); ++i) {
    requests[i].code = "INVALID_FIELD_ERR";
    requests[i].target_type = "field";
    requests[i].target_name = fields[i];
  }

  ExpectRejected(requests);
}

TEST_F(BadInputTest, WrongPlaintextSizeNamesTheField) {
  std::vector<BadRequest> requests;
  for (size_t size : {0, 1, 15, 17, 31, 33, 64}) {
    requests.push_back({"wrap " + std::to_string(size) + " bytes",
                        http::verb::post, Action("wrap"),
                        Json{{"plaintext", B64(std::string(size, 'p'))}}.dump(),
                        "application/json", 400, "INVALID_FIELD_ERR", "field",
                        "plaintext"});
  }
  requests.push_back(
      {"rotate 20-byte payload", http::verb::post, Action("rotate"),
       Json{{"payload", B64(std::string(20, 'k'))}}.dump(), "application/json",
       400, "INVALID_FIELD_ERR", "field", "payload"});
  requests.push_back(
      {"create 8-byte payload", http::verb::post, "/api/v2/keys",
       KeyBody({{"name", "key-k"}, {"payload", B64(std::string(8, 'k'))}}),
       "application/json", 400, "INVALID_FIELD_ERR", "field", "payload"});

  ExpectRejected(requests);
}

TEST_F(BadInputTest, SupportedPlaintextSizesWrap) {
  Client client(server_->port());

  for (size_t size : {16, 24, 32}) {
    auto response =
        client.Send(http::verb::post, Action("wrap"),
                    Json{{"plaintext", B64(std::string(size, 'p'))}}.dump());
    EXPECT_EQ(response.result_int(), 200) << size << ": " << response.body();
  }
}

TEST_F(BadInputTest, UnknownActionNamesTheAction) {
  std::vector<BadRequest> requests = {
      {"path form", http::verb::post, Action("explode"), "{}",
       "application/json", 400, "INVALID_FIELD_ERR", "path", "action"},
      {"query form", http::verb::post, "/api/v2/keys/" + key_ + "?action=melt",
       "{}", "application/json", 400, "INVALID_FIELD_ERR", "query", "action"},
      {"case differs", http::verb::post, Action("Wrap"), "{}",
       "application/json", 400, "INVALID_FIELD_ERR", "path", "action"},
      {"query form missing", http::verb::post, "/api/v2/keys/" + key_, "{}",
       "application/json", 400, "INVALID_FIELD_ERR", "query", "action"},
  };

  ExpectRejected(requests);
}

TEST_F(BadInputTest, UnknownKeyIdIsNotFound) {
  const std::string unknown = "00000000-0000-4000-8000-000000000000";
  const std::string path = "/api/v2/keys/" + unknown;
  std::string unwrap = Json{{"ciphertext", ciphertext_}}.dump();
  std::vector<BadRequest> requests = {
      {"get", http::verb::get, path, ""},
      {"metadata", http::verb::get, path + "/metadata", ""},
      {"versions", http::verb::get, path + "/versions", ""},
      {"wrap", http::verb::post, path + "/actions/wrap", "{}"},
      {"unwrap", http::verb::post, path + "/actions/unwrap", unwrap},
      {"rotate", http::verb::post, path + "/actions/rotate", ""},
      {"disable", http::verb::post, path + "/actions/disable", ""},
      {"delete", http::verb::delete_, path, ""},
      {"restore", http::verb::post, path + "/restore", ""},
      {"purge", http::verb::delete_, path + "/purge", ""},
      {"register", http::verb::post,
       path + "/registrations/"
              "crn%3Av1%3Abluemix%3Apublic%3Acontainers-kubernetes%3Aus-south%"
              "3Aa%2Facct%3Ac1%3A%3A",
       ""},
  };
  for (BadRequest& r : requests) {
    r.status = 404;
    r.code = "KEY_NOT_FOUND_ERR";
  }

  ExpectRejected(requests);

  Client client(server_->port());
  auto response = client.Send(http::verb::get, path);
  Json reason = Json::parse(response.body())["resources"][0]["reasons"][0];
  EXPECT_NE(reason["message"].get<std::string>().find(unknown),
            std::string::npos);
}

// A well-formed id that names no key is a 404 KEY_NOT_FOUND_ERR, as in Key
// Protect (see above). An id that cannot name a key at all is a 400 that
// names the path segment.
TEST_F(BadInputTest, MalformedKeyIdNamesThePath) {
  std::string unwrap = Json{{"ciphertext", ciphertext_}}.dump();
  std::vector<BadRequest> requests = {
      {"space", http::verb::get, "/api/v2/keys/bad%20id", ""},
      {"slash", http::verb::post, "/api/v2/keys/a%2Fb/actions/wrap", "{}"},
      {"too long", http::verb::post,
       "/api/v2/keys/" + std::string(91, 'k') + "/actions/unwrap", unwrap},
      {"punctuation", http::verb::delete_, "/api/v2/keys/key!", ""},
      {"dot", http::verb::post, "/api/v2/keys/k.1/restore", ""},
  };
  for (BadRequest& r : requests) {
    r.code = "INVALID_FIELD_ERR";
    r.target_type = "path";
    r.target_name = "id";
  }

  ExpectRejected(requests);
}

TEST_F(BadInputTest, MalformedRegistrationCrnNamesThePath) {
  const std::string path = "/api/v2/keys/" + key_ + "/registrations/";
  std::vector<BadRequest> requests = {
      {"no crn prefix", http::verb::post, path + "not-a-crn", ""},
      {"too few segments", http::verb::post,
       path + "crn%3Av1%3Abluemix%3Apublic", ""},
      {"too many segments", http::verb::post,
       path + "crn%3Av1%3Aa%3Ab%3Ac%3Ad%3Ae%3Af%3Ag%3Ah%3Ai", ""},
      {"space", http::verb::post,
       path + "crn%3Av1%3Abluemix%3Apublic%3Ak8s%3Aus%20south%3Aa%3Ai%3A%3A",
       ""},
      {"delete", http::verb::delete_,
       path + "crn%3Av2%3Aa%3Ab%3Ac%3Ad%3Ae%3Af"
              "%3Ag%3Ah",
       ""},
  };
  for (BadRequest& r : requests) {
    r.code = "INVALID_FIELD_ERR";
    r.target_type = "path";
    r.target_name = "urlEncodedResourceCRN";
  }

  ExpectRejected(requests);
}

// Repeated header fields combine into one value, as HTTP defines, so two
// instance headers name no instance and two tokens are no token.
TEST_F(BadInputTest, RepeatedHeadersDoNotPickOne) {
  std::string before = Snapshot();
  for (std::string repeated :
       {"bluemix-instance: inst-1", "authorization: Bearer admin"}) {
    Client client(server_->port());
    std::string body = "{}";
    client.WriteRaw("POST " + Action("wrap") +
                    " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    "Content-Type: application/json\r\n"
                    "Authorization: Bearer admin\r\n"
                    "bluemix-instance: inst-1\r\n" +
                    repeated + "\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n" + body);

    auto response = client.Read();

    EXPECT_EQ(response.result_int(), 401)
        << repeated << ": " << response.body();
  }
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(BadInputTest, OversizedBodyIsRejectedUnread) {
  std::string before = Snapshot();
  Client client(server_->port());

  client.WriteRaw("POST " + Action("wrap") +
                  " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  "Authorization: Bearer admin\r\n"
                  "bluemix-instance: inst-1\r\n"
                  "Content-Type: application/json\r\n"
                  "Content-Length: " +
                  std::to_string(kMaxRequestBodyBytes + 1) + "\r\n\r\n");
  auto response = client.Read();

  EXPECT_EQ(response.result_int(), 400);
  Json reason = Json::parse(response.body())["resources"][0]["reasons"][0];
  EXPECT_EQ(reason["code"], "BAD_BODY_ERR");
  EXPECT_EQ(reason["target"]["name"], "body");
  EXPECT_NE(reason["message"].get<std::string>().find("1048576"),
            std::string::npos);
  EXPECT_TRUE(client.ServerClosed());
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(BadInputTest, OversizedChunkedBodyIsRejected) {
  std::string before = Snapshot();
  Client client(server_->port());
  std::string chunk(64 * 1024, 'a');
  std::ostringstream hex;
  hex << std::hex << chunk.size();

  client.WriteRaw(
      "POST /api/v2/keys HTTP/1.1\r\nHost: 127.0.0.1\r\n"
      "Authorization: Bearer admin\r\n"
      "bluemix-instance: inst-1\r\n"
      "Content-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n");
  // Sends chunks past the limit, where the server stops parsing the body.
  beast::error_code error;
  size_t sent = 0;
  while (sent <= kMaxRequestBodyBytes && !error) {
    std::string frame = hex.str() + "\r\n" + chunk + "\r\n";
    net::write(client.stream().socket(), net::buffer(frame), error);
    sent += chunk.size();
  }
  auto response = client.Read();

  EXPECT_EQ(response.result_int(), 400);
  Json reason = Json::parse(response.body())["resources"][0]["reasons"][0];
  EXPECT_EQ(reason["code"], "BAD_BODY_ERR");
  EXPECT_EQ(reason["target"]["name"], "body");
  EXPECT_EQ(Snapshot(), before);
}

// Requests that are not HTTP/1.1 get a Key Protect error before the
// connection closes, instead of a silent close.
TEST_F(BadInputTest, MalformedHttpGetsAnErrorBody) {
  const std::string head =
      "Host: 127.0.0.1\r\nAuthorization: Bearer admin\r\n"
      "bluemix-instance: inst-1\r\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"request line", "GARBAGE\r\n\r\n"},
      {"header without a colon",
       "GET /api/v2/keys HTTP/1.1\r\n" + head + "no colon here\r\n\r\n"},
      {"Content-Length too large",
       "POST " + Action("wrap") + " HTTP/1.1\r\n" + head +
           "Content-Length: 99999999999999999999\r\n\r\n"},
      {"chunk size not hex",
       "POST " + Action("wrap") + " HTTP/1.1\r\n" + head +
           "Transfer-Encoding: chunked\r\n\r\nZZ\r\nab\r\n"},
      {"header over the limit",
       "GET /api/v2/keys HTTP/1.1\r\n" + head +
           "X-Padding: " + std::string(64 * 1024, 'p') + "\r\n\r\n"},
  };
  std::string before = Snapshot();

  for (const auto& [name, raw] : cases) {
    Client client(server_->port());
    client.WriteRaw(raw);
    auto response = client.Read();

    EXPECT_EQ(response.result_int(), 400) << name;
    Json body = Json::parse(response.body(), nullptr, false);
    ASSERT_FALSE(body.is_discarded()) << name << ": " << response.body();
    Json reason = body["resources"][0]["reasons"][0];
    EXPECT_EQ(reason["code"], "BAD_BODY_ERR") << name;
    EXPECT_TRUE(reason["message"].get<std::string>().starts_with(
        "the request is not valid HTTP/1.1: "))
        << name << ": " << reason["message"];
    EXPECT_TRUE(client.ServerClosed()) << name;
  }
  EXPECT_EQ(Snapshot(), before);
}

}  // namespace
}  // namespace kms
