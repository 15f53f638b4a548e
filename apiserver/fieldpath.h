// Field paths and sets of them, as sigs.k8s.io/structured-merge-diff's
// fieldpath package defines them, and the FieldsV1 form in which
// metadata.managedFields stores a set. Internal to the apiserver library.
//
// A path names one field of an object: ".metadata.labels.app". A set is a
// tree: each node has members (paths that end there) and children (nodes
// for longer paths). A path can be both, as `.data` is when a manager owns
// the map and some of its keys; FieldsV1 then writes {".":{},"f:key":{}}.
#ifndef APISERVER_FIELDPATH_H_
#define APISERVER_FIELDPATH_H_

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace apiserver {

// Encodes `value` as Go's encoding/json Marshal does: compact, object keys
// sorted, and <, >, &, U+2028 and U+2029 written as \u escapes.
std::string GoJsonEncode(const nlohmann::json& value);

// One step into a value: a field of a struct or map, an item of an
// associative list named by its key fields, an item of a set named by its
// value, or an item of an atomic list named by its index.
class PathElement {
 public:
  // In sort order: fields come before keys, values and indexes.
  enum class Type { kField, kKey, kValue, kIndex };

  static PathElement Field(std::string name);
  // `fields` maps each key field's name to its value. REQUIRES: an object.
  static PathElement Key(nlohmann::json fields);
  static PathElement Value(nlohmann::json value);
  static PathElement Index(int64_t index);

  Type type() const { return type_; }
  // The field name of kField.
  const std::string& name() const { return name_; }
  // The key fields of kKey, or the value of kValue.
  const nlohmann::json& value() const { return value_; }
  int64_t index() const { return index_; }

  // The element as upstream prints it in conflict messages: ".name",
  // "[uid=\"x\"]", "[=\"x\"]" or "[3]".
  std::string String() const;
  // The element as a FieldsV1 key: "f:name", "k:{\"uid\":\"x\"}",
  // "v:\"x\"" or "i:3".
  std::string FieldsV1Key() const;
  // Parses a FieldsV1 key. Returns nullopt for a prefix other than f, k, v
  // and i, which upstream skips, and fails for a key or value that is not
  // JSON of the right shape.
  static base::StatusOr<std::optional<PathElement>> ParseFieldsV1Key(
      std::string_view key);

  // Orders by type, then by name, key fields, value or index.
  int Compare(const PathElement& other) const;
  bool operator<(const PathElement& other) const { return Compare(other) < 0; }
  bool operator==(const PathElement& other) const {
    return Compare(other) == 0;
  }

 private:
  Type type_ = Type::kField;
  std::string name_;
  nlohmann::json value_;
  int64_t index_ = 0;
};

using FieldPath = std::vector<PathElement>;

// ".metadata.labels.app": the elements' strings joined.
std::string PathString(const FieldPath& path);

// A set of field paths. A value type; not thread-safe.
class FieldSet {
 public:
  void Insert(const FieldPath& path);
  // Whether `path` itself is in the set; a longer path below it does not
  // count.
  bool Has(const FieldPath& path) const;
  bool empty() const { return members_.empty() && children_.empty(); }

  FieldSet Union(const FieldSet& other) const;
  FieldSet Intersection(const FieldSet& other) const;
  // The paths of this set that `other` does not contain. A path below one
  // of `other`'s paths stays.
  FieldSet Difference(const FieldSet& other) const;
  // Like Difference, and also drops every path below one of `other`'s.
  FieldSet RecursiveDifference(const FieldSet& other) const;
  // The paths below `element`, without it: {"b"} for {"a.b"} and "a".
  FieldSet WithPrefix(const PathElement& element) const;

  // Every path, in upstream's iteration order: at each node the members in
  // order, then the children's paths in order.
  std::vector<FieldPath> Paths() const;

  const std::set<PathElement>& members() const { return members_; }
  // Each child set is non-empty.
  const std::map<PathElement, FieldSet>& children() const { return children_; }
  // Adds `element` as a member and `below` (when non-empty) as its child.
  void AddMember(const PathElement& element) { members_.insert(element); }
  void AddChild(const PathElement& element, FieldSet below);

  // The FieldsV1 object of the set, such as
  // {"f:data":{".":{},"f:password":{}},"f:type":{}}.
  nlohmann::json ToFieldsV1() const;
  // Parses a FieldsV1 object. Keys with an unknown prefix are skipped, as
  // upstream does. Fails with kInvalidArgument for anything else that is
  // not a FieldsV1 object.
  static base::StatusOr<FieldSet> FromFieldsV1(const nlohmann::json& fields);

  bool operator==(const FieldSet& other) const = default;

 private:
  std::set<PathElement> members_;
  std::map<PathElement, FieldSet> children_;
};

}  // namespace apiserver

#endif  // APISERVER_FIELDPATH_H_
