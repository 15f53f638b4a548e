#include "etcd-store/go_json.h"

#include <array>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace etcd::gateway_internal {
namespace {

constexpr uint32_t kReplacementChar = 0xFFFD;

// ---- UTF-8 and quoting, as Go's unicode/utf8 and strconv ----

// Go's utf8.DecodeRune: invalid input yields (U+FFFD, 1).
std::pair<uint32_t, size_t> DecodeRune(std::string_view s) {
  auto byte = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  auto continuation = [&](size_t i, uint8_t low, uint8_t high) {
    return i < s.size() && byte(i) >= low && byte(i) <= high;
  };
  uint8_t b0 = byte(0);
  if (b0 < 0x80) return {b0, 1};
  if (b0 >= 0xC2 && b0 <= 0xDF && continuation(1, 0x80, 0xBF)) {
    return {((b0 & 0x1Fu) << 6) | (byte(1) & 0x3Fu), 2};
  }
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    uint8_t low = b0 == 0xE0 ? 0xA0 : 0x80;
    uint8_t high = b0 == 0xED ? 0x9F : 0xBF;
    if (continuation(1, low, high) && continuation(2, 0x80, 0xBF)) {
      return {
          ((b0 & 0x0Fu) << 12) | ((byte(1) & 0x3Fu) << 6) | (byte(2) & 0x3Fu),
          3};
    }
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    uint8_t low = b0 == 0xF0 ? 0x90 : 0x80;
    uint8_t high = b0 == 0xF4 ? 0x8F : 0xBF;
    if (continuation(1, low, high) && continuation(2, 0x80, 0xBF) &&
        continuation(3, 0x80, 0xBF)) {
      return {((b0 & 0x07u) << 18) | ((byte(1) & 0x3Fu) << 12) |
                  ((byte(2) & 0x3Fu) << 6) | (byte(3) & 0x3Fu),
              4};
    }
  }
  return {kReplacementChar, 1};
}

void AppendRune(std::string& out, uint32_t r) {
  if (r < 0x80) {
    out.push_back(static_cast<char>(r));
  } else if (r < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (r >> 6)));
    out.push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else if (r < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (r >> 12)));
    out.push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (r >> 18)));
    out.push_back(static_cast<char>(0x80 | ((r >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (r & 0x3F)));
  }
}

// Go's strconv.IsPrint for the runes that matter here. NOTE: above U+00FF
// this treats every rune as printable, while Go also escapes unassigned
// and format runes.
bool IsPrint(uint32_t r) {
  if (r < 0x20 || r == 0x7F) return false;
  if (r >= 0x80 && r <= 0xA0) return false;
  if (r == 0xAD) return false;
  return true;
}

void AppendEscapedRune(std::string& out, uint32_t r, char quote) {
  char buffer[16];
  if (r == static_cast<uint32_t>(quote) || r == '\\') {
    out.push_back('\\');
    out.push_back(static_cast<char>(r));
    return;
  }
  if (IsPrint(r)) {
    AppendRune(out, r);
    return;
  }
  switch (r) {
    case '\a':
      out += "\\a";
      return;
    case '\b':
      out += "\\b";
      return;
    case '\f':
      out += "\\f";
      return;
    case '\n':
      out += "\\n";
      return;
    case '\r':
      out += "\\r";
      return;
    case '\t':
      out += "\\t";
      return;
    case '\v':
      out += "\\v";
      return;
  }
  if (r < ' ' || r == 0x7F) {
    std::snprintf(buffer, sizeof(buffer), "\\x%02x", r);
  } else if (r < 0x10000) {
    std::snprintf(buffer, sizeof(buffer), "\\u%04x", r);
  } else {
    std::snprintf(buffer, sizeof(buffer), "\\U%08x", r);
  }
  out += buffer;
}

// Go's quoteChar in encoding/json/scanner.go.
std::string QuoteChar(uint8_t c) {
  if (c == '\'') return "'\\''";
  if (c == '"') return "'\"'";
  std::string out = "'";
  AppendEscapedRune(out, c, '"');
  return out + "'";
}

// ---- The scanner, a port of encoding/json/scanner.go ----

constexpr size_t kMaxNestingDepth = 10000;

class Scanner {
 public:
  enum Op {
    kContinue,
    kBeginLiteral,
    kBeginObject,
    kObjectKey,
    kObjectValue,
    kEndObject,
    kBeginArray,
    kArrayValue,
    kEndArray,
    kSkipSpace,
    kEnd,
    kError,
  };

  Op Step(uint8_t c) { return (this->*step_)(c); }

  // Go's scanner.eof: finishes a value that needs no more input.
  Op Eof() {
    if (!error_.empty()) return kError;
    if (end_top_) return kEnd;
    Step(' ');
    if (end_top_) return kEnd;
    if (error_.empty()) error_ = "unexpected end of JSON input";
    return kError;
  }

  // Runs the end-of-value check that json.Decoder makes after '}' or ']'.
  Op EndValueCheck() { return EndValue(' '); }

  const std::string& error() const { return error_; }

 private:
  enum Parse { kParseObjectKey, kParseObjectValue, kParseArrayValue };
  using Step_ = Op (Scanner::*)(uint8_t);

  static bool IsSpace(uint8_t c) {
    return c <= ' ' && (c == ' ' || c == '\t' || c == '\r' || c == '\n');
  }
  static bool IsHex(uint8_t c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
           (c >= 'A' && c <= 'F');
  }

  Op Error(uint8_t c, const char* context) {
    step_ = &Scanner::StateError;
    error_ = "invalid character " + QuoteChar(c) + " " + context;
    return kError;
  }

  Op Push(uint8_t c, Parse state, Op success) {
    parse_.push_back(state);
    if (parse_.size() <= kMaxNestingDepth) return success;
    return Error(c, "exceeded max depth");
  }

  void Pop() {
    parse_.pop_back();
    if (parse_.empty()) {
      step_ = &Scanner::EndTop;
      end_top_ = true;
    } else {
      step_ = &Scanner::EndValue;
    }
  }

  Op BeginValueOrEmpty(uint8_t c) {
    if (IsSpace(c)) return kSkipSpace;
    if (c == ']') return EndValue(c);
    return BeginValue(c);
  }

  Op BeginValue(uint8_t c) {
    if (IsSpace(c)) return kSkipSpace;
    switch (c) {
      case '{':
        step_ = &Scanner::BeginStringOrEmpty;
        return Push(c, kParseObjectKey, kBeginObject);
      case '[':
        step_ = &Scanner::BeginValueOrEmpty;
        return Push(c, kParseArrayValue, kBeginArray);
      case '"':
        step_ = &Scanner::InString;
        return kBeginLiteral;
      case '-':
        step_ = &Scanner::Neg;
        return kBeginLiteral;
      case '0':
        step_ = &Scanner::Zero;
        return kBeginLiteral;
      case 't':
        step_ = &Scanner::T;
        return kBeginLiteral;
      case 'f':
        step_ = &Scanner::F;
        return kBeginLiteral;
      case 'n':
        step_ = &Scanner::N;
        return kBeginLiteral;
    }
    if (c >= '1' && c <= '9') {
      step_ = &Scanner::One;
      return kBeginLiteral;
    }
    return Error(c, "looking for beginning of value");
  }

  Op BeginStringOrEmpty(uint8_t c) {
    if (IsSpace(c)) return kSkipSpace;
    if (c == '}') {
      parse_.back() = kParseObjectValue;
      return EndValue(c);
    }
    return BeginString(c);
  }

  Op BeginString(uint8_t c) {
    if (IsSpace(c)) return kSkipSpace;
    if (c == '"') {
      step_ = &Scanner::InString;
      return kBeginLiteral;
    }
    return Error(c, "looking for beginning of object key string");
  }

  Op EndValue(uint8_t c) {
    if (parse_.empty()) {
      step_ = &Scanner::EndTop;
      end_top_ = true;
      return EndTop(c);
    }
    if (IsSpace(c)) {
      step_ = &Scanner::EndValue;
      return kSkipSpace;
    }
    switch (parse_.back()) {
      case kParseObjectKey:
        if (c == ':') {
          parse_.back() = kParseObjectValue;
          step_ = &Scanner::BeginValue;
          return kObjectKey;
        }
        return Error(c, "after object key");
      case kParseObjectValue:
        if (c == ',') {
          parse_.back() = kParseObjectKey;
          step_ = &Scanner::BeginString;
          return kObjectValue;
        }
        if (c == '}') {
          Pop();
          return kEndObject;
        }
        return Error(c, "after object key:value pair");
      case kParseArrayValue:
        if (c == ',') {
          step_ = &Scanner::BeginValue;
          return kArrayValue;
        }
        if (c == ']') {
          Pop();
          return kEndArray;
        }
        return Error(c, "after array element");
    }
    return Error(c, "");
  }

  Op EndTop(uint8_t c) {
    if (!IsSpace(c)) Error(c, "after top-level value");
    return kEnd;
  }

  Op InString(uint8_t c) {
    if (c == '"') {
      step_ = &Scanner::EndValue;
      return kContinue;
    }
    if (c == '\\') {
      step_ = &Scanner::InStringEsc;
      return kContinue;
    }
    if (c < 0x20) return Error(c, "in string literal");
    return kContinue;
  }

  Op InStringEsc(uint8_t c) {
    switch (c) {
      case 'b':
      case 'f':
      case 'n':
      case 'r':
      case 't':
      case '\\':
      case '/':
      case '"':
        step_ = &Scanner::InString;
        return kContinue;
      case 'u':
        step_ = &Scanner::InStringEscU;
        return kContinue;
    }
    return Error(c, "in string escape code");
  }

  Op HexDigit(uint8_t c, Step_ next) {
    if (IsHex(c)) {
      step_ = next;
      return kContinue;
    }
    return Error(c, "in \\u hexadecimal character escape");
  }
  Op InStringEscU(uint8_t c) { return HexDigit(c, &Scanner::InStringEscU1); }
  Op InStringEscU1(uint8_t c) { return HexDigit(c, &Scanner::InStringEscU12); }
  Op InStringEscU12(uint8_t c) {
    return HexDigit(c, &Scanner::InStringEscU123);
  }
  Op InStringEscU123(uint8_t c) { return HexDigit(c, &Scanner::InString); }

  Op Neg(uint8_t c) {
    if (c == '0') {
      step_ = &Scanner::Zero;
      return kContinue;
    }
    if (c >= '1' && c <= '9') {
      step_ = &Scanner::One;
      return kContinue;
    }
    return Error(c, "in numeric literal");
  }

  Op One(uint8_t c) {
    if (c >= '0' && c <= '9') return kContinue;
    return Zero(c);
  }

  Op Zero(uint8_t c) {
    if (c == '.') {
      step_ = &Scanner::Dot;
      return kContinue;
    }
    if (c == 'e' || c == 'E') {
      step_ = &Scanner::E;
      return kContinue;
    }
    return EndValue(c);
  }

  Op Dot(uint8_t c) {
    if (c >= '0' && c <= '9') {
      step_ = &Scanner::Dot0;
      return kContinue;
    }
    return Error(c, "after decimal point in numeric literal");
  }

  Op Dot0(uint8_t c) {
    if (c >= '0' && c <= '9') return kContinue;
    if (c == 'e' || c == 'E') {
      step_ = &Scanner::E;
      return kContinue;
    }
    return EndValue(c);
  }

  Op E(uint8_t c) {
    if (c == '+' || c == '-') {
      step_ = &Scanner::ESign;
      return kContinue;
    }
    return ESign(c);
  }

  Op ESign(uint8_t c) {
    if (c >= '0' && c <= '9') {
      step_ = &Scanner::E0;
      return kContinue;
    }
    return Error(c, "in exponent of numeric literal");
  }

  Op E0(uint8_t c) {
    if (c >= '0' && c <= '9') return kContinue;
    return EndValue(c);
  }

  Op Literal(uint8_t c, uint8_t expected, Step_ next, const char* context) {
    if (c == expected) {
      step_ = next;
      return kContinue;
    }
    return Error(c, context);
  }
  Op T(uint8_t c) {
    return Literal(c, 'r', &Scanner::Tr, "in literal true (expecting 'r')");
  }
  Op Tr(uint8_t c) {
    return Literal(c, 'u', &Scanner::Tru, "in literal true (expecting 'u')");
  }
  Op Tru(uint8_t c) {
    return Literal(c, 'e', &Scanner::EndValue,
                   "in literal true (expecting 'e')");
  }
  Op F(uint8_t c) {
    return Literal(c, 'a', &Scanner::Fa, "in literal false (expecting 'a')");
  }
  Op Fa(uint8_t c) {
    return Literal(c, 'l', &Scanner::Fal, "in literal false (expecting 'l')");
  }
  Op Fal(uint8_t c) {
    return Literal(c, 's', &Scanner::Fals, "in literal false (expecting 's')");
  }
  Op Fals(uint8_t c) {
    return Literal(c, 'e', &Scanner::EndValue,
                   "in literal false (expecting 'e')");
  }
  Op N(uint8_t c) {
    return Literal(c, 'u', &Scanner::Nu, "in literal null (expecting 'u')");
  }
  Op Nu(uint8_t c) {
    return Literal(c, 'l', &Scanner::Nul, "in literal null (expecting 'l')");
  }
  Op Nul(uint8_t c) {
    return Literal(c, 'l', &Scanner::EndValue,
                   "in literal null (expecting 'l')");
  }

  Op StateError(uint8_t) { return kError; }

  Step_ step_ = &Scanner::BeginValue;
  std::vector<Parse> parse_;
  bool end_top_ = false;
  std::string error_;
};

// ---- Building values from text the scanner accepted ----

// Go's getu4: the value of a \uXXXX escape at s, or -1.
int GetU4(std::string_view s) {
  if (s.size() < 6 || s[0] != '\\' || s[1] != 'u') return -1;
  int value = 0;
  for (size_t i = 2; i < 6; ++i) {
    char c = s[i];
    int digit = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}

// Go's unquote in encoding/json/decode.go. REQUIRES: `quoted` is a string
// literal that the scanner accepted.
std::string Unquote(std::string_view quoted) {
  std::string_view s = quoted.substr(1, quoted.size() - 2);
  std::string out;
  size_t r = 0;
  while (r < s.size()) {
    uint8_t c = static_cast<uint8_t>(s[r]);
    if (c == '\\') {
      char escape = s[r + 1];
      switch (escape) {
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'u': {
          uint32_t rune = static_cast<uint32_t>(GetU4(s.substr(r)));
          r += 6;
          if (rune >= 0xD800 && rune < 0xE000) {
            int low = GetU4(s.substr(r));
            if (rune < 0xDC00 && low >= 0xDC00 && low < 0xE000) {
              rune = 0x10000 + ((rune - 0xD800) << 10) + (low - 0xDC00);
              r += 6;
            } else {
              rune = kReplacementChar;
            }
          }
          AppendRune(out, rune);
          continue;
        }
        default:  // '"', '\\', '/'
          out.push_back(escape);
      }
      r += 2;
    } else if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++r;
    } else {
      auto [rune, size] = DecodeRune(s.substr(r));
      AppendRune(out, rune);
      r += size;
    }
  }
  return out;
}

class ValueBuilder {
 public:
  explicit ValueBuilder(std::string_view text) : text_(text) {}

  JsonValue Parse() {
    SkipSpace();
    size_t start = pos_;
    JsonValue value;
    char c = text_[pos_];
    if (c == '{') {
      value.kind = JsonValue::Kind::kObject;
      ++pos_;
      SkipSpace();
      while (text_[pos_] != '}') {
        JsonValue key = Parse();
        SkipSpace();
        ++pos_;  // ':'
        JsonValue member = Parse();
        value.members.emplace_back(std::move(key.text), std::move(member));
        SkipSpace();
        if (text_[pos_] == ',') {
          ++pos_;
          SkipSpace();
        }
      }
      ++pos_;
    } else if (c == '[') {
      value.kind = JsonValue::Kind::kArray;
      ++pos_;
      SkipSpace();
      while (text_[pos_] != ']') {
        value.items.push_back(Parse());
        SkipSpace();
        if (text_[pos_] == ',') {
          ++pos_;
          SkipSpace();
        }
      }
      ++pos_;
    } else if (c == '"') {
      value.kind = JsonValue::Kind::kString;
      ++pos_;
      while (text_[pos_] != '"') pos_ += text_[pos_] == '\\' ? 2 : 1;
      ++pos_;
      value.text = Unquote(text_.substr(start, pos_ - start));
    } else if (c == 't' || c == 'f') {
      value.kind = JsonValue::Kind::kBool;
      value.boolean = c == 't';
      pos_ += value.boolean ? 4 : 5;
    } else if (c == 'n') {
      pos_ += 4;
    } else {
      value.kind = JsonValue::Kind::kNumber;
      while (pos_ < text_.size() &&
             std::string_view("+-.0123456789eE").find(text_[pos_]) !=
                 std::string_view::npos) {
        ++pos_;
      }
    }
    value.raw = std::string(text_.substr(start, pos_ - start));
    return value;
  }

 private:
  void SkipSpace() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\r' ||
            text_[pos_] == '\n')) {
      ++pos_;
    }
  }

  std::string_view text_;
  size_t pos_ = 0;
};

base::Status SyntaxError(const std::string& message) {
  return base::InvalidArgumentError(message);
}

}  // namespace

const JsonValue* JsonValue::Find(std::string_view name) const {
  for (auto it = members.rbegin(); it != members.rend(); ++it) {
    if (it->first == name) return &it->second;
  }
  return nullptr;
}

std::string_view JsonValue::KindName() const {
  switch (kind) {
    case Kind::kNull:
      return "null";
    case Kind::kBool:
      return "bool";
    case Kind::kNumber:
      return "number";
    case Kind::kString:
      return "string";
    case Kind::kArray:
      return "array";
    case Kind::kObject:
      return "object";
  }
  return "null";
}

base::StatusOr<DecodedValue> DecodeNextValue(std::string_view input,
                                             bool at_end) {
  // Like json.Decoder.readValue: scan until the value ends; an object or
  // array ends at its closing bracket, a literal at the next byte.
  Scanner scanner;
  DecodedValue result;
  size_t end = std::string_view::npos;
  for (size_t i = 0; i < input.size() && end == std::string_view::npos; ++i) {
    switch (scanner.Step(static_cast<uint8_t>(input[i]))) {
      case Scanner::kEnd:
        end = i;
        break;
      case Scanner::kEndObject:
      case Scanner::kEndArray:
        if (scanner.EndValueCheck() == Scanner::kEnd) end = i + 1;
        break;
      case Scanner::kError:
        return SyntaxError(scanner.error());
      default:
        break;
    }
  }
  if (end == std::string_view::npos) {
    if (!at_end) {
      result.need_more = true;
      return result;
    }
    if (scanner.Step(' ') == Scanner::kEnd) {
      end = input.size();
    } else if (input.find_first_not_of(" \t\r\n") != std::string_view::npos) {
      return SyntaxError("unexpected EOF");
    } else {
      result.consumed = input.size();
      return result;  // only whitespace: io.EOF
    }
  }
  result.consumed = end;
  result.value = ValueBuilder(input.substr(0, end)).Parse();
  return result;
}

base::StatusOr<JsonValue> ParseWholeValue(std::string_view input) {
  // Like json.checkValid, then the value.
  Scanner scanner;
  for (char c : input) {
    if (scanner.Step(static_cast<uint8_t>(c)) == Scanner::kError) {
      return SyntaxError(scanner.error());
    }
  }
  if (scanner.Eof() == Scanner::kError) return SyntaxError(scanner.error());
  return ValueBuilder(input).Parse();
}

base::StatusOr<std::string> DecodeGoBase64(std::string_view src) {
  // A port of Go 1.19's base64.(*Encoding).decodeQuantum for StdEncoding,
  // applied from the start of the input; Go's fast paths give the same
  // results.
  static const auto kDecodeMap = [] {
    std::array<int, 256> map;
    map.fill(-1);
    constexpr std::string_view kAlphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < kAlphabet.size(); ++i) {
      map[static_cast<uint8_t>(kAlphabet[i])] = static_cast<int>(i);
    }
    return map;
  }();
  auto corrupt = [](size_t at) {
    return base::InvalidArgumentError("illegal base64 data at input byte " +
                                      std::to_string(at));
  };
  auto skip_newlines = [&](size_t& si) {
    while (si < src.size() && (src[si] == '\n' || src[si] == '\r')) ++si;
  };

  std::string out;
  size_t si = 0;
  while (si < src.size()) {
    int dbuf[4] = {0, 0, 0, 0};
    int dlen = 4;
    for (int j = 0; j < 4; ++j) {
      if (si == src.size()) {
        if (j == 0) return out;
        return corrupt(si - j);  // padding is required
      }
      uint8_t in = static_cast<uint8_t>(src[si++]);
      int value = kDecodeMap[in];
      if (value >= 0) {
        dbuf[j] = value;
        continue;
      }
      if (in == '\n' || in == '\r') {
        --j;
        continue;
      }
      if (in != '=') return corrupt(si - 1);

      // Padding ends the input.
      if (j < 2) return corrupt(si - 1);
      if (j == 2) {
        skip_newlines(si);
        if (si == src.size()) return corrupt(src.size());
        if (src[si] != '=') return corrupt(si - 1);
        ++si;
      }
      skip_newlines(si);
      if (si < src.size()) return corrupt(si);  // trailing garbage
      dlen = j;
      break;
    }
    uint32_t bits = (dbuf[0] << 18) | (dbuf[1] << 12) | (dbuf[2] << 6) |
                    static_cast<uint32_t>(dbuf[3]);
    char bytes[3] = {static_cast<char>(bits >> 16),
                     static_cast<char>(bits >> 8), static_cast<char>(bits)};
    out.append(bytes, dlen - 1);
    if (dlen < 4) return out;
  }
  return out;
}

std::string GoQuote(std::string_view text) {
  std::string out = "\"";
  size_t i = 0;
  while (i < text.size()) {
    auto [rune, size] = DecodeRune(text.substr(i));
    if (rune == kReplacementChar && size == 1) {
      char buffer[8];
      std::snprintf(buffer, sizeof(buffer), "\\x%02x",
                    static_cast<uint8_t>(text[i]));
      out += buffer;
    } else {
      AppendEscapedRune(out, rune, '"');
    }
    i += size;
  }
  return out + "\"";
}

}  // namespace etcd::gateway_internal
