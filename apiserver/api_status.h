// The Kubernetes v1 Status of a failed API call, as the HTTP layer sends it,
// for callers that run the registry in process and need the same HTTP code,
// reason and message that a client over HTTP would see.
#ifndef APISERVER_API_STATUS_H_
#define APISERVER_API_STATUS_H_

#include <string>

#include "apiserver/registry.h"
#include "base/status.h"

namespace apiserver {

// Builds the v1 Status body of a failed request. It has "code" (the HTTP
// status), "reason" (Status::reason() when set, else the StatusReason of
// its code) and "message". For the reasons that name an object, "details"
// come from `resource` and `name` as upstream's errors fill them; a
// status with a kStatusCausesPayload payload (field_manager.h) has those
// causes as its details instead, and one with a kStatusDetailsPayload
// payload (validation.h) has those details, even when empty. An InternalError
// message gains upstream's "Internal error occurred: " prefix. Reason "Unknown"
// is upstream's empty StatusReason: HTTP 500 and no "reason" field. REQUIRES:
// !status.ok().
Json FailureStatus(const base::Status& status,
                   const Resource* resource = nullptr,
                   const std::string& name = "");

}  // namespace apiserver

#endif  // APISERVER_API_STATUS_H_
