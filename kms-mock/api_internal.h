// Private to kms-mock: the pieces of KeyProtectApi shared by api.cc (tokens,
// routing, authorization, faults), api_handlers.cc (request bodies,
// handlers, JSON rendering), control_api.cc (the /control/ endpoints) and
// iam.cc (the IAM token stand-in).
#ifndef KMS_MOCK_API_INTERNAL_H_
#define KMS_MOCK_API_INTERNAL_H_

#include <expected>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/http.h"
#include "kms-mock/api.h"
#include "kms-mock/kms.h"

namespace kms::api_internal {

using Json = nlohmann::json;

inline constexpr std::string_view kReasonUnauthorized = "UNAUTHORIZED_ERR";
inline constexpr std::string_view kReasonBadBody = "BAD_BODY_ERR";
inline constexpr std::string_view kReasonNoBody = "NO_BODY_ERR";
inline constexpr std::string_view kReasonCollectionMismatch =
    "COLLECTION_TOTAL_MISMATCH_ERR";

// A rejected request: HTTP status, Key Protect reason code, message and,
// for input errors, the part of the request at fault.
struct ApiError {
  int status = 500;
  std::string code;
  std::string message;
  std::string target_type;  // "field", "header", "query", "path" or empty
  std::string target_name;
};

ApiError InvalidField(std::string name, std::string message,
                      std::string type = "field");
ApiError BadBody(std::string message);
// Maps a KeyService error to its HTTP status by reason, else by code.
ApiError FromStatus(const base::Status& status);

using Target = base::RequestTarget;

enum class Operation {
  kListKeys,
  kCountKeys,
  kCreateKey,
  kGetKey,
  kGetMetadata,
  kDeleteKey,
  kAction,
  kRestore,
  kPurge,
  kListVersions,
  kListKeyRegistrations,
  kListInstanceRegistrations,
  kRegister,
  kUnregister,
};

struct Route {
  Operation operation = Operation::kListKeys;
  Role role = Role::kReader;  // the minimum role allowed to call it
  // Start of Key Protect's errorMsg, e.g. "Key could not be deleted".
  std::string_view summary;
  std::string key_id;
  std::string action;
  std::string resource_crn;
};

// One authorized request on its way to a handler.
struct Call {
  KeyService& service;
  base::Clock& clock;
  const HttpRequest& request;
  const Target& target;
  const Route& route;
  const Instance& instance;
  Role role;  // the caller's role
};

HttpResponse JsonResponse(int status, const Json& body);
HttpResponse ErrorResponse(const ApiError& error, std::string_view summary);

// Runs the handler of call.route.operation.
HttpResponse Dispatch(const Call& call);

// Splits a request target into percent-decoded path segments and query
// parameters; a repeated parameter joins its values with commas.
std::expected<Target, ApiError> ParseTarget(std::string_view target);

// Tokens issued by the IAM stand-in, each with the grant of the API key it
// was exchanged for. Thread-safe.
class IssuedTokens {
 public:
  struct Issued {
    std::string token;  // a JWT
    base::Time issued_at;
    base::Time expires_at;
  };

  // `random` must outlive the object; a SecureRandom is used when null.
  explicit IssuedTokens(base::Random* random);

  // Issues a token with `grant`, valid from `now` for `lifetime`. Expired
  // tokens are dropped on the way.
  Issued Issue(const AccessGrant& grant, base::Time now,
               base::Duration lifetime);
  // Returns the grant of an issued token that has not expired at `now`.
  std::optional<AccessGrant> Find(const std::string& token,
                                  base::Time now) const;

 private:
  struct Entry {
    AccessGrant grant;
    base::Time expires_at;
  };

  std::unique_ptr<base::Random> own_random_;
  base::Random& random_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> tokens_;  // guarded by mu_
  uint64_t next_subject_ = 1;            // guarded by mu_
};

// POST /identity/token: exchanges an API key of `tokens` for a JWT.
HttpResponse HandleIdentityToken(const HttpRequest& request,
                                 const TokenTable& tokens, IssuedTokens& issued,
                                 base::Time now, base::Duration lifetime);

// The /control/ endpoints of api.h.
struct ControlContext {
  KeyService& service;
  base::Clock& clock;
  const ApiOptions& options;
};
HttpResponse HandleControl(const ControlContext& context,
                           const HttpRequest& request, const Target& target);

}  // namespace kms::api_internal

#endif  // KMS_MOCK_API_INTERNAL_H_
