#include "apiserver/strategic_merge.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace apiserver {
namespace {

using Json = nlohmann::json;

Json SecretWith(const Json& fields) {
  Json secret = {{"apiVersion", "v1"},
                 {"kind", "Secret"},
                 {"metadata", {{"name", "s"}, {"namespace", "default"}}},
                 {"data", {{"a", "YQ=="}, {"b", "Yg=="}}},
                 {"type", "Opaque"}};
  if (fields.is_object()) secret.merge_patch(fields);
  return secret;
}

// Applies `patch` (JSON text) to `original` and returns the result, or the
// error message.
Json Patch(const Json& original, const std::string& patch,
           const std::string& kind = "Secret") {
  auto patched = StrategicMergePatch(original, Json::parse(patch), kind);
  if (!patched.ok()) return patched.status().message();
  return *patched;
}

TEST(StrategicMerge, MergesMapsAndNullDeletes) {
  Json patched = Patch(SecretWith({}), R"({"data": {"b": null, "c": "Yw=="}})");

  EXPECT_EQ(patched["data"], Json::parse(R"({"a": "YQ==", "c": "Yw=="})"));
  EXPECT_EQ(patched["type"], "Opaque");
}

TEST(StrategicMerge, ReplaceDirectiveReplacesMap) {
  Json patched =
      Patch(SecretWith({}), R"({"data": {"$patch": "replace", "c": "Yw=="}})");

  EXPECT_EQ(patched["data"], Json::parse(R"({"c": "Yw=="})"));
}

TEST(StrategicMerge, DeleteDirectiveEmptiesMap) {
  Json patched = Patch(SecretWith({}), R"({"data": {"$patch": "delete"}})");

  EXPECT_EQ(patched["data"], Json::object());
}

TEST(StrategicMerge, FinalizersMergeAsSet) {
  Json original = SecretWith({{"metadata", {{"finalizers", {"a", "b"}}}}});

  Json patched = Patch(original, R"({"metadata": {"finalizers": ["b", "c"]}})");

  EXPECT_EQ(patched["metadata"]["finalizers"],
            Json::parse(R"(["a", "b", "c"])"));
}

TEST(StrategicMerge, DeleteFromPrimitiveListRemovesValues) {
  Json original = SecretWith({{"metadata", {{"finalizers", {"a", "b"}}}}});

  Json patched =
      Patch(original,
            R"({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}})");

  EXPECT_EQ(patched["metadata"]["finalizers"], Json::parse(R"(["b"])"));
  EXPECT_FALSE(
      patched["metadata"].contains("$deleteFromPrimitiveList/finalizers"));
}

TEST(StrategicMerge, ListReplaceDirectiveReplacesList) {
  Json original = SecretWith({{"metadata", {{"finalizers", {"a", "b"}}}}});

  Json patched =
      Patch(original,
            R"({"metadata": {"finalizers": [{"$patch": "replace"}, "c"]}})");

  EXPECT_EQ(patched["metadata"]["finalizers"], Json::parse(R"(["c"])"));
}

TEST(StrategicMerge, OwnerReferencesMergeOnUid) {
  Json original = SecretWith(Json::parse(R"({"metadata": {"ownerReferences": [
      {"apiVersion": "v1", "kind": "Pod", "name": "p1", "uid": "u1"},
      {"apiVersion": "v1", "kind": "Pod", "name": "p2", "uid": "u2"}]}})"));

  Json patched = Patch(original, R"({"metadata": {"ownerReferences": [
      {"uid": "u2", "name": "renamed"},
      {"uid": "u1", "$patch": "delete"},
      {"apiVersion": "v1", "kind": "Pod", "name": "p3", "uid": "u3"}]}})");

  EXPECT_EQ(patched["metadata"]["ownerReferences"], Json::parse(R"([
      {"apiVersion": "v1", "kind": "Pod", "name": "renamed", "uid": "u2"},
      {"apiVersion": "v1", "kind": "Pod", "name": "p3", "uid": "u3"}])"));
}

TEST(StrategicMerge, SetElementOrderReordersList) {
  Json original = SecretWith({{"metadata", {{"finalizers", {"a", "b"}}}}});

  Json patched = Patch(original, R"({"metadata": {
      "$setElementOrder/finalizers": ["c", "b", "a"],
      "finalizers": ["c"]}})");

  EXPECT_EQ(patched["metadata"]["finalizers"],
            Json::parse(R"(["c", "b", "a"])"));
}

TEST(StrategicMerge, NamespaceConditionsMergeOnType) {
  Json original =
      Json::parse(R"({"kind": "Namespace", "metadata": {"name": "n"},
      "status": {"phase": "Active", "conditions": [
        {"type": "A", "status": "True"}, {"type": "B", "status": "False"}]}})");

  Json patched = Patch(original, R"({"status": {"conditions": [
      {"type": "B", "status": "True"}]}})",
                       "Namespace");

  EXPECT_EQ(patched["status"]["conditions"], Json::parse(R"([
      {"type": "A", "status": "True"}, {"type": "B", "status": "True"}])"));
}

// spec.finalizers of a Namespace has no patch strategy, so a patch
// replaces the list.
TEST(StrategicMerge, AtomicListIsReplaced) {
  Json original = Json::parse(
      R"({"kind": "Namespace", "spec": {"finalizers": ["kubernetes", "x"]}})");

  Json patched =
      Patch(original, R"({"spec": {"finalizers": ["y"]}})", "Namespace");

  EXPECT_EQ(patched["spec"]["finalizers"], Json::parse(R"(["y"])"));
}

TEST(StrategicMerge, RetainKeysDropsOtherKeys) {
  Json patched = Patch(SecretWith({}),
                       R"({"data": {"$retainKeys": ["a", "c"], "c": "Yw=="}})");

  EXPECT_EQ(patched["data"], Json::parse(R"({"a": "YQ==", "c": "Yw=="})"));
}

TEST(StrategicMerge, RetainKeysMustCoverPatch) {
  auto patched = StrategicMergePatch(
      SecretWith({}),
      Json::parse(R"({"data": {"$retainKeys": ["a"], "c": "x"}})"), "Secret");

  ASSERT_FALSE(patched.ok());
  EXPECT_EQ(patched.status().reason(), "Invalid");
  EXPECT_EQ(patched.status().message(),
            "patch content doesn't match retainKeys list");
}

TEST(StrategicMerge, UnknownPatchTypeFails) {
  auto patched = StrategicMergePatch(
      SecretWith({}), Json::parse(R"({"data": {"$patch": "merge2", "a": 1}})"),
      "Secret");

  ASSERT_FALSE(patched.ok());
  EXPECT_EQ(patched.status().reason(), "InternalError");
  EXPECT_EQ(patched.status().message(),
            "unknown patch type: merge2 in map: map[$patch:merge2 a:1]");
}

TEST(StrategicMerge, MalformedDirectivesAreBadRequests) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}})",
       "invalid patch format of primitive list"},
      {R"({"metadata": {"$setElementOrder/finalizers": "a"}})",
       "invalid patch format of setElementOrder list"},
      {R"({"data": {"$retainKeys": "a"}})",
       "invalid patch format of retainKeys"},
      {R"([1, 2])", "invalid JSON document"},
  };
  for (const auto& [patch, message] : cases) {
    auto patched =
        StrategicMergePatch(SecretWith({}), Json::parse(patch), "Secret");

    ASSERT_FALSE(patched.ok()) << patch;
    EXPECT_EQ(patched.status().reason(), "BadRequest") << patch;
    EXPECT_EQ(patched.status().message(), message) << patch;
  }
}

TEST(StrategicMerge, MergeListElementNeedsMergeKey) {
  auto patched = StrategicMergePatch(
      SecretWith({}),
      Json::parse(R"({"metadata": {"ownerReferences": [{"name": "p"}]}})"),
      "Secret");

  ASSERT_FALSE(patched.ok());
  EXPECT_EQ(patched.status().message(),
            "map: map[name:p] does not contain declared merge key: uid");
}

TEST(StrategicMerge, ListsOfListsAreRejected) {
  auto patched = StrategicMergePatch(
      SecretWith({}), Json::parse(R"({"metadata": {"finalizers": [["a"]]}})"),
      "Secret");

  ASSERT_FALSE(patched.ok());
  EXPECT_EQ(patched.status().message(), "lists of lists are not supported");
}

TEST(GoFormat, PrintsLikeGoMaps) {
  Json value =
      Json::parse(R"({"b": [1, "x", null, true], "a": {"c": 1.5}, "d": ""})");

  EXPECT_EQ(GoFormat(value), "map[a:map[c:1.5] b:[1 x <nil> true] d:]");
}

}  // namespace
}  // namespace apiserver
