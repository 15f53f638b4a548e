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

}  // namespace
}  // namespace base
