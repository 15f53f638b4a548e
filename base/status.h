// Status and StatusOr: the error type used by every component.
//
// A Status carries a code chosen by what the caller should do next, a
// human-readable message, and an optional machine-readable reason (for
// example a Key Protect reason code such as "KEY_DELETED_ERR" or a Kubernetes
// StatusReason such as "Conflict"). Servers map codes to HTTP statuses in one
// place each. Status and StatusOr are values: copyable and not thread-safe.
#ifndef BASE_STATUS_H_
#define BASE_STATUS_H_

#include <cassert>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace base {

// Codes follow the canonical gRPC/Abseil set, chosen by how to react:
//   kUnavailable         retry the same call later.
//   kAborted             restart the read-modify-write (a conflict).
//   kFailedPrecondition  fix the system's state first, then retry.
//   kInvalidArgument     fix the request; retrying it cannot succeed.
enum class Code {
  kOk = 0,
  kCancelled,
  kInvalidArgument,
  kDeadlineExceeded,
  kNotFound,
  kAlreadyExists,
  kPermissionDenied,
  kUnauthenticated,
  kResourceExhausted,
  kFailedPrecondition,
  kAborted,
  kOutOfRange,
  kUnimplemented,
  kInternal,
  kUnavailable,
  kDataLoss,
};

// Returns the canonical upper-case name of `code`, e.g. "NOT_FOUND".
std::string_view CodeName(Code code);

// Returns gRPC's number for `code` (google.rpc.Code), e.g. 5 for kNotFound.
int GrpcCodeNumber(Code code);
// Returns the Code of a gRPC status code number, and kInternal for UNKNOWN
// (2) and for numbers that gRPC does not define.
Code CodeFromGrpcNumber(int number);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message, std::string reason = "")
      : code_(code), message_(std::move(message)), reason_(std::move(reason)) {}

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // Machine-readable reason in the vocabulary of the protocol that produced
  // the error; empty when there is none.
  const std::string& reason() const { return reason_; }

  // Returns "CODE: message" or "OK".
  std::string ToString() const;

  // Attaches structured details of the error under `type_url`, replacing
  // any payload already there, as absl::Status::SetPayload does. Does
  // nothing on an OK status.
  void SetPayload(std::string type_url, std::string payload);
  // Returns the payload under `type_url`, or nullopt when there is none.
  std::optional<std::string> GetPayload(std::string_view type_url) const;

  friend bool operator==(const Status&, const Status&) = default;

 private:
  Code code_ = Code::kOk;
  std::string message_;
  std::string reason_;
  std::map<std::string, std::string, std::less<>> payloads_;
};

inline Status OkStatus() { return Status(); }
inline Status InvalidArgumentError(std::string m, std::string r = "") {
  return Status(Code::kInvalidArgument, std::move(m), std::move(r));
}
inline Status NotFoundError(std::string m, std::string r = "") {
  return Status(Code::kNotFound, std::move(m), std::move(r));
}
inline Status AlreadyExistsError(std::string m, std::string r = "") {
  return Status(Code::kAlreadyExists, std::move(m), std::move(r));
}
inline Status FailedPreconditionError(std::string m, std::string r = "") {
  return Status(Code::kFailedPrecondition, std::move(m), std::move(r));
}
inline Status AbortedError(std::string m, std::string r = "") {
  return Status(Code::kAborted, std::move(m), std::move(r));
}
inline Status UnavailableError(std::string m, std::string r = "") {
  return Status(Code::kUnavailable, std::move(m), std::move(r));
}
inline Status PermissionDeniedError(std::string m, std::string r = "") {
  return Status(Code::kPermissionDenied, std::move(m), std::move(r));
}
inline Status InternalError(std::string m, std::string r = "") {
  return Status(Code::kInternal, std::move(m), std::move(r));
}
inline Status DataLossError(std::string m, std::string r = "") {
  return Status(Code::kDataLoss, std::move(m), std::move(r));
}
inline Status OutOfRangeError(std::string m, std::string r = "") {
  return Status(Code::kOutOfRange, std::move(m), std::move(r));
}
inline Status DeadlineExceededError(std::string m, std::string r = "") {
  return Status(Code::kDeadlineExceeded, std::move(m), std::move(r));
}

std::ostream& operator<<(std::ostream& os, const Status& status);

// Either a value of type T or a non-OK Status.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  // REQUIRES: !status.ok().
  StatusOr(Status status) : rep_(std::move(status)) {
    assert(!std::get<Status>(rep_).ok());
  }
  StatusOr(T value) : rep_(std::move(value)) {}

  bool ok() const { return std::holds_alternative<T>(rep_); }
  // Returns OK when a value is held.
  Status status() const { return ok() ? OkStatus() : std::get<Status>(rep_); }

  // REQUIRES: ok().
  T& value() & { return std::get<T>(rep_); }
  const T& value() const& { return std::get<T>(rep_); }
  T&& value() && { return std::get<T>(std::move(rep_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<Status, T> rep_;
};

}  // namespace base

#define BASE_CONCAT_INNER_(a, b) a##b
#define BASE_CONCAT_(a, b) BASE_CONCAT_INNER_(a, b)

// Returns from the enclosing function if `expr` yields a non-OK Status.
#define RETURN_IF_ERROR(expr)                      \
  do {                                             \
    ::base::Status status_macro_ = (expr);         \
    if (!status_macro_.ok()) return status_macro_; \
  } while (0)

// Declares `lhs` from a StatusOr-returning `expr`, or returns its error.
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL_(BASE_CONCAT_(status_or_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                           \
  if (!tmp.ok()) return tmp.status();          \
  lhs = std::move(tmp).value()

#endif  // BASE_STATUS_H_
