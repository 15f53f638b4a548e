// Internal: JSON reading that follows Go's encoding/json (Go 1.19, the
// version Debian's etcd 3.4.23 is built with), because etcd's gateway
// reports malformed bodies with that package's messages. The scanner is a
// port of encoding/json/scanner.go, so syntax errors name the same
// character and context ("invalid character '}' looking for beginning of
// object key string"), and each parsed value keeps its exact text, which
// Go's type errors quote ("json: cannot unmarshal number 1.5 into Go value
// of type int64").
#ifndef ETCD_STORE_GO_JSON_H_
#define ETCD_STORE_GO_JSON_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace etcd::gateway_internal {

// A parsed JSON value with its exact source text.
struct JsonValue {
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };

  Kind kind = Kind::kNull;
  std::string raw;               // the value's text as it appeared in the input
  bool boolean = false;          // kBool
  std::string text;              // kString: unquoted as Go does it
  std::vector<JsonValue> items;  // kArray
  std::vector<std::pair<std::string, JsonValue>> members;  // kObject

  bool is_object() const { return kind == Kind::kObject; }
  // Returns the last member called `name` (Go keeps the last duplicate),
  // or nullptr.
  const JsonValue* Find(std::string_view name) const;
  // The word Go's type errors use for this kind: "string", "number",
  // "bool", "array", "object" or "null".
  std::string_view KindName() const;
};

// The result of reading one value from a stream of values.
struct DecodedValue {
  // Unset when the input holds only whitespace, which Go reports as io.EOF.
  std::optional<JsonValue> value;
  // Bytes of the input that the value (with leading space) took.
  size_t consumed = 0;
  // The input ends inside a value and more may follow (only when
  // `at_end` was false).
  bool need_more = false;
};

// Reads the first value of `input` as Go's json.Decoder.Decode does, and
// leaves text after a complete value alone. With `at_end`, a value cut
// short fails with "unexpected EOF". Without it, the result requests more
// input.
// Syntax errors fail with kInvalidArgument and Go's message.
base::StatusOr<DecodedValue> DecodeNextValue(std::string_view input,
                                             bool at_end);

// Parses the whole of `input` as json.Unmarshal does: trailing text is an
// error, and an empty input is "unexpected end of JSON input".
base::StatusOr<JsonValue> ParseWholeValue(std::string_view input);

// Go's base64.StdEncoding.DecodeString: skips '\r' and '\n', reports the
// first invalid byte as "illegal base64 data at input byte N".
base::StatusOr<std::string> DecodeGoBase64(std::string_view text);

// Go's strconv.Quote, as fmt's %q prints a string.
std::string GoQuote(std::string_view text);

}  // namespace etcd::gateway_internal

#endif  // ETCD_STORE_GO_JSON_H_
