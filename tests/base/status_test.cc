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
