#include "base/status.h"

#include <gtest/gtest.h>

namespace base {
namespace {

StatusOr<int> Half(int n) {
  if (n % 2 != 0) return InvalidArgumentError("odd: " + std::to_string(n));
  return n / 2;
}

StatusOr<int> Quarter(int n) {
  ASSIGN_OR_RETURN(int half, Half(n));
  return Half(half);
}

TEST(StatusOr, CarriesValueOrError) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_EQ(Quarter(6).status().message(), "odd: 3");
  EXPECT_EQ(Quarter(6).status().code(), Code::kInvalidArgument);
}

TEST(Status, ToStringNamesCodeAndReason) {
  Status status = NotFoundError("key gone", "KEY_DELETED_ERR");

  EXPECT_EQ(status.ToString(), "NOT_FOUND (KEY_DELETED_ERR): key gone");
  EXPECT_EQ(OkStatus().ToString(), "OK");
}

TEST(GrpcCodeNumber, MatchesGrpcNumbering) {
  EXPECT_EQ(GrpcCodeNumber(Code::kOk), 0);
  EXPECT_EQ(GrpcCodeNumber(Code::kCancelled), 1);
  EXPECT_EQ(GrpcCodeNumber(Code::kInvalidArgument), 3);
  EXPECT_EQ(GrpcCodeNumber(Code::kDeadlineExceeded), 4);
  EXPECT_EQ(GrpcCodeNumber(Code::kNotFound), 5);
  EXPECT_EQ(GrpcCodeNumber(Code::kAlreadyExists), 6);
  EXPECT_EQ(GrpcCodeNumber(Code::kPermissionDenied), 7);
  EXPECT_EQ(GrpcCodeNumber(Code::kResourceExhausted), 8);
  EXPECT_EQ(GrpcCodeNumber(Code::kFailedPrecondition), 9);
  EXPECT_EQ(GrpcCodeNumber(Code::kAborted), 10);
  EXPECT_EQ(GrpcCodeNumber(Code::kOutOfRange), 11);
  EXPECT_EQ(GrpcCodeNumber(Code::kUnimplemented), 12);
  EXPECT_EQ(GrpcCodeNumber(Code::kInternal), 13);
  EXPECT_EQ(GrpcCodeNumber(Code::kUnavailable), 14);
  EXPECT_EQ(GrpcCodeNumber(Code::kDataLoss), 15);
  EXPECT_EQ(GrpcCodeNumber(Code::kUnauthenticated), 16);
}

TEST(CodeFromGrpcNumber, InvertsGrpcCodeNumber) {
  for (int i = 0; i <= static_cast<int>(Code::kDataLoss); ++i) {
    const auto code = static_cast<Code>(i);
    EXPECT_EQ(CodeFromGrpcNumber(GrpcCodeNumber(code)), code) << CodeName(code);
  }
}

TEST(CodeFromGrpcNumber, UnknownIsInternal) {
  EXPECT_EQ(CodeFromGrpcNumber(2), Code::kInternal);
  EXPECT_EQ(CodeFromGrpcNumber(17), Code::kInternal);
  EXPECT_EQ(CodeFromGrpcNumber(-1), Code::kInternal);
}

TEST(Status, PayloadTravelsWithError) {
  Status status = AbortedError("conflict", "Conflict");
  status.SetPayload("example.com/causes", "[1]");
  status.SetPayload("example.com/causes", "[2]");
  Status copy = status;

  EXPECT_EQ(copy.GetPayload("example.com/causes"), "[2]");
  EXPECT_EQ(copy.GetPayload("example.com/other"), std::nullopt);
  EXPECT_EQ(copy, status);
  EXPECT_NE(copy, AbortedError("conflict", "Conflict"));
}

TEST(Status, OkStatusKeepsNoPayload) {
  Status status = OkStatus();

  status.SetPayload("example.com/causes", "[1]");

  EXPECT_EQ(status.GetPayload("example.com/causes"), std::nullopt);
  EXPECT_EQ(status, OkStatus());
}

}  // namespace
}  // namespace base
