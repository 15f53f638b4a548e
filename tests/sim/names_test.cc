// Checks of user-given names: Key Protect's length rule for keys, the
// model's for instances, and no control characters anywhere.
#include "sim/names.h"

#include <gtest/gtest.h>

#include <string>

namespace sim {
namespace {

TEST(KeyName, LengthFromTwoToNinety) {
  EXPECT_EQ(ValidateKeyName("k").code(), base::Code::kInvalidArgument);
  EXPECT_TRUE(ValidateKeyName("kp").ok());
  EXPECT_TRUE(ValidateKeyName(std::string(90, 'k')).ok());
  EXPECT_EQ(ValidateKeyName(std::string(91, 'k')).code(),
            base::Code::kInvalidArgument);
}

TEST(KeyName, CountsCharactersNotBytes) {
  // 90 two-byte characters: 180 bytes.
  std::string umlauts;
  for (int i = 0; i < 90; ++i) umlauts += "\xC3\xBC";

  EXPECT_TRUE(ValidateKeyName(umlauts).ok());
  EXPECT_EQ(ValidateKeyName(umlauts + "u").code(),
            base::Code::kInvalidArgument);
}

TEST(KeyName, ControlCharactersAreRejected) {
  for (const std::string& name :
       {std::string("root\nkey"), std::string("root\tkey"),
        std::string("root\x7Fkey"), std::string("root\xC2\x85key"),
        std::string("root\0key", 8)}) {
    base::Status valid = ValidateKeyName(name);

    EXPECT_EQ(valid.code(), base::Code::kInvalidArgument);
    EXPECT_NE(valid.message().find("control character"), std::string::npos)
        << valid;
  }
}

TEST(InstanceName, LengthFromOneToNinety) {
  EXPECT_EQ(ValidateInstanceName("").code(), base::Code::kInvalidArgument);
  EXPECT_TRUE(ValidateInstanceName("k").ok());
  EXPECT_TRUE(ValidateInstanceName(std::string(90, 'k')).ok());
  EXPECT_EQ(ValidateInstanceName(std::string(91, 'k')).code(),
            base::Code::kInvalidArgument);
}

TEST(InstanceName, HugeNameGivesShortMessage) {
  base::Status valid = ValidateInstanceName(std::string(2 << 20, 'k'));

  EXPECT_EQ(valid.code(), base::Code::kInvalidArgument);
  EXPECT_LT(valid.message().size(), 200u) << valid;
  EXPECT_NE(valid.message().find("(2097152 characters)"), std::string::npos)
      << valid;
  EXPECT_NE(valid.message().find("use 1 to 90 characters"), std::string::npos)
      << valid;
}

TEST(QuoteForMessage, EscapesAndCuts) {
  EXPECT_EQ(QuoteForMessage("kp"), "\"kp\"");
  EXPECT_EQ(QuoteForMessage("a\nb\"c"), "\"a\\x0Ab\\x22c\"");
  EXPECT_EQ(QuoteForMessage(std::string(41, 'x')),
            "\"" + std::string(40, 'x') + "...\" (41 characters)");
}

}  // namespace
}  // namespace sim
