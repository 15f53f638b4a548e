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
// token table (or one issued by POST /identity/token) and
// `bluemix-instance: <instance id>`. Instances of type Key Protect and Hyper
// Protect Crypto Services serve the same API; only the CRNs differ. A
// request with a body needs content-type application/json or
// application/vnd.ibm.kms.<name>+json. Errors use Key Protect's body
// {"metadata":{"collectionType":"application/vnd.ibm.kms.error+json",
// "collectionTotal":1},"resources":[{"errorMsg":..., "reasons":[{"code",
// "message","status","moreInfo"}]}]}, with a "target" naming the field,
// header or query parameter for input errors. A request that fails
// validation changes nothing.
//
// Injected faults (faults.h) apply to every /api/v2 request before its
// token is checked, with the operation names of KeyService::CallCounts
// (plus list_versions and list_registrations). A request that a fault
// fails never reaches the KeyService, so its CallCounts do not count it.
//
// IAM token stand-in, for SDKs configured with an IAM API key:
//   POST /identity/token   form grant_type=urn:ibm:params:oauth:grant-type:
//                          apikey&apikey=K. K must be the apikey of an entry
//                          of the token table; the returned access_token (a
//                          JWT, expiring after an hour of the API's clock)
//                          carries that entry's role and instances.
//
// Control endpoints, outside Key Protect's API, for tests and harnesses
// (served unless ApiOptions::control is false; they need no token, since
// the server is meant for loopback only; bodies and responses are JSON):
//   GET    /control/faults        {"faults":[fault...]}
//   POST   /control/faults        adds a fault, returns it (201). Fields:
//            kind: "latency"|"error"|"outage" (required)
//            operation, instance, key: scope (optional; empty matches any)
//            latency: "250ms", "2s", ... (latency)
//            status: 400..599 (error; default 503), reason, message
//            mode: "refuse"|"hang" (outage; default refuse)
//            nth, rate, seed, max_hits: trigger (faults.h)
//            duration: "30s" (optional; the fault removes itself after
//            that long on the API's clock)
//          A returned fault also has id, matched, hits and added_latency.
//   GET    /control/faults/{id}   one fault; 404 when unknown
//   DELETE /control/faults/{id}   removes it (204; 404 when unknown)
//   DELETE /control/faults        removes every fault (204)
//   GET    /control/events        a chunked stream of key events, one JSON
//          object per line: {"type":"disabled","instance":...,"key":...,
//          "time":RFC 3339}. Optional filters: instance, key and type (a
//          comma-separated list of event names). The response header is
//          sent once the subscription is active.
//   GET    /control/instances     {"instances":[{id,name,type,region}]},
//          type "key-protect" or "hpcs"
//   POST   /control/instances     {"id"?, "name", "type"?} (201); the
//          region is always us-south
//   GET    /control/clock         {"now": RFC 3339, "simulated": bool}
//   POST   /control/clock         {"advance": "31s"} or {"to": RFC 3339};
//          409 unless ApiOptions::simulated_clock is set
//   GET    /control/calls         KeyService::CallCounts as
//          {"calls":{"wrap":{"ok":N,"failed":M},...}}
//
// Thread-safe: Handle may run on several threads at once.
#ifndef KMS_MOCK_API_H_
#define KMS_MOCK_API_H_

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/random.h"
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
  // The IAM API key that POST /identity/token exchanges for a token with
  // this grant; none when empty.
  std::string api_key;
};

// Bearer token -> grant.
using TokenTable = std::map<std::string, AccessGrant>;

// Parses a token file in YAML:
//   tokens:
//     - token: s3cret-writer
//       role: Writer            # Reader, Writer or Manager
//       instances: [<id>, ...]  # optional; every instance when absent
//       apikey: <IAM API key>   # optional; see POST /identity/token
// Fails with kInvalidArgument naming the entry that is malformed.
base::StatusOr<TokenTable> ParseTokens(const std::string& yaml_text);
base::StatusOr<TokenTable> LoadTokenFile(const std::string& path);

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, e.g. "/api/v2/keys?limit=10"
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
};

// The filter of GET /control/events; an empty field matches every event.
struct EventFilter {
  std::string instance_id;
  std::string key_id;
  std::vector<KeyEventType> types;

  bool Matches(const KeyEvent& event) const;
};

// Delivery of a response by the server. Values other than kSend come from
// an injected outage.
enum class Delivery {
  kSend,
  kHang,   // read the request, never respond; close when the fault is gone
  kReset,  // close the connection at once, without a response
};

struct HttpResponse {
  int status = 200;
  std::map<std::string, std::string> headers;  // content-type included
  std::string body;

  Delivery delivery = Delivery::kSend;
  // Injected latency: send no earlier than this time of the API's clock.
  std::optional<base::Time> send_at;
  uint64_t fault_id = 0;  // the fault behind kHang or kReset
  // Set for GET /control/events: the server responds with a stream of the
  // matching events instead of `body`.
  std::optional<EventFilter> events;
};

// JSON line of one event, as GET /control/events streams it ("\n" ends it).
std::string EventJsonLine(const KeyEvent& event);

struct ApiOptions {
  // Serves the /control/ endpoints.
  bool control = true;
  // The service's clock, when it is simulated: POST /control/clock moves it.
  base::SimulatedClock* simulated_clock = nullptr;
  // Lifetime of tokens issued by POST /identity/token (IAM's is an hour).
  base::Duration issued_token_lifetime = std::chrono::hours(1);
  // Source of issued tokens; a base::SecureRandom when null. Must outlive
  // the API object.
  base::Random* random = nullptr;
};

namespace api_internal {
class IssuedTokens;  // api_internal.h
}  // namespace api_internal

class KeyProtectApi {
 public:
  // `service` and `clock` (the service's clock, used for the restoreAllowed
  // and purgeAllowed fields, token expiry and injected latency) must outlive
  // the API object, and so must options.simulated_clock.
  KeyProtectApi(KeyService& service, base::Clock& clock, TokenTable tokens,
                ApiOptions options = {});
  ~KeyProtectApi();

  HttpResponse Handle(const HttpRequest& request);

  // The 400 response for a request whose body is larger than `limit` bytes;
  // the server sends it without passing the request to Handle.
  static HttpResponse BodyTooLarge(size_t limit);

  KeyService& service() { return service_; }
  base::Clock& clock() { return clock_; }

 private:
  HttpResponse HandleKeyProtect(const HttpRequest& request);
  // Returns the grant of the request's bearer token, from the table or
  // issued by the IAM stand-in; nullopt when there is none.
  std::optional<AccessGrant> FindGrant(const HttpRequest& request) const;

  KeyService& service_;
  base::Clock& clock_;
  const TokenTable tokens_;
  const ApiOptions options_;
  std::unique_ptr<api_internal::IssuedTokens> issued_;
};

}  // namespace kms

#endif  // KMS_MOCK_API_H_
