#include "base/random.h"

#include <gtest/gtest.h>

#include <regex>

namespace base {
namespace {

TEST(SeededRandom, SameSeedSameBytes) {
  SeededRandom a(42);
  SeededRandom b(42);

  EXPECT_EQ(a.Bytes(100), b.Bytes(100));
  EXPECT_EQ(a.Uuid(), b.Uuid());
}

TEST(SeededRandom, DifferentSeedsDiffer) {
  SeededRandom a(1);
  SeededRandom b(2);

  EXPECT_NE(a.Bytes(32), b.Bytes(32));
}

TEST(Random, UuidIsVersion4) {
  SecureRandom random;

  std::string uuid = random.Uuid();

  EXPECT_TRUE(std::regex_match(
      uuid, std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                       "[0-9a-f]{12}")))
      << uuid;
}

TEST(Random, UniformStaysInBound) {
  SeededRandom random(7);

  for (int i = 0; i < 1000; ++i) EXPECT_LT(random.Uniform(10), 10u);
}

}  // namespace
}  // namespace base
