// Private to kms-mock: the pieces of KeyProtectApi shared by api.cc (tokens,
// routing, authorization) and api_handlers.cc (request bodies, handlers,
// JSON rendering).
#ifndef KMS_MOCK_API_INTERNAL_H_
#define KMS_MOCK_API_INTERNAL_H_

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
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

struct Target {
  std::vector<std::string> segments;  // percent-decoded path segments
  std::map<std::string, std::string> query;
};

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

}  // namespace kms::api_internal

#endif  // KMS_MOCK_API_INTERNAL_H_
