#include "apiserver/strategic_merge.h"

#include <algorithm>
#include <optional>
#include <string_view>
#include <vector>

#include "apiserver/openapi.h"

namespace apiserver {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kPatchDirective = "$patch";
constexpr std::string_view kRetainKeysDirective = "$retainKeys";
constexpr std::string_view kDeleteFromPrimitiveListPrefix =
    "$deleteFromPrimitiveList/";
constexpr std::string_view kSetElementOrderPrefix = "$setElementOrder/";

// Messages of k8s.io/apimachinery/pkg/util/mergepatch.
base::Status BadPatchFormat(const std::string& what) {
  return base::InvalidArgumentError("invalid patch format of " + what,
                                    "BadRequest");
}

base::Status BadPatchType(const Json& type, const Json& patch) {
  return base::InternalError(
      "unknown patch type: " + GoFormat(type) + " in map: " + GoFormat(patch),
      "InternalError");
}

// How one list merges, from its schema.
struct ListRule {
  bool merge = false;
  std::string merge_key;  // empty for a list of primitives
  const Json* item_schema = nullptr;
};

// Returns the schema of field `key` of an object whose schema is `schema`.
const Json* FieldSchema(const Json* schema, const std::string& key) {
  if (schema == nullptr) return nullptr;
  const Json* resolved = ResolveSchema(*schema);
  if (resolved == nullptr || !resolved->is_object()) return nullptr;
  auto properties = resolved->find("properties");
  if (properties != resolved->end()) {
    auto property = properties->find(key);
    return property == properties->end() ? nullptr : &*property;
  }
  auto additional = resolved->find("additionalProperties");
  return additional == resolved->end() ? nullptr : &*additional;
}

ListRule RuleOf(const Json* field_schema) {
  ListRule rule;
  if (field_schema == nullptr || !field_schema->is_object()) return rule;
  const std::string strategy =
      field_schema->value("x-kubernetes-patch-strategy", "");
  rule.merge = strategy.find("merge") != std::string::npos;
  rule.merge_key = field_schema->value("x-kubernetes-patch-merge-key", "");
  auto items = field_schema->find("items");
  if (items != field_schema->end()) rule.item_schema = &*items;
  return rule;
}

bool IsDirectiveKey(const std::string& key) {
  return key == kPatchDirective || key == kRetainKeysDirective ||
         key.starts_with(kDeleteFromPrimitiveListPrefix) ||
         key.starts_with(kSetElementOrderPrefix);
}

base::StatusOr<Json> MergeMap(Json original, const Json& patch,
                              const Json* schema);
base::StatusOr<Json> MergeList(const Json& original, const Json& patch,
                               const ListRule& rule);

// Merges a patch value into an original value of any type; a missing
// original is null.
base::StatusOr<Json> MergeValue(const Json& original, const Json& patch,
                                const Json* field_schema) {
  if (patch.is_object()) {
    return MergeMap(original.is_object() ? original : Json::object(), patch,
                    field_schema);
  }
  if (patch.is_array()) {
    return MergeList(original.is_array() ? original : Json::array(), patch,
                     RuleOf(field_schema));
  }
  return patch;
}

// The value that identifies a list element for $setElementOrder and merging.
Json ElementKey(const Json& element, const std::string& merge_key) {
  if (merge_key.empty() || !element.is_object()) return element;
  return element.value(merge_key, Json());
}

// Puts the elements named in `order` first, in that order; the others follow
// in their current order.
Json ApplyElementOrder(const Json& list, const Json& order,
                       const std::string& merge_key) {
  std::vector<Json> keys;
  for (const Json& entry : order) keys.push_back(ElementKey(entry, merge_key));
  std::vector<std::pair<size_t, Json>> ranked;
  for (const Json& element : list) {
    const Json key = ElementKey(element, merge_key);
    auto found = std::find(keys.begin(), keys.end(), key);
    ranked.emplace_back(static_cast<size_t>(found - keys.begin()), element);
  }
  std::stable_sort(
      ranked.begin(), ranked.end(),
      [](const auto& a, const auto& b) { return a.first < b.first; });
  Json sorted = Json::array();
  for (auto& [rank, element] : ranked) sorted.push_back(std::move(element));
  return sorted;
}

base::Status ApplyRetainKeys(const Json& patch, Json& original) {
  const Json& retain = patch[std::string(kRetainKeysDirective)];
  if (!retain.is_array()) return BadPatchFormat("retainKeys");
  std::vector<std::string> keys;
  for (const Json& key : retain) {
    if (!key.is_string()) return BadPatchFormat("retainKeys");
    keys.push_back(key.get<std::string>());
  }
  for (const auto& [key, value] : patch.items()) {
    if (IsDirectiveKey(key) || value.is_null()) continue;
    if (std::ranges::find(keys, key) == keys.end()) {
      return base::InvalidArgumentError(
          "patch content doesn't match retainKeys list", "Invalid");
    }
  }
  for (auto it = original.begin(); it != original.end();) {
    if (std::ranges::find(keys, it.key()) == keys.end()) {
      it = original.erase(it);
    } else {
      ++it;
    }
  }
  return base::OkStatus();
}

base::StatusOr<Json> MergeMap(Json original, const Json& patch,
                              const Json* schema) {
  auto directive = patch.find(std::string(kPatchDirective));
  if (directive != patch.end()) {
    if (*directive == "delete") return Json::object();
    if (*directive != "replace") return BadPatchType(*directive, patch);
    Json replacement = patch;
    replacement.erase(std::string(kPatchDirective));
    return MergeMap(Json::object(), replacement, schema);
  }
  if (patch.contains(std::string(kRetainKeysDirective))) {
    RETURN_IF_ERROR(ApplyRetainKeys(patch, original));
  }

  std::vector<std::pair<std::string, Json>> orders;
  for (const auto& [key, value] : patch.items()) {
    if (key.starts_with(kDeleteFromPrimitiveListPrefix)) {
      if (!value.is_array()) return BadPatchFormat("primitive list");
      const std::string field =
          key.substr(kDeleteFromPrimitiveListPrefix.size());
      auto list = original.find(field);
      if (list == original.end() || !list->is_array()) continue;
      Json kept = Json::array();
      for (const Json& element : *list) {
        if (std::find(value.begin(), value.end(), element) == value.end()) {
          kept.push_back(element);
        }
      }
      *list = kept;
      continue;
    }
    if (key.starts_with(kSetElementOrderPrefix)) {
      if (!value.is_array()) return BadPatchFormat("setElementOrder list");
      orders.emplace_back(key.substr(kSetElementOrderPrefix.size()), value);
      continue;
    }
    if (IsDirectiveKey(key)) continue;
    if (value.is_null()) {
      original.erase(key);
      continue;
    }
    const Json* field_schema = FieldSchema(schema, key);
    auto current = original.find(key);
    ASSIGN_OR_RETURN(Json merged,
                     MergeValue(current == original.end() ? Json() : *current,
                                value, field_schema));
    original[key] = std::move(merged);
  }

  for (const auto& [field, order] : orders) {
    auto list = original.find(field);
    if (list == original.end() || !list->is_array()) continue;
    *list = ApplyElementOrder(*list, order,
                              RuleOf(FieldSchema(schema, field)).merge_key);
  }
  return original;
}

// A list of primitives under the merge strategy: the union, original first.
Json MergePrimitiveList(Json original, const Json& patch) {
  for (const Json& element : patch) {
    if (std::find(original.begin(), original.end(), element) ==
        original.end()) {
      original.push_back(element);
    }
  }
  return original;
}

base::StatusOr<Json> MergeObjectList(Json original, const Json& patch,
                                     const ListRule& rule) {
  for (const Json& element : patch) {
    if (!element.is_object()) {
      return base::InvalidArgumentError(
          "expected a map, but received a " +
              std::string(element.is_array() ? "slice" : "primitive"),
          "BadRequest");
    }
    auto key = element.find(rule.merge_key);
    if (key == element.end()) {
      return base::InternalError(
          "map: " + GoFormat(element) +
              " does not contain declared merge key: " + rule.merge_key,
          "InternalError");
    }
    auto match = std::find_if(
        original.begin(), original.end(), [&](const Json& candidate) {
          return candidate.is_object() &&
                 candidate.value(rule.merge_key, Json()) == *key;
        });
    if (element.value(std::string(kPatchDirective), "") == "delete") {
      if (match != original.end()) original.erase(match);
      continue;
    }
    ASSIGN_OR_RETURN(Json merged,
                     MergeMap(match == original.end() ? Json::object() : *match,
                              element, rule.item_schema));
    if (match == original.end()) {
      original.push_back(std::move(merged));
    } else {
      *match = std::move(merged);
    }
  }
  return original;
}

base::StatusOr<Json> MergeList(const Json& original, const Json& patch,
                               const ListRule& rule) {
  Json elements = Json::array();
  bool replace = !rule.merge;
  for (const Json& element : patch) {
    if (element.is_array()) {
      return base::InvalidArgumentError("lists of lists are not supported",
                                        "Invalid");
    }
    // A list element {"$patch": "replace"} marks the whole list.
    if (element.is_object() && element.size() == 1 &&
        element.value(std::string(kPatchDirective), "") == "replace") {
      replace = true;
      continue;
    }
    elements.push_back(element);
  }
  if (replace) {
    Json replaced = Json::array();
    for (const Json& element : elements) {
      ASSIGN_OR_RETURN(Json stripped,
                       MergeValue(Json(), element, rule.item_schema));
      replaced.push_back(std::move(stripped));
    }
    return replaced;
  }
  if (rule.merge_key.empty()) return MergePrimitiveList(original, elements);
  return MergeObjectList(original, elements, rule);
}

}  // namespace

base::StatusOr<Json> StrategicMergePatch(const Json& original,
                                         const Json& patch,
                                         const std::string& kind) {
  if (!patch.is_object()) {
    return base::InvalidArgumentError("invalid JSON document", "BadRequest");
  }
  const std::string name = DefinitionNameOfKind(kind);
  const Json* schema = name.empty() ? nullptr : &OpenApiDefinitions()[name];
  return MergeMap(original.is_object() ? original : Json::object(), patch,
                  schema);
}

std::string GoFormat(const Json& value) {
  if (value.is_null()) return "<nil>";
  if (value.is_string()) return value.get<std::string>();
  if (value.is_array()) {
    std::string out = "[";
    for (size_t i = 0; i < value.size(); ++i) {
      if (i > 0) out += " ";
      out += GoFormat(value[i]);
    }
    return out + "]";
  }
  if (value.is_object()) {
    // nlohmann::json keeps object keys sorted, as Go prints map keys.
    std::string out = "map[";
    bool first = true;
    for (const auto& [key, item] : value.items()) {
      if (!first) out += " ";
      first = false;
      out += key + ":" + GoFormat(item);
    }
    return out + "]";
  }
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace apiserver
