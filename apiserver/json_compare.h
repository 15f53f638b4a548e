// Comparisons of JSON objects that leave some members out, without copying
// either object. Internal to the apiserver library.
#ifndef APISERVER_JSON_COMPARE_H_
#define APISERVER_JSON_COMPARE_H_

#include <algorithm>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace apiserver {

// Whether objects `a` and `b` have the same members apart from those named
// in `ignored`. Values that are not both objects compare whole.
inline bool EqualIgnoring(const nlohmann::json& a, const nlohmann::json& b,
                          std::initializer_list<std::string_view> ignored) {
  if (!a.is_object() || !b.is_object()) return a == b;
  auto skip = [&](const std::string& name) {
    return std::ranges::find(ignored, name) != ignored.end();
  };
  auto i = a.begin();
  auto j = b.begin();
  while (true) {
    while (i != a.end() && skip(i.key())) ++i;
    while (j != b.end() && skip(j.key())) ++j;
    if (i == a.end() || j == b.end()) return i == a.end() && j == b.end();
    if (i.key() != j.key() || i.value() != j.value()) return false;
    ++i;
    ++j;
  }
}

// Whether `a` and `b` are equal apart from the metadata members named in
// `ignored_metadata`.
inline bool EqualIgnoringMetadata(
    const nlohmann::json& a, const nlohmann::json& b,
    std::initializer_list<std::string_view> ignored_metadata) {
  if (!EqualIgnoring(a, b, {"metadata"})) return false;
  if (!a.is_object()) return true;  // then a == b above
  auto metadata_a = a.find("metadata");
  auto metadata_b = b.find("metadata");
  if (metadata_a == a.end() || metadata_b == b.end()) {
    return (metadata_a == a.end()) == (metadata_b == b.end());
  }
  return EqualIgnoring(*metadata_a, *metadata_b, ignored_metadata);
}

}  // namespace apiserver

#endif  // APISERVER_JSON_COMPARE_H_
