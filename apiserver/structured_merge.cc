#include "apiserver/structured_merge.h"

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "apiserver/openapi.h"
#include "apiserver/strategic_merge.h"
#include "apiserver/validation.h"

namespace apiserver {
namespace {

using Json = nlohmann::json;

// One node of a kind's schema, as structured-merge-diff's schema.Atom.
struct TypeNode {
  enum class Kind { kScalar, kMap, kList, kUntyped };
  Kind kind = Kind::kUntyped;
  // For kScalar: "string", "numeric" or "boolean"; empty accepts any.
  std::string scalar;
  // For kMap: the declared fields of a struct, and the type of every other
  // key (nullptr when a struct declares no more).
  std::map<std::string, const TypeNode*> fields;
  // For kMap, see above; for kList, the items' type.
  const TypeNode* element = nullptr;
  // Owned and replaced as a whole.
  bool atomic = false;
  // For kList: a set (no keys) or a map keyed by `keys`.
  bool associative = false;
  std::vector<std::string> keys;
};

const TypeNode& Untyped() {
  static const TypeNode node;
  return node;
}

// The types that an untyped schema takes from a value's shape, as
// upstream's "__untyped_deduced_" type.
const TypeNode& DeducedMap() {
  static const TypeNode node = [] {
    TypeNode map;
    map.kind = TypeNode::Kind::kMap;
    map.element = &Untyped();
    return map;
  }();
  return node;
}

const TypeNode& DeducedList() {
  static const TypeNode node = [] {
    TypeNode list;
    list.kind = TypeNode::Kind::kList;
    list.element = &Untyped();
    list.atomic = true;
    return list;
  }();
  return node;
}

const TypeNode& AnyScalar() {
  static const TypeNode node = [] {
    TypeNode scalar;
    scalar.kind = TypeNode::Kind::kScalar;
    return scalar;
  }();
  return node;
}

const TypeNode& Deduce(const TypeNode& type, const Json* value) {
  if (type.kind != TypeNode::Kind::kUntyped) return type;
  if (value != nullptr && value->is_object()) return DeducedMap();
  if (value != nullptr && value->is_array()) return DeducedList();
  return AnyScalar();
}

// Converts OpenAPI schemas into TypeNodes, once per schema object.
class SchemaBuilder {
 public:
  const TypeNode* Build(const Json& schema) {
    const Json* resolved = ResolveSchema(schema);
    if (resolved == nullptr || !resolved->is_object()) return &Untyped();
    auto found = nodes_.find(resolved);
    if (found != nodes_.end()) return found->second.get();
    // Registered before its fields are built, so a schema that refers to
    // itself ends.
    TypeNode* node = nodes_.emplace(resolved, std::make_unique<TypeNode>())
                         .first->second.get();
    Fill(*resolved, *node);
    return node;
  }

 private:
  void Fill(const Json& schema, TypeNode& node) {
    const std::string type = schema.value("type", "");
    const Json* additional = schema.contains("additionalProperties") &&
                                     schema["additionalProperties"].is_object()
                                 ? &schema["additionalProperties"]
                                 : nullptr;
    if (schema.contains("properties") || additional != nullptr) {
      node.kind = TypeNode::Kind::kMap;
      // The properties are read in place: the nodes are keyed by the
      // address of their schema, so a copy would leave dangling keys.
      auto properties = schema.find("properties");
      if (properties != schema.end() && properties->is_object()) {
        for (const auto& [name, property] : properties->items()) {
          node.fields[name] = Build(property);
        }
      }
      if (additional != nullptr) node.element = Build(*additional);
      node.atomic = schema.value("x-kubernetes-map-type", "") == "atomic";
    } else if (type == "array") {
      node.kind = TypeNode::Kind::kList;
      node.element =
          schema.contains("items") ? Build(schema["items"]) : &Untyped();
      const std::string list_type = schema.value("x-kubernetes-list-type", "");
      node.associative = list_type == "set" || list_type == "map";
      node.atomic = !node.associative;
      if (list_type == "map") {
        node.keys = schema.value("x-kubernetes-list-map-keys",
                                 std::vector<std::string>{});
      }
    } else if (type == "string" || type == "integer" || type == "number" ||
               type == "boolean") {
      node.kind = TypeNode::Kind::kScalar;
      node.scalar = type == "string"    ? "string"
                    : type == "boolean" ? "boolean"
                                        : "numeric";
    }
  }

  std::map<const Json*, std::unique_ptr<TypeNode>> nodes_;
};

struct Schemas {
  SchemaBuilder builder;
  std::map<std::string, const TypeNode*> roots;
};

const Schemas& AllSchemas() {
  static const Schemas* schemas = [] {
    auto* built = new Schemas;
    for (const char* kind : {"ConfigMap", "Namespace", "Secret"}) {
      built->roots[kind] = built->builder.Build(
          OpenApiDefinitions().at(DefinitionNameOfKind(kind)));
    }
    return built;
  }();
  return *schemas;
}

const TypeNode& RootOf(const std::string& kind) {
  const Schemas& schemas = AllSchemas();
  auto it = schemas.roots.find(kind);
  return it == schemas.roots.end() ? Untyped() : *it->second;
}

// The type of `key` in a map: its declared field, else the map's element
// type, else nullptr (the key is not declared).
const TypeNode* ChildType(const TypeNode& map, const std::string& key) {
  auto it = map.fields.find(key);
  return it != map.fields.end() ? it->second : map.element;
}

bool IsDeclaredField(const TypeNode& map, const std::string& key) {
  return map.fields.contains(key);
}

// The path element that names `item` in `list`, or the error that
// upstream reports for it.
base::StatusOr<PathElement> ItemElement(const TypeNode& list, size_t index,
                                        const Json& item) {
  auto fail = [](const std::string& message) {
    return base::InvalidArgumentError(message);
  };
  if (!list.associative) return PathElement::Index(static_cast<int64_t>(index));
  if (!list.keys.empty()) {
    if (item.is_null()) {
      return fail("associative list with keys may not have a null element");
    }
    if (!item.is_object()) {
      return fail("associative list with keys may not have non-map elements");
    }
    Json key = Json::object();
    for (const std::string& field : list.keys) {
      auto it = item.find(field);
      if (it == item.end()) {
        return fail(
            "associative list with keys has an element that omits key "
            "field " +
            GoQuote(field) + " (and doesn't have default value)");
      }
      key[field] = *it;
    }
    return PathElement::Key(std::move(key));
  }
  if (item.is_object()) {
    return fail(
        "associative list without keys has an element that's a map "
        "type");
  }
  if (item.is_array()) {
    return fail("not supported: associative list with lists as elements");
  }
  if (item.is_null()) {
    return fail(
        "associative list without keys has an element that's an "
        "explicit null");
  }
  return PathElement::Value(item);
}

// The items of a list by path element, in order, without the items whose
// element fails or repeats an earlier one.
struct IndexedList {
  std::vector<PathElement> order;
  std::map<PathElement, const Json*> items;
};

IndexedList IndexList(const TypeNode& list, const Json* value) {
  IndexedList indexed;
  if (value == nullptr || !value->is_array()) return indexed;
  for (size_t i = 0; i < value->size(); ++i) {
    base::StatusOr<PathElement> element = ItemElement(list, i, (*value)[i]);
    if (!element.ok() || indexed.items.contains(*element)) continue;
    indexed.items[*element] = &(*value)[i];
    indexed.order.push_back(*element);
  }
  return indexed;
}

class Validator {
 public:
  explicit Validator(bool allow_duplicates)
      : allow_duplicates_(allow_duplicates) {}

  void Walk(const TypeNode& declared, const Json& value,
            const std::string& path) {
    // Null is a valid value of every type.
    if (value.is_null()) return;
    const TypeNode& type = Deduce(declared, &value);
    switch (type.kind) {
      case TypeNode::Kind::kScalar:
        CheckScalar(type, value, path);
        return;
      case TypeNode::Kind::kMap:
        WalkMap(type, value, path);
        return;
      case TypeNode::Kind::kList:
        WalkList(type, value, path);
        return;
      case TypeNode::Kind::kUntyped:
        return;
    }
  }

  std::string Text() const {
    if (errors_.empty()) return "";
    if (errors_.size() == 1) return errors_.front();
    std::string text = "errors:";
    for (const std::string& error : errors_) text += "\n  " + error;
    return text;
  }

 private:
  void Add(const std::string& path, const std::string& message) {
    errors_.push_back(path.empty() ? message : path + ": " + message);
  }

  void CheckScalar(const TypeNode& type, const Json& value,
                   const std::string& path) {
    if (type.scalar == "string" && !value.is_string()) {
      Add(path, "expected string, got " + GoFormat(value));
    } else if (type.scalar == "numeric" && !value.is_number()) {
      Add(path, "expected numeric (int or float), got " + GoFormat(value));
    } else if (type.scalar == "boolean" && !value.is_boolean()) {
      Add(path, "expected boolean, got " + GoFormat(value));
    }
  }

  void WalkMap(const TypeNode& type, const Json& value,
               const std::string& path) {
    if (!value.is_object()) {
      Add(path, "expected map, got " + GoFormat(value));
      return;
    }
    for (const auto& [key, child] : value.items()) {
      const TypeNode* child_type = ChildType(type, key);
      const std::string child_path = path + PathElement::Field(key).String();
      if (child_type == nullptr) {
        Add(child_path, "field not declared in schema");
        return;
      }
      Walk(*child_type, child, child_path);
    }
  }

  void WalkList(const TypeNode& type, const Json& value,
                const std::string& path) {
    if (!value.is_array()) {
      Add(path, "expected list, got " + GoFormat(value));
      return;
    }
    std::set<PathElement> seen;
    for (size_t i = 0; i < value.size(); ++i) {
      base::StatusOr<PathElement> element = ItemElement(type, i, value[i]);
      if (!element.ok()) {
        Add(path,
            "element " + std::to_string(i) + ": " + element.status().message());
        return;
      }
      if (type.associative && !seen.insert(*element).second &&
          !allow_duplicates_) {
        Add(path, "duplicate entries for key " + element->String());
      }
      Walk(*type.element, value[i], path + element->String());
    }
  }

  const bool allow_duplicates_;
  std::vector<std::string> errors_;
};

void CollectFields(const TypeNode& declared, const Json& value, FieldPath& path,
                   FieldSet& out) {
  const TypeNode& type = Deduce(declared, &value);
  switch (type.kind) {
    case TypeNode::Kind::kScalar:
    case TypeNode::Kind::kUntyped:
      out.Insert(path);
      return;
    case TypeNode::Kind::kList:
      if (type.atomic) {
        out.Insert(path);
        return;
      }
      if (!value.is_array()) return;
      for (size_t i = 0; i < value.size(); ++i) {
        base::StatusOr<PathElement> element = ItemElement(type, i, value[i]);
        if (!element.ok()) continue;
        path.push_back(*element);
        CollectFields(*type.element, value[i], path, out);
        out.Insert(path);
        path.pop_back();
      }
      return;
    case TypeNode::Kind::kMap:
      if (type.atomic) {
        out.Insert(path);
        return;
      }
      if (!value.is_object()) return;
      for (const auto& [key, child] : value.items()) {
        const TypeNode* child_type = ChildType(type, key);
        path.push_back(PathElement::Field(key));
        CollectFields(child_type != nullptr ? *child_type : Untyped(), child,
                      path, out);
        // A map key is a field of its own; a struct field only through
        // what it contains.
        if (!IsDeclaredField(type, key)) out.Insert(path);
        path.pop_back();
      }
      return;
  }
}

bool IsEmptyContainer(const Json* value) {
  return value == nullptr || value->empty();
}

void CompareWalk(const TypeNode& declared, const Json* lhs, const Json* rhs,
                 FieldPath& path, Comparison& result) {
  const TypeNode& type = Deduce(declared, rhs != nullptr ? rhs : lhs);
  bool leaf = true;
  if (type.kind == TypeNode::Kind::kMap) {
    const Json* left = lhs != nullptr && lhs->is_object() ? lhs : nullptr;
    const Json* right = rhs != nullptr && rhs->is_object() ? rhs : nullptr;
    // Two empty maps are compared as values, which keeps {} apart from
    // null.
    leaf = type.atomic || (IsEmptyContainer(left) && IsEmptyContainer(right));
    if (!leaf) {
      std::set<std::string> keys;
      for (const Json* side : {left, right}) {
        if (side == nullptr) continue;
        for (const auto& [key, value] : side->items()) keys.insert(key);
      }
      for (const std::string& key : keys) {
        const Json* left_child = nullptr;
        const Json* right_child = nullptr;
        if (left != nullptr && left->contains(key)) left_child = &(*left)[key];
        if (right != nullptr && right->contains(key)) {
          right_child = &(*right)[key];
        }
        const TypeNode* child_type = ChildType(type, key);
        path.push_back(PathElement::Field(key));
        CompareWalk(child_type != nullptr ? *child_type : Untyped(), left_child,
                    right_child, path, result);
        path.pop_back();
      }
    }
  } else if (type.kind == TypeNode::Kind::kList) {
    const Json* left = lhs != nullptr && lhs->is_array() ? lhs : nullptr;
    const Json* right = rhs != nullptr && rhs->is_array() ? rhs : nullptr;
    leaf = type.atomic || (IsEmptyContainer(left) && IsEmptyContainer(right));
    if (!leaf) {
      const IndexedList left_items = IndexList(type, left);
      const IndexedList right_items = IndexList(type, right);
      std::set<PathElement> elements(left_items.order.begin(),
                                     left_items.order.end());
      elements.insert(right_items.order.begin(), right_items.order.end());
      for (const PathElement& element : elements) {
        auto left_item = left_items.items.find(element);
        auto right_item = right_items.items.find(element);
        path.push_back(element);
        CompareWalk(
            *type.element,
            left_item == left_items.items.end() ? nullptr : left_item->second,
            right_item == right_items.items.end() ? nullptr
                                                  : right_item->second,
            path, result);
        path.pop_back();
      }
    }
  }

  if (lhs == nullptr) {
    result.added.Insert(path);
  } else if (rhs == nullptr) {
    result.removed.Insert(path);
  } else if (leaf && *lhs != *rhs) {
    result.modified.Insert(path);
  }
}

std::optional<Json> MergeWalk(const TypeNode& declared, const Json* lhs,
                              const Json* rhs);

std::optional<Json> MergeMap(const TypeNode& type, const Json* left,
                             const Json* right) {
  Json out = Json::object();
  auto merge_key = [&](const std::string& key, const Json* left_child,
                       const Json* right_child) {
    const TypeNode* child_type = ChildType(type, key);
    std::optional<Json> merged =
        MergeWalk(child_type != nullptr ? *child_type : Untyped(), left_child,
                  right_child);
    if (merged.has_value()) out[key] = std::move(*merged);
  };
  if (left != nullptr) {
    for (const auto& [key, value] : left->items()) {
      const Json* right_child = nullptr;
      if (right != nullptr && right->contains(key)) {
        right_child = &(*right)[key];
      }
      merge_key(key, &value, right_child);
    }
  }
  if (right != nullptr) {
    for (const auto& [key, value] : right->items()) {
      if (left == nullptr || !left->contains(key))
        merge_key(key, nullptr, &value);
    }
  }
  if (out.empty()) return std::nullopt;
  return out;
}

// Merges two associative lists in upstream's order: shared items in the
// right list's order, with items of only one side where they stood.
std::optional<Json> MergeList(const TypeNode& type, const Json* left,
                              const Json* right) {
  const IndexedList lhs = IndexList(type, left);
  const IndexedList rhs = IndexList(type, right);
  std::vector<PathElement> shared;
  for (const PathElement& element : rhs.order) {
    if (lhs.items.contains(element)) shared.push_back(element);
  }
  size_t next_shared = 0;
  auto current_shared = [&]() -> const PathElement* {
    return next_shared < shared.size() ? &shared[next_shared] : nullptr;
  };

  Json out = Json::array();
  auto merge_item = [&](const PathElement& element) {
    auto left_item = lhs.items.find(element);
    auto right_item = rhs.items.find(element);
    std::optional<Json> merged =
        MergeWalk(*type.element,
                  left_item == lhs.items.end() ? nullptr : left_item->second,
                  right_item == rhs.items.end() ? nullptr : right_item->second);
    if (merged.has_value()) out.push_back(std::move(*merged));
  };
  size_t l = 0;
  size_t r = 0;
  while (l < lhs.order.size() || r < rhs.order.size()) {
    if (l < lhs.order.size() && r < rhs.order.size()) {
      const PathElement& element = lhs.order[l];
      if (element == rhs.order[r]) {
        merge_item(element);
        ++l;
        ++r;
        ++next_shared;
        continue;
      }
      // A shared item that the right list puts later waits for its turn.
      if (rhs.items.contains(element) && current_shared() != nullptr &&
          !(*current_shared() == element)) {
        ++l;
        continue;
      }
    }
    if (l < lhs.order.size() && !rhs.items.contains(lhs.order[l])) {
      merge_item(lhs.order[l]);
      ++l;
      continue;
    }
    if (r < rhs.order.size()) {
      const PathElement& element = rhs.order[r];
      merge_item(element);
      ++r;
      if (current_shared() != nullptr && *current_shared() == element) {
        ++next_shared;
      }
    }
  }
  if (out.empty()) return std::nullopt;
  return out;
}

std::optional<Json> MergeWalk(const TypeNode& declared, const Json* lhs,
                              const Json* rhs) {
  const TypeNode& type = Deduce(declared, rhs != nullptr ? rhs : lhs);
  const Json& kept = rhs != nullptr ? *rhs : *lhs;
  if (type.kind == TypeNode::Kind::kMap) {
    const Json* left = lhs != nullptr && lhs->is_object() ? lhs : nullptr;
    const Json* right = rhs != nullptr && rhs->is_object() ? rhs : nullptr;
    if (type.atomic || (IsEmptyContainer(left) && IsEmptyContainer(right))) {
      return kept;
    }
    return MergeMap(type, left, right);
  }
  if (type.kind == TypeNode::Kind::kList) {
    const Json* left = lhs != nullptr && lhs->is_array() ? lhs : nullptr;
    const Json* right = rhs != nullptr && rhs->is_array() ? rhs : nullptr;
    if (type.atomic || (IsEmptyContainer(left) && IsEmptyContainer(right))) {
      return kept;
    }
    return MergeList(type, left, right);
  }
  return kept;
}

Json RemoveWalk(const TypeNode& declared, const Json& value,
                const FieldSet& remove) {
  const TypeNode& type = Deduce(declared, &value);
  if (type.kind == TypeNode::Kind::kList) {
    if (!value.is_array() || value.empty() || type.atomic) return nullptr;
    Json out = Json::array();
    for (size_t i = 0; i < value.size(); ++i) {
      base::StatusOr<PathElement> element = ItemElement(type, i, value[i]);
      if (!element.ok()) {
        out.push_back(value[i]);
        continue;
      }
      if (remove.members().contains(*element)) continue;
      const FieldSet below = remove.WithPrefix(*element);
      out.push_back(below.empty() ? value[i]
                                  : RemoveWalk(*type.element, value[i], below));
    }
    return out.empty() ? Json(nullptr) : out;
  }
  if (type.kind == TypeNode::Kind::kMap) {
    if (!value.is_object() || value.empty() || type.atomic) return nullptr;
    Json out = Json::object();
    for (const auto& [key, child] : value.items()) {
      const PathElement element = PathElement::Field(key);
      if (remove.members().contains(element)) continue;
      const FieldSet below = remove.WithPrefix(element);
      const TypeNode* child_type = ChildType(type, key);
      out[key] = below.empty() ? child
                               : RemoveWalk(child_type != nullptr ? *child_type
                                                                  : Untyped(),
                                            child, below);
    }
    return out.empty() ? Json(nullptr) : out;
  }
  return value;
}

FieldSet EnsureWalk(const FieldSet& set, const TypeNode* type) {
  FieldSet out;
  for (const PathElement& member : set.members()) out.AddMember(member);
  for (const auto& [element, child] : set.children()) {
    const TypeNode* child_type = nullptr;
    if (type != nullptr && type->kind == TypeNode::Kind::kMap &&
        element.type() == PathElement::Type::kField) {
      if (IsDeclaredField(*type, element.name())) out.AddMember(element);
      child_type = ChildType(*type, element.name());
    } else if (type != nullptr && type->kind == TypeNode::Kind::kList &&
               element.type() == PathElement::Type::kKey) {
      child_type = type->element;
    }
    out.AddChild(element, EnsureWalk(child, child_type));
  }
  return out;
}

void DropNullsWalk(const TypeNode& declared, Json& value) {
  const TypeNode& type = Deduce(declared, &value);
  if (type.kind == TypeNode::Kind::kList && value.is_array()) {
    for (Json& item : value) DropNullsWalk(*type.element, item);
    return;
  }
  if (type.kind != TypeNode::Kind::kMap || !value.is_object()) return;
  for (auto it = value.begin(); it != value.end();) {
    const TypeNode* child_type = ChildType(type, it.key());
    if (it->is_null() && IsDeclaredField(type, it.key())) {
      it = value.erase(it);
      continue;
    }
    if (it->is_null() && child_type != nullptr &&
        child_type->kind == TypeNode::Kind::kScalar &&
        child_type->scalar == "string") {
      *it = "";
    } else if (child_type != nullptr) {
      DropNullsWalk(*child_type, *it);
    }
    ++it;
  }
}

}  // namespace

std::string SchemaErrors(const std::string& kind, const Json& object,
                         bool allow_duplicates) {
  Validator validator(allow_duplicates);
  validator.Walk(RootOf(kind), object, "");
  return validator.Text();
}

FieldSet FieldsOf(const std::string& kind, const Json& object) {
  FieldSet fields;
  FieldPath path;
  CollectFields(RootOf(kind), object, path, fields);
  return fields;
}

Comparison CompareObjects(const std::string& kind, const Json& lhs,
                          const Json& rhs) {
  Comparison result;
  FieldPath path;
  CompareWalk(RootOf(kind), &lhs, &rhs, path, result);
  return result;
}

Json MergeObjects(const std::string& kind, const Json& lhs, const Json& rhs) {
  std::optional<Json> merged = MergeWalk(RootOf(kind), &lhs, &rhs);
  return merged.has_value() ? std::move(*merged) : Json::object();
}

Json RemoveFields(const std::string& kind, const Json& object,
                  const FieldSet& fields) {
  if (fields.empty()) return object;
  return RemoveWalk(RootOf(kind), object, fields);
}

FieldSet EnsureNamedFieldsAreMembers(const std::string& kind,
                                     const FieldSet& fields) {
  return EnsureWalk(fields, &RootOf(kind));
}

void DropNullFields(const std::string& kind, Json& object) {
  DropNullsWalk(RootOf(kind), object);
}

}  // namespace apiserver
