#include "apiserver/fieldpath.h"

#include <charconv>
#include <utility>

#include "apiserver/validation.h"

namespace apiserver {
namespace {

using Json = nlohmann::json;

// A value inside a path element as structured-merge-diff's value.ToString
// prints it: strings quoted as Go's %q, other values as JSON.
std::string ValueString(const Json& value) {
  if (value.is_string()) return GoQuote(value.get<std::string>());
  return GoJsonEncode(value);
}

base::Status FieldsV1Error(const std::string& detail) {
  return base::InvalidArgumentError("invalid FieldsV1: " + detail);
}

// One FieldsV1 node: the paths below it, and whether it names its own
// path too.
struct FieldsV1Node {
  std::optional<FieldSet> children;
  bool is_member = false;
};

base::StatusOr<FieldsV1Node> ReadFieldsV1Node(const Json& node) {
  FieldsV1Node out;
  // A null node reads as an empty one, as upstream's JSON iterator does.
  if (node.is_null()) {
    out.is_member = true;
    return out;
  }
  if (!node.is_object()) {
    return FieldsV1Error("expected an object, got " + GoJsonEncode(node));
  }
  for (const auto& [key, value] : node.items()) {
    if (key == ".") {
      out.is_member = true;
      continue;
    }
    ASSIGN_OR_RETURN(std::optional<PathElement> element,
                     PathElement::ParseFieldsV1Key(key));
    if (!element.has_value()) continue;
    ASSIGN_OR_RETURN(FieldsV1Node child, ReadFieldsV1Node(value));
    if (!out.children.has_value()) out.children.emplace();
    if (child.is_member) out.children->AddMember(*element);
    if (child.children.has_value()) {
      out.children->AddChild(*element, std::move(*child.children));
    }
  }
  // A node without children ({} or only ".") is a path of its own.
  if (!out.children.has_value() || out.children->empty()) {
    out.children.reset();
    out.is_member = true;
  }
  return out;
}

Json WriteFieldsV1Node(const FieldSet& set, bool include_self) {
  Json out = Json::object();
  if (include_self && !set.empty()) out["."] = Json::object();
  for (const PathElement& member : set.members()) {
    out[member.FieldsV1Key()] = Json::object();
  }
  for (const auto& [element, child] : set.children()) {
    out[element.FieldsV1Key()] =
        WriteFieldsV1Node(child, set.members().contains(element));
  }
  return out;
}

void CollectPaths(const FieldSet& set, FieldPath& prefix,
                  std::vector<FieldPath>& paths) {
  for (const PathElement& member : set.members()) {
    prefix.push_back(member);
    paths.push_back(prefix);
    prefix.pop_back();
  }
  for (const auto& [element, child] : set.children()) {
    prefix.push_back(element);
    CollectPaths(child, prefix, paths);
    prefix.pop_back();
  }
}

}  // namespace

std::string GoJsonEncode(const Json& value) {
  const std::string dumped =
      value.dump(-1, ' ', false, Json::error_handler_t::replace);
  std::string out;
  out.reserve(dumped.size());
  for (size_t i = 0; i < dumped.size(); ++i) {
    const char c = dumped[i];
    if (c == '<') {
      out += "\\u003c";
    } else if (c == '>') {
      out += "\\u003e";
    } else if (c == '&') {
      out += "\\u0026";
    } else if (dumped.compare(i, 3, "\xE2\x80\xA8") == 0) {
      out += "\\u2028";
      i += 2;
    } else if (dumped.compare(i, 3, "\xE2\x80\xA9") == 0) {
      out += "\\u2029";
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

PathElement PathElement::Field(std::string name) {
  PathElement element;
  element.type_ = Type::kField;
  element.name_ = std::move(name);
  return element;
}

PathElement PathElement::Key(Json fields) {
  PathElement element;
  element.type_ = Type::kKey;
  element.value_ = std::move(fields);
  return element;
}

PathElement PathElement::Value(Json value) {
  PathElement element;
  element.type_ = Type::kValue;
  element.value_ = std::move(value);
  return element;
}

PathElement PathElement::Index(int64_t index) {
  PathElement element;
  element.type_ = Type::kIndex;
  element.index_ = index;
  return element;
}

std::string PathElement::String() const {
  switch (type_) {
    case Type::kField:
      return "." + name_;
    case Type::kKey: {
      std::string out = "[";
      for (const auto& [field, value] : value_.items()) {
        if (out.size() > 1) out += ",";
        out += field + "=" + ValueString(value);
      }
      return out + "]";
    }
    case Type::kValue:
      return "[=" + ValueString(value_) + "]";
    case Type::kIndex:
      return "[" + std::to_string(index_) + "]";
  }
  return "";
}

std::string PathElement::FieldsV1Key() const {
  switch (type_) {
    case Type::kField:
      return "f:" + name_;
    case Type::kKey:
      return "k:" + GoJsonEncode(value_);
    case Type::kValue:
      return "v:" + GoJsonEncode(value_);
    case Type::kIndex:
      return "i:" + std::to_string(index_);
  }
  return "";
}

base::StatusOr<std::optional<PathElement>> PathElement::ParseFieldsV1Key(
    std::string_view key) {
  if (key.size() < 2 || key[1] != ':') {
    return FieldsV1Error("key " + GoQuote(key) +
                         " does not start with a letter and a colon");
  }
  const std::string_view rest = key.substr(2);
  switch (key[0]) {
    case 'f':
      return std::optional<PathElement>(Field(std::string(rest)));
    case 'v':
    case 'k': {
      Json parsed = Json::parse(rest, nullptr, false);
      if (parsed.is_discarded() || (key[0] == 'k' && !parsed.is_object())) {
        return FieldsV1Error("key " + GoQuote(key) + " has no valid JSON " +
                             (key[0] == 'k' ? "object" : "value"));
      }
      return std::optional<PathElement>(
          key[0] == 'k' ? Key(std::move(parsed)) : Value(std::move(parsed)));
    }
    case 'i': {
      int64_t index = 0;
      auto [end, error] =
          std::from_chars(rest.data(), rest.data() + rest.size(), index);
      if (error != std::errc() || end != rest.data() + rest.size()) {
        return FieldsV1Error("key " + GoQuote(key) + " has no valid index");
      }
      return std::optional<PathElement>(Index(index));
    }
    default:
      return std::optional<PathElement>();
  }
}

int PathElement::Compare(const PathElement& other) const {
  if (type_ != other.type_) return type_ < other.type_ ? -1 : 1;
  switch (type_) {
    case Type::kField: {
      const int order = name_.compare(other.name_);
      return order < 0 ? -1 : order > 0 ? 1 : 0;
    }
    case Type::kKey:
    case Type::kValue:
      return value_ < other.value_ ? -1 : other.value_ < value_ ? 1 : 0;
    case Type::kIndex:
      return index_ < other.index_ ? -1 : other.index_ < index_ ? 1 : 0;
  }
  return 0;
}

std::string PathString(const FieldPath& path) {
  std::string out;
  for (const PathElement& element : path) out += element.String();
  return out;
}

void FieldSet::Insert(const FieldPath& path) {
  if (path.empty()) return;
  FieldSet* node = this;
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    node = &node->children_[path[i]];
  }
  node->members_.insert(path.back());
}

bool FieldSet::Has(const FieldPath& path) const {
  if (path.empty()) return false;
  const FieldSet* node = this;
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    auto it = node->children_.find(path[i]);
    if (it == node->children_.end()) return false;
    node = &it->second;
  }
  return node->members_.contains(path.back());
}

void FieldSet::AddChild(const PathElement& element, FieldSet below) {
  if (below.empty()) return;
  auto it = children_.find(element);
  if (it == children_.end()) {
    children_.emplace(element, std::move(below));
  } else {
    it->second = it->second.Union(below);
  }
}

FieldSet FieldSet::Union(const FieldSet& other) const {
  FieldSet out = *this;
  out.members_.insert(other.members_.begin(), other.members_.end());
  for (const auto& [element, child] : other.children_) {
    out.AddChild(element, child);
  }
  return out;
}

FieldSet FieldSet::Intersection(const FieldSet& other) const {
  FieldSet out;
  for (const PathElement& member : members_) {
    if (other.members_.contains(member)) out.members_.insert(member);
  }
  for (const auto& [element, child] : children_) {
    auto it = other.children_.find(element);
    if (it != other.children_.end()) {
      out.AddChild(element, child.Intersection(it->second));
    }
  }
  return out;
}

FieldSet FieldSet::Difference(const FieldSet& other) const {
  FieldSet out;
  for (const PathElement& member : members_) {
    if (!other.members_.contains(member)) out.members_.insert(member);
  }
  for (const auto& [element, child] : children_) {
    auto it = other.children_.find(element);
    out.AddChild(element, it == other.children_.end()
                              ? child
                              : child.Difference(it->second));
  }
  return out;
}

FieldSet FieldSet::RecursiveDifference(const FieldSet& other) const {
  FieldSet out;
  for (const PathElement& member : members_) {
    if (!other.members_.contains(member)) out.members_.insert(member);
  }
  for (const auto& [element, child] : children_) {
    if (other.members_.contains(element)) continue;
    auto it = other.children_.find(element);
    out.AddChild(element, it == other.children_.end()
                              ? child
                              : child.RecursiveDifference(it->second));
  }
  return out;
}

FieldSet FieldSet::WithPrefix(const PathElement& element) const {
  auto it = children_.find(element);
  return it == children_.end() ? FieldSet() : it->second;
}

std::vector<FieldPath> FieldSet::Paths() const {
  std::vector<FieldPath> paths;
  FieldPath prefix;
  CollectPaths(*this, prefix, paths);
  return paths;
}

Json FieldSet::ToFieldsV1() const { return WriteFieldsV1Node(*this, false); }

base::StatusOr<FieldSet> FieldSet::FromFieldsV1(const Json& fields) {
  ASSIGN_OR_RETURN(FieldsV1Node node, ReadFieldsV1Node(fields));
  return node.children.has_value() ? std::move(*node.children) : FieldSet();
}

}  // namespace apiserver
