// ApiHandlerTest: an ApiHandler over a Registry with a KMS v2 provider, and
// StreamCollector, which gathers the lines of a watch stream. Shared by the
// apiserver's HTTP-level tests.
#ifndef TESTS_APISERVER_HANDLER_ENV_H_
#define TESTS_APISERVER_HANDLER_ENV_H_

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "apiserver/http_server.h"
#include "base/crypto.h"
#include "tests/apiserver/test_env.h"

namespace apiserver {

inline constexpr char kSecrets[] = "/api/v1/namespaces/default/secrets";

class ApiHandlerTest : public ApiserverEnv {
 protected:
  void SetUp() override {
    ApiserverEnv::SetUp();
    if (HasFatalFailure()) return;
    kms_transformer_ = NewKmsTransformer("kp");
    registry_ =
        std::make_unique<Registry>(*store_, kms_transformer_, clock_, random_);
    handler_ =
        std::make_unique<ApiHandler>(*registry_, clock_, HandlerOptions());
  }

  // The handler's options; fixtures override this to change them.
  virtual ApiHandlerOptions HandlerOptions() {
    ApiHandlerOptions options;
    options.kms_health = [this] { return kms_transformer_->Health(); };
    options.kms_stats = [this] {
      return std::map<std::string, KmsV2Stats>{
          {"kp", kms_transformer_->stats()}};
    };
    return options;
  }

  void TearDown() override {
    handler_.reset();
    registry_.reset();
    kms_transformer_.reset();
    ApiserverEnv::TearDown();
  }

  ApiResponse Send(const std::string& method, const std::string& target,
                   const std::string& body = "",
                   std::map<std::string, std::string> headers = {}) {
    return handler_->Handle(
        ApiRequest{method, target, std::move(headers), body});
  }

  static Json Body(const ApiResponse& response) {
    return Json::parse(response.body, nullptr, false);
  }

  static std::string SecretJson(const std::string& name) {
    return Json{{"apiVersion", "v1"},
                {"kind", "Secret"},
                {"metadata", {{"name", name}}},
                {"data", {{"password", base::Base64Encode("hunter2")}}}}
        .dump();
  }

  std::shared_ptr<KmsV2Transformer> kms_transformer_;
  std::unique_ptr<Registry> registry_;
  std::unique_ptr<ApiHandler> handler_;
};

// Collects the lines of a watch stream.
class StreamCollector {
 public:
  StreamSink Sink() {
    return [this](std::optional<std::string> line) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!line.has_value()) {
        ended_ = true;
        return;
      }
      events_.push_back(Json::parse(*line));
    };
  }

  std::vector<Json> events() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }

  // "ADDED s1", "MODIFIED s1", ... in order.
  std::vector<std::string> Summary() {
    std::vector<std::string> summary;
    for (const Json& event : events()) {
      summary.push_back(event["type"].get<std::string>() + " " +
                        event["object"]["metadata"].value("name", ""));
    }
    return summary;
  }

  bool ended() {
    std::lock_guard<std::mutex> lock(mu_);
    return ended_;
  }

 private:
  std::mutex mu_;
  std::vector<Json> events_;
  bool ended_ = false;
};

}  // namespace apiserver

#endif  // TESTS_APISERVER_HANDLER_ENV_H_
