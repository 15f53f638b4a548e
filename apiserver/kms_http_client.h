// A KmsClient that reaches a Key Protect-compatible server (such as the
// kms-mock server) over plain HTTP/1.1, as a KMS v2 plugin for Key Protect
// would: Encrypt is POST /api/v2/keys/{id}/actions/wrap, Decrypt is .../
// unwrap, and Status is GET /api/v2/keys/{id}. key_id is "<key id>:<key
// version id>", as NewKeyServiceKmsClient reports it.
//
// Errors keep Key Protect's reason code in Status::reason() (for example
// KEY_ACTION_INVALID_STATE_ERR) with the server's message. A connection
// failure or timeout is kUnavailable. Each call opens its own connection,
// so the client is thread-safe.
#ifndef APISERVER_KMS_HTTP_CLIENT_H_
#define APISERVER_KMS_HTTP_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "apiserver/kms_client.h"
#include "base/clock.h"
#include "base/status.h"

namespace apiserver {

struct KeyProtectEndpoint {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  std::string token;        // sent as "authorization: Bearer <token>"
  std::string instance_id;  // sent as "bluemix-instance"
  std::string key_id;       // the root key
  // Limit on each call's connect, write and read, in wall-clock time.
  std::chrono::milliseconds timeout{3000};
};

std::unique_ptr<KmsClient> NewKeyProtectHttpClient(KeyProtectEndpoint endpoint);

}  // namespace apiserver

#endif  // APISERVER_KMS_HTTP_CLIENT_H_
