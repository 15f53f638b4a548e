// The real kubectl against the API server over HTTPS: each test starts a
// server on a free loopback port with a CA and serving certificate in its
// data directory, bearer-token authentication and Secrets encrypted by a
// KMS v2 provider, writes an admin kubeconfig, and checks what kubectl
// prints and what the store holds.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "apiserver/http_server.h"
#include "apiserver/transformer.h"
#include "base/crypto.h"
#include "encrypted_object.pb.h"
#include "tests/apiserver/subprocess.h"
#include "tests/apiserver/test_env.h"

namespace apiserver {
namespace {

using ::testing::HasSubstr;

constexpr char kToken[] = "admin-token-for-tests";
constexpr auto kCommandLimit = std::chrono::seconds(60);

// The lines of `text`, without the trailing empty one.
std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  return lines;
}

// Whether some line of `text` matches `pattern` as a whole.
bool HasLine(const std::string& text, const std::string& pattern) {
  const std::regex line_pattern(pattern);
  for (const std::string& line : Lines(text)) {
    if (std::regex_match(line, line_pattern)) return true;
  }
  return false;
}

class KubectlTest : public ApiserverEnv {
 protected:
  void SetUp() override {
    ApiserverEnv::SetUp();
    if (HasFatalFailure()) return;
    if (access(KUBECTL_PATH, X_OK) != 0) {
      GTEST_SKIP() << "kubectl is not installed at " << KUBECTL_PATH
                   << "; scripts/setup.sh installs it";
    }

    kms_transformer_ = NewKmsTransformer("kp");
    auto chain = std::make_shared<TransformerChain>(
        std::vector<Provider>{{kms_transformer_->prefix(), kms_transformer_},
                              {"", NewIdentityTransformer()}});
    registry_ = std::make_unique<Registry>(*store_, chain, clock_, random_);
    ApiHandlerOptions options;
    options.bearer_tokens = {{kToken, "admin"}};
    options.kms_health = [this] { return kms_transformer_->Health(); };
    handler_ = std::make_unique<ApiHandler>(*registry_, clock_, options);

    // kubectl checks the certificates against its own wall clock, so they
    // are dated by the system clock, not the simulated one.
    auto certificates =
        LoadOrCreateServingCertificates(dir_ + "/pki", wall_clock_, random_);
    ASSERT_TRUE(certificates.ok()) << certificates.status();
    HttpServerOptions server_options;
    server_options.certificate_pem = certificates->certificate_pem;
    server_options.private_key_pem = certificates->private_key_pem;
    server_options.ca_pem = certificates->ca_pem;
    auto server = HttpServer::Start(*handler_, clock_, random_, server_options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);

    kubeconfig_ = WriteFile("kubeconfig", server_->Kubeconfig(kToken));
    home_ = dir_ + "/home";
    std::filesystem::create_directories(home_);
  }

  void TearDown() override {
    server_.reset();
    handler_.reset();
    registry_.reset();
    kms_transformer_.reset();
    ApiserverEnv::TearDown();
  }

  std::string WriteFile(const std::string& name, const std::string& text) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::trunc) << text;
    return path;
  }

  std::map<std::string, std::string> Environment() const {
    return {{"HOME", home_}, {"KUBECONFIG", kubeconfig_}};
  }

  // Runs kubectl with `args` and returns its result.
  ProcessResult Kubectl(const std::vector<std::string>& args,
                        const std::string& input = "",
                        std::map<std::string, std::string> environment = {}) {
    std::vector<std::string> argv = {KUBECTL_PATH, "--kubeconfig", kubeconfig_};
    argv.insert(argv.end(), args.begin(), args.end());
    environment.merge(Environment());
    ProcessResult result = RunProcess(argv, environment, input, kCommandLimit);
    EXPECT_FALSE(result.timed_out) << "kubectl timed out: " << result.err;
    return result;
  }

  // Runs kubectl and expects it to succeed; returns its standard output.
  std::string KubectlOk(const std::vector<std::string>& args,
                        const std::string& input = "") {
    ProcessResult result = Kubectl(args, input);
    EXPECT_EQ(result.exit_code, 0)
        << "kubectl " << testing::PrintToString(args) << ": " << result.err;
    return result.out;
  }

  // Runs a shell pipeline in which "kubectl" is this test's kubectl.
  ProcessResult Pipeline(const std::string& command) {
    const std::string kubectl =
        std::string(KUBECTL_PATH) + " --kubeconfig " + kubeconfig_;
    std::string script = command;
    for (size_t at = script.find("kubectl"); at != std::string::npos;
         at = script.find("kubectl", at + kubectl.size())) {
      script.replace(at, 7, kubectl);
    }
    return RunProcess({"/bin/bash", "-o", "pipefail", "-c", script},
                      Environment(), "", kCommandLimit);
  }

  Json StoredSecret(const std::string& ns, const std::string& name) {
    auto secret = registry_->Get(SecretsResource(), ns, name);
    EXPECT_TRUE(secret.ok()) << secret.status();
    return secret.ok() ? *secret : Json();
  }

  std::string StoredData(const std::string& ns, const std::string& name,
                         const std::string& key) {
    Json secret = StoredSecret(ns, name);
    auto decoded = base::Base64Decode(
        secret["data"].value(key, std::string("not present")));
    return decoded.ok() ? *decoded : "invalid base64";
  }

  // The KMS key_id in the EncryptedObject stored for each Secret, by
  // "namespace/name", or "not KMS" for a value without the KMS prefix.
  std::map<std::string, std::string> StoredKeyIds() {
    std::map<std::string, std::string> key_ids;
    auto list = registry_->List(SecretsResource(), "");
    EXPECT_TRUE(list.ok()) << list.status();
    if (!list.ok()) return key_ids;
    for (const Json& item : (*list)["items"]) {
      const std::string ns = item["metadata"]["namespace"];
      const std::string name = item["metadata"]["name"];
      auto raw = registry_->RawValue(SecretsResource(), ns, name);
      EXPECT_TRUE(raw.ok()) << raw.status();
      v2::EncryptedObject object;
      const std::string prefix = kms_transformer_->prefix();
      key_ids[ns + "/" + name] =
          raw.ok() && raw->starts_with(prefix) &&
                  object.ParseFromString(raw->substr(prefix.size()))
              ? object.keyid()
              : "not KMS";
    }
    return key_ids;
  }

  base::SystemClock wall_clock_;
  std::shared_ptr<KmsV2Transformer> kms_transformer_;
  std::unique_ptr<Registry> registry_;
  std::unique_ptr<ApiHandler> handler_;
  std::unique_ptr<HttpServer> server_;
  std::string kubeconfig_;
  std::string home_;
};

TEST_F(KubectlTest, CreatesNamespaceAndSecrets) {
  const std::string file = WriteFile("app.conf", "listen = 127.0.0.1:8080\n");

  std::string ns = KubectlOk({"create", "namespace", "team-a"});
  std::string literal = KubectlOk({"create", "secret", "generic", "db", "-n",
                                   "team-a", "--from-literal=user=admin",
                                   "--from-literal=password=hunter2"});
  std::string from_file = KubectlOk({"create", "secret", "generic", "app", "-n",
                                     "team-a", "--from-file=" + file});
  std::string phase = KubectlOk(
      {"get", "namespace", "team-a", "-o", "jsonpath={.status.phase}"});

  EXPECT_EQ(ns, "namespace/team-a created\n");
  EXPECT_EQ(literal, "secret/db created\n");
  EXPECT_EQ(from_file, "secret/app created\n");
  EXPECT_EQ(phase, "Active");
  EXPECT_EQ(StoredData("team-a", "db", "user"), "admin");
  EXPECT_EQ(StoredData("team-a", "db", "password"), "hunter2");
  EXPECT_EQ(StoredData("team-a", "app", "app.conf"),
            "listen = 127.0.0.1:8080\n");
  EXPECT_EQ(StoredSecret("team-a", "db")["type"], "Opaque");
}

TEST_F(KubectlTest, SecondCreateReportsAlreadyExists) {
  KubectlOk({"create", "secret", "generic", "db", "--from-literal=a=1"});

  ProcessResult again =
      Kubectl({"create", "secret", "generic", "db", "--from-literal=a=2"});

  EXPECT_EQ(again.exit_code, 1);
  EXPECT_EQ(again.err,
            "error: failed to create secret secrets \"db\" already exists\n");
  EXPECT_EQ(StoredData("default", "db", "a"), "1");
}

TEST_F(KubectlTest, GetPrintsJsonYamlAndJsonpath) {
  KubectlOk({"create", "secret", "generic", "db", "--from-literal=user=admin",
             "--from-literal=password=hunter2"});

  std::string json = KubectlOk({"get", "secret", "db", "-o", "json"});
  std::string yaml = KubectlOk({"get", "secret", "db", "-o", "yaml"});
  std::string password =
      KubectlOk({"get", "secret", "db", "-o", "jsonpath={.data.password}"});

  Json object = Json::parse(json, nullptr, false);
  ASSERT_TRUE(object.is_object()) << json;
  EXPECT_EQ(object["kind"], "Secret");
  EXPECT_EQ(object["apiVersion"], "v1");
  EXPECT_EQ(object["metadata"]["name"], "db");
  EXPECT_EQ(object["metadata"]["namespace"], "default");
  EXPECT_EQ(object["data"]["password"], base::Base64Encode("hunter2"));
  EXPECT_EQ(object["data"]["user"], base::Base64Encode("admin"));
  EXPECT_EQ(object["metadata"]["resourceVersion"],
            StoredSecret("default", "db")["metadata"]["resourceVersion"]);
  EXPECT_FALSE(object["metadata"].value("uid", "").empty());
  EXPECT_FALSE(object["metadata"].value("creationTimestamp", "").empty());

  EXPECT_TRUE(HasLine(yaml, "apiVersion: v1")) << yaml;
  EXPECT_TRUE(HasLine(yaml, "kind: Secret")) << yaml;
  EXPECT_TRUE(HasLine(yaml, "  password: aHVudGVyMg==")) << yaml;
  EXPECT_TRUE(HasLine(yaml, "  user: YWRtaW4=")) << yaml;
  EXPECT_TRUE(HasLine(yaml, "  name: db")) << yaml;
  EXPECT_TRUE(HasLine(yaml, "type: Opaque")) << yaml;
  EXPECT_EQ(password, "aHVudGVyMg==");
}

TEST_F(KubectlTest, GetAllNamespacesPrintsTable) {
  KubectlOk({"create", "namespace", "team-a"});
  KubectlOk({"create", "secret", "generic", "one", "--from-literal=a=1"});
  KubectlOk({"create", "secret", "generic", "two", "-n", "team-a",
             "--from-literal=a=1", "--from-literal=b=2"});

  std::vector<std::string> lines = Lines(KubectlOk({"get", "secrets", "-A"}));

  ASSERT_EQ(lines.size(), 3u);
  EXPECT_TRUE(std::regex_match(
      lines[0], std::regex(R"(NAMESPACE +NAME +TYPE +DATA +AGE)")))
      << lines[0];
  EXPECT_TRUE(
      std::regex_match(lines[1], std::regex(R"(default +one +Opaque +1 +\S+)")))
      << lines[1];
  EXPECT_TRUE(
      std::regex_match(lines[2], std::regex(R"(team-a +two +Opaque +2 +\S+)")))
      << lines[2];
}

TEST_F(KubectlTest, DescribeShowsDataSizes) {
  KubectlOk({"create", "secret", "generic", "db", "--from-literal=user=admin",
             "--from-literal=password=hunter2"});

  std::string described = KubectlOk({"describe", "secret", "db"});

  EXPECT_TRUE(HasLine(described, "Name: +db")) << described;
  EXPECT_TRUE(HasLine(described, "Namespace: +default")) << described;
  EXPECT_TRUE(HasLine(described, "Labels: +<none>")) << described;
  EXPECT_TRUE(HasLine(described, "Type: +Opaque")) << described;
  EXPECT_TRUE(HasLine(described, "password: +7 bytes")) << described;
  EXPECT_TRUE(HasLine(described, "user: +5 bytes")) << described;
  // describe prints sizes only, never the values.
  EXPECT_THAT(described, testing::Not(HasSubstr("hunter2")));
}

TEST_F(KubectlTest, LabelAndAnnotateChangeMetadata) {
  KubectlOk({"create", "secret", "generic", "db", "--from-literal=a=1"});

  std::string labeled = KubectlOk({"label", "secret", "db", "tier=backend"});
  std::string annotated =
      KubectlOk({"annotate", "secret", "db", "owner=payments team"});
  std::string selected =
      KubectlOk({"get", "secrets", "-l", "tier=backend", "-o", "name"});
  std::string not_selected =
      KubectlOk({"get", "secrets", "-l", "tier!=backend", "-o", "name"});

  EXPECT_EQ(labeled, "secret/db labeled\n");
  EXPECT_EQ(annotated, "secret/db annotated\n");
  Json metadata = StoredSecret("default", "db")["metadata"];
  EXPECT_EQ(metadata["labels"]["tier"], "backend");
  EXPECT_EQ(metadata["annotations"]["owner"], "payments team");
  EXPECT_EQ(selected, "secret/db\n");
  EXPECT_EQ(not_selected, "");
  EXPECT_EQ(StoredData("default", "db", "a"), "1");
}

TEST_F(KubectlTest, EditRunsEditorAndSavesChange) {
  KubectlOk(
      {"create", "secret", "generic", "db", "--from-literal=password=hunter2"});
  // The editor replaces the base64 of "hunter2" with that of "rotated!".
  const std::string editor = WriteFile(
      "editor.sh", "#!/bin/sh\nsed -i 's/aHVudGVyMg==/cm90YXRlZCE=/' \"$1\"\n");
  chmod(editor.c_str(), 0755);

  ProcessResult edited =
      Kubectl({"edit", "secret", "db"}, "", {{"KUBE_EDITOR", editor}});

  EXPECT_EQ(edited.exit_code, 0) << edited.err;
  EXPECT_EQ(edited.out, "secret/db edited\n");
  EXPECT_EQ(StoredData("default", "db", "password"), "rotated!");
}

TEST_F(KubectlTest, EditWithoutChangeIsCancelled) {
  KubectlOk({"create", "secret", "generic", "db", "--from-literal=a=1"});
  const std::string editor = WriteFile("editor.sh", "#!/bin/sh\ntrue\n");
  chmod(editor.c_str(), 0755);
  const Json before = StoredSecret("default", "db");

  ProcessResult edited =
      Kubectl({"edit", "secret", "db"}, "", {{"KUBE_EDITOR", editor}});

  EXPECT_EQ(edited.exit_code, 0) << edited.err;
  EXPECT_EQ(edited.err, "Edit cancelled, no changes made.\n");
  EXPECT_EQ(StoredSecret("default", "db")["metadata"]["resourceVersion"],
            before["metadata"]["resourceVersion"]);
}

TEST_F(KubectlTest, ApplyCreatesThenUpdates) {
  const std::string manifest = R"(apiVersion: v1
kind: Secret
metadata:
  name: app
  labels:
    app: web
type: Opaque
data:
  token: Zmlyc3Q=
)";
  const std::string path = WriteFile("app.yaml", manifest);

  std::string created = KubectlOk({"apply", "--validate=strict", "-f", path});
  std::string unchanged = KubectlOk({"apply", "--validate=strict", "-f", path});
  WriteFile("app.yaml", std::regex_replace(manifest, std::regex("Zmlyc3Q="),
                                           base::Base64Encode("second")));
  std::string configured =
      KubectlOk({"apply", "--validate=strict", "-f", path});

  EXPECT_EQ(created, "secret/app created\n");
  EXPECT_EQ(unchanged, "secret/app unchanged\n");
  EXPECT_EQ(configured, "secret/app configured\n");
  EXPECT_EQ(StoredData("default", "app", "token"), "second");
  Json metadata = StoredSecret("default", "app")["metadata"];
  EXPECT_EQ(metadata["labels"]["app"], "web");
  EXPECT_THAT(metadata["annotations"].value(
                  "kubectl.kubernetes.io/last-applied-configuration", ""),
              HasSubstr(base::Base64Encode("second")));
}

TEST_F(KubectlTest, ApplyValidationRejectsUnknownField) {
  const std::string path = WriteFile("bad.yaml", R"(apiVersion: v1
kind: Secret
metadata:
  name: bad
spec:
  replicas: 1
stringData:
  a: b
)");

  ProcessResult applied = Kubectl({"apply", "--validate=strict", "-f", path});

  EXPECT_EQ(applied.exit_code, 1);
  EXPECT_THAT(applied.err, HasSubstr("unknown field \"spec\"")) << applied.err;
  EXPECT_FALSE(registry_->Get(SecretsResource(), "default", "bad").ok());
}

TEST_F(KubectlTest, ServerSideApplyCreatesThenUpdates) {
  const std::string manifest = R"(apiVersion: v1
kind: Secret
metadata:
  name: app
  labels:
    app: web
type: Opaque
data:
  token: Zmlyc3Q=
)";
  const std::string path = WriteFile("app.yaml", manifest);

  std::string created = KubectlOk({"apply", "--server-side", "-f", path});
  const Json first = StoredSecret("default", "app");
  std::string unchanged = KubectlOk({"apply", "--server-side", "-f", path});
  const Json second = StoredSecret("default", "app");
  WriteFile("app.yaml", std::regex_replace(manifest, std::regex("Zmlyc3Q="),
                                           base::Base64Encode("second")));
  std::string updated = KubectlOk({"apply", "--server-side", "-f", path});

  EXPECT_EQ(created, "secret/app serverside-applied\n");
  EXPECT_EQ(unchanged, "secret/app serverside-applied\n");
  EXPECT_EQ(updated, "secret/app serverside-applied\n");
  EXPECT_EQ(second["metadata"]["resourceVersion"],
            first["metadata"]["resourceVersion"]);
  EXPECT_EQ(StoredData("default", "app", "token"), "second");
  const Json metadata = StoredSecret("default", "app")["metadata"];
  EXPECT_NE(metadata["resourceVersion"], first["metadata"]["resourceVersion"]);
  EXPECT_EQ(metadata["labels"]["app"], "web");
  ASSERT_EQ(metadata["managedFields"].size(), 1u) << metadata.dump();
  EXPECT_EQ(metadata["managedFields"][0]["manager"], "kubectl");
  EXPECT_EQ(metadata["managedFields"][0]["operation"], "Apply");
  EXPECT_EQ(metadata["managedFields"][0]["fieldsV1"],
            Json::parse(R"({"f:data":{"f:token":{}},"f:metadata":{"f:labels":)"
                        R"({"f:app":{}}},"f:type":{}})"));
  EXPECT_EQ(StoredKeyIds().at("default/app"),
            kms_transformer_->current_key_id());
}

TEST_F(KubectlTest, ServerSideApplyConflictNamesClientSideApply) {
  const std::string manifest = R"(apiVersion: v1
kind: Secret
metadata:
  name: db
data:
  password: b2xk
  user: YWRtaW4=
)";
  const std::string path = WriteFile("db.yaml", manifest);
  KubectlOk({"apply", "-f", path});
  WriteFile("db.yaml", std::regex_replace(manifest, std::regex("b2xk"),
                                          base::Base64Encode("new")));

  ProcessResult conflict = Kubectl(
      {"apply", "--server-side", "--field-manager=deployer", "-f", path});
  const std::string password_after_conflict =
      StoredData("default", "db", "password");
  std::string forced =
      KubectlOk({"apply", "--server-side", "--field-manager=deployer",
                 "--force-conflicts", "-f", path});

  EXPECT_EQ(conflict.exit_code, 1);
  EXPECT_EQ(conflict.out, "");
  EXPECT_EQ(conflict.err,
            "error: Apply failed with 1 conflict: conflict with "
            "\"kubectl-client-side-apply\" using v1: .data.password\n"
            "Please review the fields above--they currently have other "
            "managers. Here\n"
            "are the ways you can resolve this warning:\n"
            "* If you intend to manage all of these fields, please re-run the "
            "apply\n"
            "  command with the `--force-conflicts` flag.\n"
            "* If you do not intend to manage all of the fields, please edit "
            "your\n"
            "  manifest to remove references to the fields that should keep "
            "their\n"
            "  current managers.\n"
            "* You may co-own fields by updating your manifest to match the "
            "existing\n"
            "  value; in this case, you'll become the manager if the other "
            "manager(s)\n"
            "  stop managing the field (remove it from their configuration).\n"
            "See "
            "https://kubernetes.io/docs/reference/using-api/server-side-apply/"
            "#conflicts\n");
  EXPECT_EQ(password_after_conflict, "old");
  EXPECT_EQ(forced, "secret/db serverside-applied\n");
  EXPECT_EQ(StoredData("default", "db", "password"), "new");
  EXPECT_EQ(StoredData("default", "db", "user"), "admin");
  // kubectl moves what client-side apply owned to the new manager.
  const Json managed =
      StoredSecret("default", "db")["metadata"]["managedFields"];
  ASSERT_EQ(managed.size(), 1u) << managed.dump();
  EXPECT_EQ(managed[0]["manager"], "deployer");
  EXPECT_EQ(managed[0]["operation"], "Apply");
  EXPECT_EQ(managed[0]["fieldsV1"],
            Json::parse(R"({"f:data":{"f:password":{},"f:user":{}}})"));
}

TEST_F(KubectlTest, ServerSideApplyTakesOverClientSideApply) {
  const std::string manifest = R"(apiVersion: v1
kind: Secret
metadata:
  name: db
data:
  password: b2xk
)";
  const std::string path = WriteFile("db.yaml", manifest);
  KubectlOk({"apply", "-f", path});
  WriteFile("db.yaml", std::regex_replace(manifest, std::regex("b2xk"),
                                          base::Base64Encode("new")));

  // kubectl's own manager may change what client-side apply last set.
  std::string applied = KubectlOk({"apply", "--server-side", "-f", path});

  EXPECT_EQ(applied, "secret/db serverside-applied\n");
  EXPECT_EQ(StoredData("default", "db", "password"), "new");
  const Json metadata = StoredSecret("default", "db")["metadata"];
  EXPECT_THAT(metadata["annotations"].value(
                  "kubectl.kubernetes.io/last-applied-configuration", ""),
              HasSubstr(base::Base64Encode("new")));
  for (const Json& entry : metadata["managedFields"]) {
    EXPECT_NE(entry["manager"], "kubectl-client-side-apply") << entry.dump();
  }
}

TEST_F(KubectlTest, ServerSideApplyRemovesDroppedFields) {
  const std::string path = WriteFile("app.yaml", R"(apiVersion: v1
kind: Secret
metadata:
  name: app
  labels:
    app: web
data:
  a: MQ==
  b: Mg==
)");
  KubectlOk({"apply", "--server-side", "-f", path});
  KubectlOk({"label", "secret", "app", "team=payments"});
  WriteFile("app.yaml", R"(apiVersion: v1
kind: Secret
metadata:
  name: app
data:
  a: MQ==
)");

  std::string applied = KubectlOk({"apply", "--server-side", "-f", path});
  std::string keys = KubectlOk({"get", "secret", "app", "-o",
                                "jsonpath={.data}{\" \"}{.metadata.labels}"});

  EXPECT_EQ(applied, "secret/app serverside-applied\n");
  // The label that another manager set stays.
  EXPECT_EQ(keys, R"({"a":"MQ=="} {"team":"payments"})");
}

TEST_F(KubectlTest, GetShowsManagedFieldsOnlyWhenAsked) {
  KubectlOk({"create", "secret", "generic", "db", "--from-literal=a=1"});

  std::string json = KubectlOk({"get", "secret", "db", "-o", "json"});
  std::string yaml = KubectlOk({"get", "secret", "db", "-o", "yaml"});
  std::string shown =
      KubectlOk({"get", "secret", "db", "-o", "json", "--show-managed-fields"});
  std::string shown_yaml =
      KubectlOk({"get", "secret", "db", "-o", "yaml", "--show-managed-fields"});

  Json object = Json::parse(json, nullptr, false);
  ASSERT_TRUE(object.is_object()) << json;
  EXPECT_FALSE(object["metadata"].contains("managedFields")) << json;
  EXPECT_FALSE(HasLine(yaml, "  managedFields:")) << yaml;
  Json with_fields = Json::parse(shown, nullptr, false);
  ASSERT_TRUE(with_fields.is_object()) << shown;
  const Json managed = with_fields["metadata"]["managedFields"];
  ASSERT_EQ(managed.size(), 1u) << shown;
  EXPECT_EQ(managed[0]["manager"], "kubectl-create");
  EXPECT_EQ(managed[0]["operation"], "Update");
  EXPECT_EQ(managed[0]["apiVersion"], "v1");
  EXPECT_EQ(managed[0]["fieldsType"], "FieldsV1");
  EXPECT_EQ(managed[0]["time"], "2026-01-02T00:00:00Z");
  EXPECT_EQ(managed[0]["fieldsV1"],
            Json::parse(R"({"f:data":{".":{},"f:a":{}},"f:type":{}})"));
  EXPECT_TRUE(HasLine(shown_yaml, "  managedFields:")) << shown_yaml;
  EXPECT_TRUE(HasLine(shown_yaml, "    manager: kubectl-create")) << shown_yaml;
}

TEST_F(KubectlTest, EditAndLabelRecordTheirManagers) {
  KubectlOk({"create", "secret", "generic", "db", "--from-literal=a=1"});
  const std::string editor =
      WriteFile("editor.sh", "#!/bin/sh\nsed -i 's/a: MQ==/a: Mg==/' \"$1\"\n");
  chmod(editor.c_str(), 0755);

  ProcessResult edited =
      Kubectl({"edit", "secret", "db"}, "", {{"KUBE_EDITOR", editor}});
  KubectlOk({"label", "secret", "db", "tier=backend"});

  EXPECT_EQ(edited.exit_code, 0) << edited.err;
  const Json managed =
      StoredSecret("default", "db")["metadata"]["managedFields"];
  std::map<std::string, Json> by_manager;
  for (const Json& entry : managed) {
    by_manager[entry.value("manager", "")] = entry["fieldsV1"];
  }
  EXPECT_EQ(by_manager["kubectl-create"],
            Json::parse(R"({"f:data":{},"f:type":{}})"));
  EXPECT_EQ(by_manager["kubectl-edit"],
            Json::parse(R"({"f:data":{"f:a":{}}})"));
  EXPECT_EQ(by_manager["kubectl-label"],
            Json::parse(R"({"f:metadata":{"f:labels":{".":{},"f:tier":{}}}})"));
}

TEST_F(KubectlTest, ServerSideApplyUnknownFieldFails) {
  const std::string path = WriteFile("bad.yaml", R"(apiVersion: v1
kind: Secret
metadata:
  name: bad
spec:
  replicas: 1
)");

  ProcessResult applied = Kubectl({"apply", "--server-side", "-f", path});

  EXPECT_EQ(applied.exit_code, 1);
  EXPECT_EQ(applied.err,
            "Error from server: failed to create typed patch object "
            "(default/bad; /v1, Kind=Secret): .spec: field not declared in "
            "schema\n");
  EXPECT_FALSE(registry_->Get(SecretsResource(), "default", "bad").ok());
}

TEST_F(KubectlTest, ReplaceWithStaleVersionConflicts) {
  KubectlOk({"create", "secret", "generic", "db", "--from-literal=a=1"});
  const std::string old_copy =
      WriteFile("old.json", KubectlOk({"get", "secret", "db", "-o", "json"}));
  KubectlOk({"label", "secret", "db", "changed=yes"});

  ProcessResult replaced = Kubectl({"replace", "-f", old_copy});

  EXPECT_EQ(replaced.exit_code, 1);
  EXPECT_EQ(replaced.err,
            "Error from server (Conflict): error when replacing \"" + old_copy +
                "\": Operation cannot be fulfilled on secrets \"db\": the "
                "object has been modified; please apply your changes to the "
                "latest version and try again\n");
  EXPECT_EQ(StoredSecret("default", "db")["metadata"]["labels"]["changed"],
            "yes");
}

TEST_F(KubectlTest, ReplaceWithCurrentVersionWrites) {
  KubectlOk({"create", "secret", "generic", "db", "--from-literal=a=1"});
  Json object = Json::parse(KubectlOk({"get", "secret", "db", "-o", "json"}),
                            nullptr, false);
  object["data"]["a"] = base::Base64Encode("2");

  std::string replaced = KubectlOk({"replace", "-f", "-"}, object.dump());

  EXPECT_EQ(replaced, "secret/db replaced\n");
  EXPECT_EQ(StoredData("default", "db", "a"), "2");
}

TEST_F(KubectlTest, DeleteThenGetIsNotFound) {
  KubectlOk({"create", "secret", "generic", "db", "--from-literal=a=1"});

  std::string deleted = KubectlOk({"delete", "secret", "db"});
  ProcessResult get = Kubectl({"get", "secret", "db"});
  ProcessResult delete_again = Kubectl({"delete", "secret", "db"});

  EXPECT_EQ(deleted, "secret \"db\" deleted\n");
  EXPECT_EQ(get.exit_code, 1);
  EXPECT_EQ(get.err,
            "Error from server (NotFound): secrets \"db\" not found\n");
  EXPECT_EQ(delete_again.exit_code, 1);
  EXPECT_EQ(delete_again.err,
            "Error from server (NotFound): secrets \"db\" not found\n");
  EXPECT_FALSE(registry_->RawValue(SecretsResource(), "default", "db").ok());
}

TEST_F(KubectlTest, ServerDryRunWritesNothing) {
  KubectlOk({"create", "secret", "generic", "db", "--from-literal=a=1"});
  const int64_t revision = store_->CurrentRevision();

  std::string deleted =
      KubectlOk({"delete", "secret", "db", "--dry-run=server"});
  std::string created = KubectlOk({"create", "secret", "generic", "new",
                                   "--from-literal=a=1", "--dry-run=server"});
  std::string labeled =
      KubectlOk({"label", "secret", "db", "team=a", "--dry-run=server"});

  EXPECT_EQ(deleted, "secret \"db\" deleted (server dry run)\n");
  EXPECT_EQ(created, "secret/new created (server dry run)\n");
  EXPECT_EQ(labeled, "secret/db labeled (server dry run)\n");
  EXPECT_EQ(store_->CurrentRevision(), revision);
  EXPECT_EQ(StoredData("default", "db", "a"), "1");
  EXPECT_FALSE(StoredSecret("default", "db")["metadata"].contains("labels"));
  EXPECT_FALSE(registry_->Get(SecretsResource(), "default", "new").ok());
}

TEST_F(KubectlTest, InvalidSecretPrintsCause) {
  const std::string path = WriteFile("bad.yaml", R"(apiVersion: v1
kind: Secret
metadata:
  name: Bad_Name
stringData:
  a: b
)");

  ProcessResult created = Kubectl({"create", "-f", path});

  EXPECT_EQ(created.exit_code, 1);
  EXPECT_EQ(created.err,
            "The Secret \"Bad_Name\" is invalid: metadata.name: Invalid "
            "value: \"Bad_Name\": a lowercase RFC 1123 subdomain must consist "
            "of lower case alphanumeric characters, '-' or '.', and must start "
            "and end with an alphanumeric character (e.g. 'example.com', regex "
            "used for validation is "
            "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
            "')\n");
}

TEST_F(KubectlTest, SetBasedLabelSelectors) {
  KubectlOk({"create", "secret", "generic", "a", "--from-literal=k=1"});
  KubectlOk({"create", "secret", "generic", "b", "--from-literal=k=1"});
  KubectlOk({"label", "secret", "a", "team=x"});

  std::string in = KubectlOk({"get", "secrets", "-l", "team in (x,y)", "-o",
                              "jsonpath={.items[*].metadata.name}"});
  std::string absent = KubectlOk({"get", "secrets", "-l", "!team", "-o",
                                  "jsonpath={.items[*].metadata.name}"});
  // kubectl wraps the server's message in its own words.
  ProcessResult invalid = Kubectl({"get", "secrets", "-l", "!!"});

  EXPECT_EQ(in, "a");
  EXPECT_EQ(absent, "b");
  EXPECT_EQ(invalid.exit_code, 1);
  EXPECT_EQ(invalid.err,
            "Error from server (BadRequest): Unable to find \"/v1, "
            "Resource=secrets\" that match label selector \"!!\", field "
            "selector \"\": unable to parse requirement: found '!', "
            "expected: identifier\n");
}

TEST_F(KubectlTest, WatchSeesAdditionsChangesAndDeletions) {
  KubectlOk({"create", "namespace", "watched"});
  std::vector<std::string> argv = {
      KUBECTL_PATH, "--kubeconfig", kubeconfig_,
      "get",        "secrets",      "-n",
      "watched",    "--watch",      "--output-watch-events"};
  ChildProcess watch(argv, Environment());
  ASSERT_TRUE(watch.started());
  auto until_line = [&watch](const std::string& pattern) {
    return watch.WaitFor(
        [&pattern](const std::string& out, const std::string&) {
          return HasLine(out, pattern);
        },
        kCommandLimit);
  };

  KubectlOk({"create", "secret", "generic", "w1", "-n", "watched",
             "--from-literal=a=1"});
  const bool added = until_line(R"(ADDED +w1 +Opaque +1 +\S+)");
  KubectlOk({"patch", "secret", "w1", "-n", "watched", "-p",
             R"({"data":{"b":"Mg=="}})"});
  const bool modified = until_line(R"(MODIFIED +w1 +Opaque +2 +\S+)");
  KubectlOk({"delete", "secret", "w1", "-n", "watched"});
  const bool deleted = until_line(R"(DELETED +w1 +Opaque +2 +\S+)");
  watch.Kill();

  EXPECT_TRUE(added) << watch.out() << watch.err();
  EXPECT_TRUE(modified) << watch.out() << watch.err();
  EXPECT_TRUE(deleted) << watch.out() << watch.err();
  std::vector<std::string> lines = Lines(watch.out());
  ASSERT_EQ(lines.size(), 4u) << watch.out();
  EXPECT_TRUE(
      std::regex_match(lines[0], std::regex(R"(EVENT +NAME +TYPE +DATA +AGE)")))
      << lines[0];
}

// After a key rotation in the KMS (a new key version, so a new key_id),
// the documented rewrite moves every Secret in every namespace to the new
// key_id. A second rewrite finds every Secret current and writes nothing.
TEST_F(KubectlTest, RewriteAfterRotationReencryptsEverySecret) {
  KubectlOk({"create", "namespace", "team-a"});
  for (const auto& [ns, name] :
       std::vector<std::pair<std::string, std::string>>{
           {"default", "one"}, {"team-a", "two"}, {"kube-system", "three"}}) {
    KubectlOk({"create", "secret", "generic", name, "-n", ns,
               "--from-literal=value=" + name});
  }
  const std::string old_key_id = kms_transformer_->current_key_id();
  const int64_t wraps_before = KmsCalls("wrap");
  ASSERT_TRUE(kms_.Rotate(instance_id_, key_id_).ok());
  clock_.Advance(std::chrono::minutes(1));
  const std::string new_key_id = kms_transformer_->current_key_id();
  ASSERT_NE(new_key_id, old_key_id);
  const std::map<std::string, std::string> before = StoredKeyIds();

  ProcessResult rewrite =
      Pipeline("kubectl get secrets -A -o json | kubectl replace -f -");
  const std::map<std::string, std::string> after = StoredKeyIds();
  auto listed = registry_->List(SecretsResource(), "");
  ASSERT_TRUE(listed.ok()) << listed.status();
  ProcessResult again =
      Pipeline("kubectl get secrets -A -o json | kubectl replace -f -");
  auto listed_again = registry_->List(SecretsResource(), "");
  ASSERT_TRUE(listed_again.ok()) << listed_again.status();

  const std::map<std::string, std::string> all_old = {
      {"default/one", old_key_id},
      {"kube-system/three", old_key_id},
      {"team-a/two", old_key_id}};
  const std::map<std::string, std::string> all_new = {
      {"default/one", new_key_id},
      {"kube-system/three", new_key_id},
      {"team-a/two", new_key_id}};
  EXPECT_EQ(before, all_old);
  EXPECT_EQ(rewrite.exit_code, 0) << rewrite.err;
  std::vector<std::string> replaced = Lines(rewrite.out);
  std::sort(replaced.begin(), replaced.end());
  EXPECT_EQ(replaced, (std::vector<std::string>{"secret/one replaced",
                                                "secret/three replaced",
                                                "secret/two replaced"}));
  EXPECT_EQ(after, all_new);
  // One new DEK seed for the new key_id, wrapped when the status poll saw
  // it, not one per Secret.
  EXPECT_EQ(KmsCalls("wrap") - wraps_before, 1);
  EXPECT_EQ(StoredData("team-a", "two", "value"), "two");
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ((*listed_again)["metadata"]["resourceVersion"],
            (*listed)["metadata"]["resourceVersion"]);
}

TEST_F(KubectlTest, WrongTokenIsUnauthorized) {
  const std::string bad_config =
      WriteFile("bad-kubeconfig", server_->Kubeconfig("not-the-token"));

  ProcessResult result =
      RunProcess({KUBECTL_PATH, "--kubeconfig", bad_config, "get", "secrets"},
                 {{"HOME", home_}}, "", kCommandLimit);

  // kubectl's discovery receives the 401 first and prints its own message.
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.out, "");
  ASSERT_FALSE(Lines(result.err).empty());
  EXPECT_EQ(Lines(result.err).back(),
            "error: You must be logged in to the server (the server has asked "
            "for the client to provide credentials)");
}

}  // namespace
}  // namespace apiserver
