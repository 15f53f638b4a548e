#include "base/status.h"

namespace base {

std::string_view CodeName(Code code) {
  switch (code) {
    case Code::kOk:
      return "OK";
    case Code::kCancelled:
      return "CANCELLED";
    case Code::kInvalidArgument:
      return "INVALID_ARGUMENT";
    case Code::kDeadlineExceeded:
      return "DEADLINE_EXCEEDED";
    case Code::kNotFound:
      return "NOT_FOUND";
    case Code::kAlreadyExists:
      return "ALREADY_EXISTS";
    case Code::kPermissionDenied:
      return "PERMISSION_DENIED";
    case Code::kUnauthenticated:
      return "UNAUTHENTICATED";
    case Code::kResourceExhausted:
      return "RESOURCE_EXHAUSTED";
    case Code::kFailedPrecondition:
      return "FAILED_PRECONDITION";
    case Code::kAborted:
      return "ABORTED";
    case Code::kOutOfRange:
      return "OUT_OF_RANGE";
    case Code::kUnimplemented:
      return "UNIMPLEMENTED";
    case Code::kInternal:
      return "INTERNAL";
    case Code::kUnavailable:
      return "UNAVAILABLE";
    case Code::kDataLoss:
      return "DATA_LOSS";
  }
  return "UNKNOWN";
}

int GrpcCodeNumber(Code code) {
  switch (code) {
    case Code::kOk:
      return 0;
    case Code::kCancelled:
      return 1;
    case Code::kInvalidArgument:
      return 3;
    case Code::kDeadlineExceeded:
      return 4;
    case Code::kNotFound:
      return 5;
    case Code::kAlreadyExists:
      return 6;
    case Code::kPermissionDenied:
      return 7;
    case Code::kResourceExhausted:
      return 8;
    case Code::kFailedPrecondition:
      return 9;
    case Code::kAborted:
      return 10;
    case Code::kOutOfRange:
      return 11;
    case Code::kUnimplemented:
      return 12;
    case Code::kInternal:
      return 13;
    case Code::kUnavailable:
      return 14;
    case Code::kDataLoss:
      return 15;
    case Code::kUnauthenticated:
      return 16;
  }
  return 2;  // UNKNOWN
}

Code CodeFromGrpcNumber(int number) {
  // Code's enumerators run from kOk to kDataLoss without gaps.
  for (int i = 0; i <= static_cast<int>(Code::kDataLoss); ++i) {
    const auto code = static_cast<Code>(i);
    if (GrpcCodeNumber(code) == number) return code;
  }
  return Code::kInternal;
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out(CodeName(code_));
  if (!reason_.empty()) out += " (" + reason_ + ")";
  out += ": " + message_;
  return out;
}

void Status::SetPayload(std::string type_url, std::string payload) {
  if (ok()) return;
  payloads_[std::move(type_url)] = std::move(payload);
}

std::optional<std::string> Status::GetPayload(std::string_view type_url) const {
  auto it = payloads_.find(type_url);
  if (it == payloads_.end()) return std::nullopt;
  return it->second;
}

std::ostream& operator<<(std::ostream& os, const Status& status) {
  return os << status.ToString();
}

}  // namespace base
