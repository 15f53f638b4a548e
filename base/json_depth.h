// A depth check for JSON text from clients. Code that walks a parsed
// document recurses once per level of nesting, so a deep enough document
// would overflow a thread's stack. Go's encoding/json rejects documents
// deeper than 10,000 levels, and the servers here reject them deeper than
// kMaxJsonDepth. No Kubernetes object, Key Protect request or control-API
// request comes near that depth.
#ifndef BASE_JSON_DEPTH_H_
#define BASE_JSON_DEPTH_H_

#include <string_view>

namespace base {

inline constexpr int kMaxJsonDepth = 1000;

// Returns whether `text` opens more than `max_depth` arrays and objects
// inside each other. Brackets inside strings do not count; whether the
// text is valid JSON is left to the parser.
inline bool JsonNestedDeeperThan(std::string_view text,
                                 int max_depth = kMaxJsonDepth) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

}  // namespace base

#endif  // BASE_JSON_DEPTH_H_
