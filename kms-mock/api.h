// KeyProtectApi: the Key Protect REST API v2 subset on top of a KeyService,
// independent of the network. The HTTP server (server.h) parses requests
// into HttpRequest and writes back the HttpResponse; tests may call Handle
// directly.
//
// Served paths (all under /api/v2):
//   GET|HEAD|POST /keys                  list (limit, offset, state,
//                                         extractable, totalCount), count,
//                                         create
//   GET|DELETE    /keys/{id}             get, delete (?force=true)
//   POST          /keys/{id}?action=A    the same as /keys/{id}/actions/A
//   POST          /keys/{id}/actions/{wrap|unwrap|rewrap|rotate|disable|
//                 enable|setKeyForDeletion|unsetKeyForDeletion}
//   GET           /keys/{id}/metadata    get, Destroyed keys included
//   POST          /keys/{id}/restore
//   DELETE        /keys/{id}/purge
//   GET           /keys/{id}/versions
//   GET           /keys/{id}/registrations, /keys/registrations
//   POST|DELETE   /keys/{id}/registrations/{url-encoded resource CRN}
//
// Every request needs `authorization: Bearer <token>` with a token from the
// token table and `bluemix-instance: <instance id>`. Errors use Key
// Protect's body {"metadata":{"collectionType":
// "application/vnd.ibm.kms.error+json","collectionTotal":1},"resources":[{
// "errorMsg":..., "reasons":[{"code","message","status","moreInfo"}]}]},
// with a "target" naming the field for input errors. A request that fails
// validation changes nothing.
//
// Thread-safe: Handle may run on several threads at once.
#ifndef KMS_MOCK_API_H_
#define KMS_MOCK_API_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "kms-mock/kms.h"

namespace kms {

// IAM service roles of Key Protect, each including the ones before it.
// Reader lists and reads metadata; Writer also creates keys, reads standard
// key payloads, wraps, unwraps, rewraps and rotates; Manager also disables,
// enables, deletes, restores, purges, sets keys for deletion and manages
// registrations.
enum class Role { kReader = 0, kWriter = 1, kManager = 2 };

// "Reader", "Writer" or "Manager".
std::string_view RoleName(Role role);
std::optional<Role> ParseRole(std::string_view name);

struct AccessGrant {
  Role role = Role::kReader;
  // Instance ids the token may use; every instance when empty.
  std::vector<std::string> instances;
};

// Bearer token -> grant.
using TokenTable = std::map<std::string, AccessGrant>;

// Parses a token file in YAML:
//   tokens:
//     - token: s3cret-writer
//       role: Writer            # Reader, Writer or Manager
//       instances: [<id>, ...]  # optional; every instance when absent
// Fails with kInvalidArgument naming the entry that is malformed.
base::StatusOr<TokenTable> ParseTokens(const std::string& yaml_text);
base::StatusOr<TokenTable> LoadTokenFile(const std::string& path);

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, e.g. "/api/v2/keys?limit=10"
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::map<std::string, std::string> headers;  // content-type included
  std::string body;
};

class KeyProtectApi {
 public:
  // `service` and `clock` (the service's clock, used for the restoreAllowed
  // and purgeAllowed fields) must outlive the API object.
  KeyProtectApi(KeyService& service, base::Clock& clock, TokenTable tokens);

  HttpResponse Handle(const HttpRequest& request);

  // The 400 response for a request whose body is larger than `limit` bytes;
  // the server sends it without reading the rest of the body.
  static HttpResponse BodyTooLarge(size_t limit);

 private:
  KeyService& service_;
  base::Clock& clock_;
  const TokenTable tokens_;
};

}  // namespace kms

#endif  // KMS_MOCK_API_H_
