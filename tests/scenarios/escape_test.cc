// Escaping of scenario text for the terminal (scenarios/engine/escape.h).
#include "scenarios/engine/escape.h"

#include <gtest/gtest.h>

#include <string>

namespace scenarios {
namespace {

TEST(ReplayTerminal, EscapesControlCharacters) {
  EXPECT_EQ(EscapeForTerminal("a\nb\tc\x1b[31m\x7f"),
            "a\\x0ab\\x09c\\x1b[31m\\x7f");
  EXPECT_EQ(EscapeForTerminal("next\xc2\x85line"), "next\\u0085line");
}

TEST(ReplayTerminal, EscapesBidiAndFormatCharacters) {
  // U+202E right-to-left override, U+2066 left-to-right isolate, U+200B
  // zero-width space, U+FEFF byte order mark, U+2028 line separator.
  EXPECT_EQ(EscapeForTerminal("safe\xe2\x80\xae"
                              "cod.exe"),
            "safe\\u202ecod.exe");
  EXPECT_EQ(EscapeForTerminal("\xe2\x81\xa6x\xe2\x80\x8by\xef\xbb\xbfz"),
            "\\u2066x\\u200by\\ufeffz");
  EXPECT_EQ(EscapeForTerminal("a\xe2\x80\xa8"
                              "b"),
            "a\\u2028b");
  // U+E0041 TAG LATIN CAPITAL LETTER A, beyond U+FFFF.
  EXPECT_EQ(EscapeForTerminal("flag\xf3\xa0\x81\x81"), "flag\\U000e0041");
  // U+00AD soft hyphen.
  EXPECT_EQ(EscapeForTerminal("soft\xc2\xad"
                              "hyphen"),
            "soft\\u00adhyphen");
}

TEST(ReplayTerminal, KeepsPrintableUnicode) {
  std::string text =
      "caf\xc3\xa9 \xf0\x9f\x94\x91 \xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d";

  EXPECT_EQ(EscapeForTerminal(text), text);
}

TEST(ReplayTerminal, EscapesBytesThatAreNotUtf8) {
  EXPECT_EQ(EscapeForTerminal("a\x9b"
                              "31m"),
            "a\\x9b31m");
  EXPECT_EQ(EscapeForTerminal("overlong\xc0\xaf"), "overlong\\xc0\\xaf");
  EXPECT_EQ(EscapeForTerminal("cut\xe2\x80"), "cut\\xe2\\x80");
  EXPECT_EQ(EscapeForTerminal("surrogate\xed\xa0\x80"),
            "surrogate\\xed\\xa0\\x80");
}

}  // namespace
}  // namespace scenarios
