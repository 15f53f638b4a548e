#include "base/crypto.h"

#include <gtest/gtest.h>

#include <string>

namespace base {
namespace {

const std::string kKey(32, 'k');
const std::string kNonce(12, 'n');

TEST(AesGcm, RoundTrips) {
  StatusOr<std::string> sealed = AesGcmSeal(kKey, kNonce, "secret", "aad");
  ASSERT_TRUE(sealed.ok()) << sealed.status();

  StatusOr<std::string> opened = AesGcmOpen(kKey, kNonce, *sealed, "aad");

  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, "secret");
  EXPECT_EQ(sealed->size(), 6 + kGcmTagSize);
  EXPECT_EQ(sealed->find("secret"), std::string::npos);
}

TEST(AesGcm, WrongAadFails) {
  std::string sealed = *AesGcmSeal(kKey, kNonce, "secret", "/registry/a");

  StatusOr<std::string> opened =
      AesGcmOpen(kKey, kNonce, sealed, "/registry/b");

  EXPECT_EQ(opened.status().code(), Code::kInvalidArgument);
}

TEST(AesGcm, EveryFlippedBitFails) {
  std::string sealed = *AesGcmSeal(kKey, kNonce, "secret", "aad");

  for (size_t byte = 0; byte < sealed.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string tampered = sealed;
      tampered[byte] = static_cast<char>(tampered[byte] ^ (1 << bit));
      EXPECT_FALSE(AesGcmOpen(kKey, kNonce, tampered, "aad").ok())
          << "byte " << byte << " bit " << bit;
    }
  }
}

TEST(AesGcm, WrongKeyFails) {
  std::string sealed = *AesGcmSeal(kKey, kNonce, "secret", "");

  EXPECT_FALSE(AesGcmOpen(std::string(32, 'x'), kNonce, sealed, "").ok());
}

TEST(AesGcm, RejectsBadKeyAndNonceSizes) {
  EXPECT_EQ(AesGcmSeal("short", kNonce, "x", "").status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(AesGcmSeal(kKey, "short", "x", "").status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(AesGcmOpen(kKey, kNonce, "tiny", "").status().code(),
            Code::kInvalidArgument);
}

// RFC 5869 appendix A.1.
TEST(Hkdf, MatchesRfc5869TestCase1) {
  std::string ikm(22, '\x0b');
  std::string salt = *Base64Decode("AAECAwQFBgcICQoLDA==");
  std::string info = *Base64Decode("8PHy8/T19vf4+Q==");

  StatusOr<std::string> okm = HkdfSha256(ikm, salt, info, 42);

  ASSERT_TRUE(okm.ok()) << okm.status();
  EXPECT_EQ(Base64Encode(*okm),
            "PLJfJfqs1XqQQ09k0DYvKi0tCpDPGlpMXbAtVuzExb80AHII1biHGFhl");
}

// RFC 5869 appendix A.1: the PRK that the extract step yields, expanded
// with the same info, gives the same OKM.
TEST(HkdfExpand, MatchesRfc5869TestCase1) {
  std::string prk =
      *Base64Decode("B3cJNiwuMt8N3D8NxHu6Y5C2xzu1D5wxIuyEStfCs+U=");
  std::string info = *Base64Decode("8PHy8/T19vf4+Q==");

  StatusOr<std::string> okm = HkdfSha256Expand(prk, info, 42);

  ASSERT_TRUE(okm.ok()) << okm.status();
  EXPECT_EQ(Base64Encode(*okm),
            "PLJfJfqs1XqQQ09k0DYvKi0tCpDPGlpMXbAtVuzExb80AHII1biHGFhl");
}

TEST(HkdfExpand, SkipsTheExtractStep) {
  std::string seed(32, 's');

  StatusOr<std::string> expanded = HkdfSha256Expand(seed, "info", 32);

  ASSERT_TRUE(expanded.ok()) << expanded.status();
  EXPECT_NE(*expanded, *HkdfSha256(seed, "", "info", 32));
  EXPECT_NE(*expanded, *HkdfSha256Expand(seed, "other", 32));
}

TEST(Hkdf, DifferentInfoGivesDifferentKeys) {
  std::string seed(32, 's');

  EXPECT_NE(*HkdfSha256(seed, "", "a", 32), *HkdfSha256(seed, "", "b", 32));
  EXPECT_EQ(*HkdfSha256(seed, "", "a", 32), *HkdfSha256(seed, "", "a", 32));
}

TEST(Base64, RoundTripsAllLengths) {
  std::string bytes;
  for (int i = 0; i < 40; ++i) {
    EXPECT_EQ(*Base64Decode(Base64Encode(bytes)), bytes) << i;
    bytes += static_cast<char>(i * 37);
  }
}

TEST(Base64, RejectsInvalidInput) {
  EXPECT_FALSE(Base64Decode("abc").ok());
  EXPECT_FALSE(Base64Decode("ab!d").ok());
  EXPECT_FALSE(Base64Decode("a=bc").ok());
  EXPECT_FALSE(Base64Decode("ab=c").ok());
  EXPECT_EQ(*Base64Decode("aGk="), "hi");
}

}  // namespace
}  // namespace base
