#include "sim/names.h"

#include <cstdio>

namespace sim {
namespace {

constexpr size_t kQuotedCharacters = 40;

bool IsContinuationByte(unsigned char c) { return (c & 0xC0) == 0x80; }

size_t CountCharacters(std::string_view text) {
  size_t count = 0;
  for (char c : text) {
    if (!IsContinuationByte(static_cast<unsigned char>(c))) ++count;
  }
  return count;
}

// Returns the byte offset of the first control character, or npos. The C1
// controls U+0080 to U+009F are the UTF-8 pairs C2 80 to C2 9F.
size_t FindControlCharacter(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7F) return i;
    if (c == 0xC2 && i + 1 < text.size()) {
      unsigned char next = static_cast<unsigned char>(text[i + 1]);
      if (next >= 0x80 && next <= 0x9F) return i;
    }
  }
  return std::string_view::npos;
}

base::Status ValidateName(std::string_view what, std::string_view name,
                          size_t min, size_t max) {
  size_t length = CountCharacters(name);
  if (length < min || length > max) {
    std::string quoted = QuoteForMessage(name);
    // A name cut for the message already carries its length.
    if (length <= kQuotedCharacters) {
      quoted += " (" + std::to_string(length) + " characters)";
    }
    return base::InvalidArgumentError(
        "invalid " + std::string(what) + " " + quoted + ": use " +
        std::to_string(min) + " to " + std::to_string(max) + " characters");
  }
  return RejectControlCharacters(what, name);
}

}  // namespace

base::Status ValidateKeyName(std::string_view name) {
  return ValidateName("key name", name, kMinKeyNameLength, kMaxKeyNameLength);
}

base::Status ValidateInstanceName(std::string_view name) {
  return ValidateName("KMS instance name", name, 1, kMaxInstanceNameLength);
}

base::Status RejectControlCharacters(std::string_view field,
                                     std::string_view value) {
  if (FindControlCharacter(value) == std::string_view::npos) {
    return base::OkStatus();
  }
  return base::InvalidArgumentError(
      "invalid " + std::string(field) + " " + QuoteForMessage(value) +
      ": it contains a control character such as a line break or a tab; "
      "use printable characters only");
}

std::string QuoteForMessage(std::string_view value) {
  std::string out = "\"";
  size_t characters = 0;
  for (size_t i = 0; i < value.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(value[i]);
    if (!IsContinuationByte(c) && ++characters > kQuotedCharacters) {
      return out + "...\" (" + std::to_string(CountCharacters(value)) +
             " characters)";
    }
    if (c < 0x20 || c == 0x7F || c == '"' || c == '\\') {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02X", c);
      out += escaped;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

}  // namespace sim
