// Typed operations on objects of the served kinds, as
// sigs.k8s.io/structured-merge-diff performs them for server-side apply and
// field management: the set of fields that an object sets, the comparison
// and merge of two objects, and the removal of fields. Internal to the
// apiserver library.
//
// Each kind's schema comes from its OpenAPI definition, as upstream derives
// it: an object with properties is a struct whose fields are tracked one by
// one (atomic with x-kubernetes-map-type: atomic); additionalProperties make
// a map tracked key by key, such as data, labels and annotations; a list is
// atomic unless x-kubernetes-list-type makes it a set (items named by value)
// or a map (items named by x-kubernetes-list-map-keys). Atomic values are
// owned and replaced as a whole. A schema without a type, such as FieldsV1,
// takes the shape of its value.
//
// Thread-safe: the schemas are built once and never change.
#ifndef APISERVER_STRUCTURED_MERGE_H_
#define APISERVER_STRUCTURED_MERGE_H_

#include <nlohmann/json.hpp>
#include <string>

#include "apiserver/fieldpath.h"

namespace apiserver {

// How two objects differ: fields set only on the right (added), on both
// with different values (modified), or only on the left (removed). A map,
// struct or list item counts too when it is missing on one side.
struct Comparison {
  FieldSet added;
  FieldSet modified;
  FieldSet removed;
};

// Checks `object` against `kind`'s schema. Returns "" when it conforms,
// else upstream's text: ".spec: field not declared in schema", or
// "errors:\n  .a: ...\n  .b: ..." for several. Only the first undeclared
// field of each map is reported, as upstream stops there.
// `allow_duplicates` accepts list items with equal keys, as upstream does
// for stored objects.
// NOTE: the texts for values of the wrong JSON type ("expected map, got
// ...") follow structured-merge-diff's wording, but the way the value is
// printed is a guess.
std::string SchemaErrors(const std::string& kind, const nlohmann::json& object,
                         bool allow_duplicates);

// The fields that `object` sets: each scalar, atomic value, map key and
// list item, as upstream's TypedValue.ToFieldSet.
FieldSet FieldsOf(const std::string& kind, const nlohmann::json& object);

// Compares `lhs` with `rhs`, as upstream's TypedValue.Compare.
Comparison CompareObjects(const std::string& kind, const nlohmann::json& lhs,
                          const nlohmann::json& rhs);

// Merges `rhs` into `lhs`: the values of `rhs` win, maps and associative
// lists merge item by item, and atomic values are replaced as a whole.
nlohmann::json MergeObjects(const std::string& kind, const nlohmann::json& lhs,
                            const nlohmann::json& rhs);

// Removes the fields of `fields` from `object`. A map or list left empty on
// the way becomes null, as upstream's TypedValue.RemoveItems leaves it.
nlohmann::json RemoveFields(const std::string& kind,
                            const nlohmann::json& object,
                            const FieldSet& fields);

// Adds, for each path in `fields`, the struct fields that lead to it as
// members of their own: {".metadata.labels.app"} also gets ".metadata" and
// ".metadata.labels", but a map key on the way would not be added.
FieldSet EnsureNamedFieldsAreMembers(const std::string& kind,
                                     const FieldSet& fields);

// Drops struct fields whose value is null and turns null values of string
// maps into "", as decoding into upstream's Go types does.
void DropNullFields(const std::string& kind, nlohmann::json& object);

}  // namespace apiserver

#endif  // APISERVER_STRUCTURED_MERGE_H_
