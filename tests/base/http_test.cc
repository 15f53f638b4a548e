#include "base/http.h"

#include <gtest/gtest.h>

namespace base {
namespace {

TEST(HttpStatusForCode, MapsEachClassOfError) {
  EXPECT_EQ(HttpStatusForCode(Code::kInvalidArgument), 400);
  EXPECT_EQ(HttpStatusForCode(Code::kOutOfRange), 400);
  EXPECT_EQ(HttpStatusForCode(Code::kUnauthenticated), 401);
  EXPECT_EQ(HttpStatusForCode(Code::kPermissionDenied), 403);
  EXPECT_EQ(HttpStatusForCode(Code::kNotFound), 404);
  EXPECT_EQ(HttpStatusForCode(Code::kUnimplemented), 405);
  EXPECT_EQ(HttpStatusForCode(Code::kAlreadyExists), 409);
  EXPECT_EQ(HttpStatusForCode(Code::kFailedPrecondition), 409);
  EXPECT_EQ(HttpStatusForCode(Code::kAborted), 409);
  EXPECT_EQ(HttpStatusForCode(Code::kUnavailable), 503);
  EXPECT_EQ(HttpStatusForCode(Code::kDeadlineExceeded), 504);
  EXPECT_EQ(HttpStatusForCode(Code::kInternal), 500);
  EXPECT_EQ(HttpStatusForCode(Code::kDataLoss), 500);
}

TEST(PercentDecode, DecodesEscapesAndPlus) {
  EXPECT_EQ(PercentDecode("crn%3Av1%2fx", false), "crn:v1/x");
  EXPECT_EQ(PercentDecode("a+b", false), "a+b");
  EXPECT_EQ(PercentDecode("a+b", true), "a b");
  EXPECT_EQ(PercentDecode("%2B", true), "+");
}

TEST(PercentDecode, RejectsMalformedEscapes) {
  EXPECT_EQ(PercentDecode("50%", false), std::nullopt);
  EXPECT_EQ(PercentDecode("%4", false), std::nullopt);
  EXPECT_EQ(PercentDecode("%zz", false), std::nullopt);
  EXPECT_EQ(PercentDecode("%+1", false), std::nullopt);
}

TEST(ParseRequestTarget, SplitsPathAndQuery) {
  auto target = ParseRequestTarget("//api/v2/keys/a%2Fb/?limit=10&x&q=a+b");

  ASSERT_TRUE(target.has_value());
  EXPECT_EQ(target->segments,
            (std::vector<std::string>{"api", "v2", "keys", "a/b"}));
  EXPECT_EQ(target->query.size(), 3u);
  EXPECT_EQ(target->query["limit"], "10");
  EXPECT_EQ(target->query["x"], "");
  EXPECT_EQ(target->query["q"], "a b");
}

TEST(ParseRequestTarget, JoinsRepeatedParameters) {
  auto target = ParseRequestTarget("/keys?state=1&&state=2");

  ASSERT_TRUE(target.has_value());
  EXPECT_EQ(target->query["state"], "1,2");
}

TEST(ParseRequestTarget, NamesTheMalformedPart) {
  auto path = ParseRequestTarget("/keys/50%zz");
  auto query = ParseRequestTarget("/keys?ok=1&sta%zte=1");

  ASSERT_FALSE(path.has_value());
  EXPECT_EQ(path.error().part, "path");
  EXPECT_EQ(path.error().name, "path");
  EXPECT_EQ(path.error().message, "invalid percent-encoding in the path");
  ASSERT_FALSE(query.has_value());
  EXPECT_EQ(query.error().part, "query");
  EXPECT_EQ(query.error().name, "sta%zte");
  EXPECT_EQ(query.error().message, "invalid percent-encoding in the query");
}

TEST(JoinHostPort, BracketsIpv6) {
  EXPECT_EQ(JoinHostPort("127.0.0.1", 8080), "127.0.0.1:8080");
  EXPECT_EQ(JoinHostPort("::1", 8080), "[::1]:8080");
  EXPECT_EQ(JoinHostPort("localhost", 80), "localhost:80");
}

}  // namespace
}  // namespace base
