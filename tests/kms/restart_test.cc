// Restarting kms-mock-server on the same data directory: every instance,
// key, version, state and registration written by the first process is
// served unchanged by the second, and still behaves the same.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "base/crypto.h"
#include "tests/kms/http_client.h"

extern char** environ;

namespace kms {
namespace {

using testing::Client;
using Json = nlohmann::json;
namespace http = boost::beast::http;

// A kms-mock-server child process on a simulated clock.
class ServerProcess {
 public:
  // Starts the server and waits for its "listening on" line.
  ServerProcess(const std::filesystem::path& dir, const std::string& start_time,
                bool seed) {
    std::vector<std::string> args = {KMS_MOCK_SERVER_PATH,
                                     "--tokens",
                                     (dir / "tokens.yaml").string(),
                                     "--data-dir",
                                     (dir / "data").string(),
                                     "--port",
                                     "0",
                                     "--clock",
                                     "simulated",
                                     "--start-time",
                                     start_time,
                                     "--log-level",
                                     "warn"};
    if (seed) {
      args.push_back("--seed");
      args.push_back((dir / "seed.yaml").string());
    }
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);

    int out[2];
    EXPECT_EQ(pipe(out), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    EXPECT_EQ(
        posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ),
        0);
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);

    stdout_ = fdopen(out[0], "r");
    char line[256] = {};
    if (stdout_ != nullptr && std::fgets(line, sizeof(line), stdout_)) {
      std::smatch match;
      std::string text(line);
      if (std::regex_search(text, match,
                            std::regex(R"(listening on http://[^:]+:(\d+))"))) {
        port_ = static_cast<uint16_t>(std::stoi(match[1]));
      }
    }
  }

  ~ServerProcess() {
    if (pid_ > 0) Stop();
    if (stdout_ != nullptr) std::fclose(stdout_);
  }

  uint16_t port() const { return port_; }

  // Sends SIGTERM and returns the exit status.
  int Stop() {
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = 0;
    return status;
  }

 private:
  pid_t pid_ = 0;
  FILE* stdout_ = nullptr;
  uint16_t port_ = 0;
};

std::string KeyBody(Json resource) {
  resource["type"] = "application/vnd.ibm.kms.key+json";
  Json body = {{"metadata",
                {{"collectionType", "application/vnd.ibm.kms.key+json"},
                 {"collectionTotal", 1}}},
               {"resources", Json::array({resource})}};
  return body.dump();
}

class RestartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/kms-restart-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    std::ofstream(dir_ / "tokens.yaml")
        << "tokens:\n  - token: admin\n    role: Manager\n";
    std::ofstream(dir_ / "seed.yaml")
        << "instances:\n  - id: inst-kp\n    name: kp\n"
           "  - id: inst-hs\n    name: hs\n    type: hpcs\n";
  }

  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Sends a request and checks its status.
  Json Call(Client& client, http::verb method, const std::string& target,
            const std::string& body, int status,
            const std::string& instance = "inst-kp") {
    auto response = client.Send(method, target, body, {.instance = instance});
    EXPECT_EQ(response.result_int(), status)
        << method << " " << target << ": " << response.body();
    if (response.body().empty()) return Json();
    return Json::parse(response.body(), nullptr, false);
  }

  std::string CreateKey(Client& client, Json resource,
                        const std::string& instance = "inst-kp") {
    Json created = Call(client, http::verb::post, "/api/v2/keys",
                        KeyBody(std::move(resource)), 201, instance);
    return created["resources"][0]["id"];
  }

  // Everything the server returns about its keys and registrations.
  Json Dump(Client& client) {
    Json out;
    for (const std::string& instance : {"inst-kp", "inst-hs"}) {
      Json keys =
          Call(client, http::verb::get,
               "/api/v2/keys?state=0,1,2,3,5&limit=100", "", 200, instance);
      for (const Json& key : keys["resources"]) {
        std::string id = key["id"];
        out[instance]["keys"][id] = key;
        out[instance]["versions"][id] =
            Call(client, http::verb::get, "/api/v2/keys/" + id + "/versions",
                 "", 200, instance)["resources"];
      }
      out[instance]["registrations"] =
          Call(client, http::verb::get, "/api/v2/keys/registrations", "", 200,
               instance)["resources"];
    }
    out["instances"] = Call(client, http::verb::get, "/control/instances", "",
                            200)["instances"];
    return out;
  }

  std::filesystem::path dir_;
};

TEST_F(RestartTest, RestartKeepsKeysVersionsStatesAndRegistrations) {
  std::string rotated, disabled, deleted, registered, standard, expiring,
      expired, hpcs_key, ciphertext;
  Json before;
  {
    ServerProcess server(dir_, "2026-01-01T00:00:00Z", /*seed=*/true);
    ASSERT_NE(server.port(), 0);
    Client client(server.port());

    rotated = CreateKey(client, {{"name", "rotated"}});
    ciphertext = Call(client, http::verb::post,
                      "/api/v2/keys/" + rotated + "/actions/wrap",
                      R"({"aad":["restart"]})", 200)["ciphertext"];
    for (int i = 0; i < 2; ++i) {
      Call(client, http::verb::post,
           "/api/v2/keys/" + rotated + "/actions/rotate", "", 204);
    }
    disabled = CreateKey(client, {{"name", "disabled"}});
    Call(client, http::verb::post,
         "/api/v2/keys/" + disabled + "/actions/disable", "", 204);
    deleted = CreateKey(client, {{"name", "deleted"}});
    Call(client, http::verb::delete_, "/api/v2/keys/" + deleted, "", 204);
    registered = CreateKey(client, {{"name", "registered"}});
    Call(
        client, http::verb::post,
        "/api/v2/keys/" + registered +
            "/registrations/crn%3Av1%3Abluemix%3Apublic%3Acontainers-"
            "kubernetes%3Aus-south%3Aa%2Facct%3Acluster-1%3A%3A",
        R"({"metadata":{"collectionType":"application/vnd.ibm.kms.registration_input+json","collectionTotal":1},"resources":[{"preventKeyDeletion":true,"description":"cluster-1"}]})",
        201);
    standard = CreateKey(
        client, {{"name", "standard"},
                 {"extractable", true},
                 {"payload", base::Base64Encode(std::string(32, 's'))}});
    expiring = CreateKey(client, {{"name", "expiring"},
                                  {"expirationDate", "2026-06-01T00:00:00Z"},
                                  {"dualAuthDelete", {{"enabled", true}}}});
    Call(client, http::verb::post,
         "/api/v2/keys/" + expiring + "/actions/setKeyForDeletion", "", 204);
    hpcs_key = CreateKey(client, {{"name", "hs"}}, "inst-hs");
    expired = CreateKey(client, {{"name", "expired"},
                                 {"expirationDate", "2026-01-01T00:30:00Z"}});
    // Deactivation comes within an hour after the expiration.
    Call(client, http::verb::post, "/control/clock", R"({"advance":"2h"})",
         200);

    before = Dump(client);
    EXPECT_EQ(server.Stop(), 0);
  }

  ServerProcess server(dir_, "2026-01-01T02:10:00Z", /*seed=*/false);
  ASSERT_NE(server.port(), 0);
  Client client(server.port());
  Json after = Dump(client);

  EXPECT_EQ(after, before) << "before: " << before.dump(1)
                           << "\nafter: " << after.dump(1);
  EXPECT_EQ(after["inst-kp"]["keys"].size(), 7u);
  EXPECT_EQ(after["inst-kp"]["keys"][expired]["state"], 3);
  EXPECT_EQ(after["inst-kp"]["versions"][rotated].size(), 3u);
  EXPECT_EQ(after["inst-kp"]["keys"][disabled]["state"], 2);
  EXPECT_EQ(after["inst-kp"]["keys"][deleted]["state"], 5);
  EXPECT_EQ(after["inst-kp"]["registrations"].size(), 1u);
  EXPECT_EQ(after["inst-hs"]["keys"][hpcs_key]["state"], 1);
  EXPECT_EQ(after["instances"][1]["type"], "hpcs");
}

TEST_F(RestartTest, RestartedKeysBehaveAsBefore) {
  std::string rotated, disabled, deleted, standard, ciphertext, dek;
  const std::string crn =
      "crn%3Av1%3Abluemix%3Apublic%3Acontainers-"
      "kubernetes%3Aus-south%3Aa%2Facct%3Acluster-2%3A%3A";
  {
    ServerProcess server(dir_, "2026-01-01T00:00:00Z", /*seed=*/true);
    ASSERT_NE(server.port(), 0);
    Client client(server.port());
    rotated = CreateKey(client, {{"name", "rotated"}});
    Json wrapped = Call(client, http::verb::post,
                        "/api/v2/keys/" + rotated + "/actions/wrap",
                        R"({"aad":["restart"]})", 200);
    ciphertext = wrapped["ciphertext"];
    dek = wrapped["plaintext"];
    Call(client, http::verb::post,
         "/api/v2/keys/" + rotated + "/actions/rotate", "", 204);
    Call(client, http::verb::post,
         "/api/v2/keys/" + rotated + "/registrations/" + crn, "", 201);
    disabled = CreateKey(client, {{"name", "disabled"}});
    Call(client, http::verb::post,
         "/api/v2/keys/" + disabled + "/actions/disable", "", 204);
    deleted = CreateKey(client, {{"name", "deleted"}});
    Call(client, http::verb::delete_, "/api/v2/keys/" + deleted, "", 204);
    standard = CreateKey(
        client, {{"name", "standard"},
                 {"extractable", true},
                 {"payload", base::Base64Encode(std::string(32, 's'))}});
    EXPECT_EQ(server.Stop(), 0);
  }

  ServerProcess server(dir_, "2026-01-01T00:01:00Z", /*seed=*/false);
  ASSERT_NE(server.port(), 0);
  Client client(server.port());

  Json unwrapped = Call(
      client, http::verb::post, "/api/v2/keys/" + rotated + "/actions/unwrap",
      Json{{"ciphertext", ciphertext}, {"aad", {"restart"}}}.dump(), 200);
  EXPECT_EQ(unwrapped["plaintext"], dek);
  EXPECT_TRUE(unwrapped.contains("rewrappedKeyVersion"));
  Json protected_delete =
      Call(client, http::verb::delete_, "/api/v2/keys/" + rotated, "", 409);
  EXPECT_EQ(protected_delete["resources"][0]["reasons"][0]["code"],
            "PROTECTED_RESOURCE_ERR");
  Call(client, http::verb::post, "/api/v2/keys/" + disabled + "/actions/enable",
       "", 204);
  Call(client, http::verb::post, "/api/v2/keys/" + deleted + "/restore", "",
       201);
  Json payload =
      Call(client, http::verb::get, "/api/v2/keys/" + standard, "", 200);
  EXPECT_EQ(payload["resources"][0]["payload"],
            base::Base64Encode(std::string(32, 's')));
}

TEST_F(RestartTest, ServerExitsCleanlyOnSigterm) {
  ServerProcess server(dir_, "2026-01-01T00:00:00Z", /*seed=*/true);
  ASSERT_NE(server.port(), 0);

  int status = server.Stop();

  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(Client::Connect(server.port()),
            boost::asio::error::connection_refused);
}

}  // namespace
}  // namespace kms
