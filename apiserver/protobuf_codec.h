// Decoding of Kubernetes' protobuf wire form ("application/vnd.kubernetes.
// protobuf") for the kinds the API server serves. kubectl's typed commands,
// such as `kubectl create secret generic`, send bodies in this form.
// Internal to the apiserver_http library.
#ifndef APISERVER_PROTOBUF_CODEC_H_
#define APISERVER_PROTOBUF_CODEC_H_

#include <nlohmann/json.hpp>
#include <string_view>

#include "base/status.h"

namespace apiserver {

inline constexpr std::string_view kProtobufContentType =
    "application/vnd.kubernetes.protobuf";

// Decodes "k8s\0" followed by a runtime.Unknown that wraps a v1 Secret,
// ConfigMap or Namespace, into the object's JSON form (data as base64, empty
// fields left out). Fails with kInvalidArgument, reason BadRequest, for
// other kinds or malformed bytes.
// NOTE: metadata.ownerReferences and metadata.managedFields are skipped.
base::StatusOr<nlohmann::json> DecodeKubernetesProtobuf(std::string_view body);

}  // namespace apiserver

#endif  // APISERVER_PROTOBUF_CODEC_H_
