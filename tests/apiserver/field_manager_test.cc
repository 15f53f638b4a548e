// Field paths, typed merges and managedFields, checked against the
// fieldsV1, conflict messages and merges that kube-apiserver produces for
// the same requests.
#include "apiserver/field_manager.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "apiserver/fieldpath.h"
#include "apiserver/structured_merge.h"
#include "tests/apiserver/test_env.h"

namespace apiserver {
namespace {

using Json = nlohmann::json;

base::Time At(int seconds) {
  return TestStart() + std::chrono::seconds(seconds);
}

Json Secret(const Json& data) {
  return {{"apiVersion", "v1"},
          {"kind", "Secret"},
          {"metadata", {{"name", "db"}, {"namespace", "default"}}},
          {"data", data}};
}

// The fieldsV1 of `manager`'s entry with `operation`, or null.
Json FieldsOfManager(const Json& object, const std::string& manager,
                     const std::string& operation) {
  for (const Json& entry :
       object["metadata"].value("managedFields", Json::array())) {
    if (entry.value("manager", "") == manager &&
        entry.value("operation", "") == operation) {
      return entry["fieldsV1"];
    }
  }
  return nullptr;
}

std::vector<std::string> Managers(const Json& object) {
  std::vector<std::string> managers;
  for (const Json& entry :
       object["metadata"].value("managedFields", Json::array())) {
    managers.push_back(entry.value("manager", "") + "/" +
                       entry.value("operation", ""));
  }
  return managers;
}

TEST(FieldSet, FieldsV1RoundTrip) {
  const Json fields = Json::parse(
      R"({"f:data":{".":{},"f:password":{}},"f:metadata":{"f:finalizers":)"
      R"({"v:\"kubernetes\"":{}},"f:ownerReferences":{"k:{\"uid\":\"u1\"}":)"
      R"({".":{},"f:name":{}}}},"f:type":{}})");

  base::StatusOr<FieldSet> set = FieldSet::FromFieldsV1(fields);

  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->ToFieldsV1(), fields);
  EXPECT_TRUE(set->Has({PathElement::Field("data")}));
  EXPECT_TRUE(
      set->Has({PathElement::Field("data"), PathElement::Field("password")}));
  EXPECT_FALSE(set->Has({PathElement::Field("metadata")}));
  std::vector<std::string> paths;
  for (const FieldPath& path : set->Paths()) paths.push_back(PathString(path));
  EXPECT_EQ(paths, (std::vector<std::string>{
                       ".data", ".type", ".data.password",
                       ".metadata.finalizers[=\"kubernetes\"]",
                       ".metadata.ownerReferences[uid=\"u1\"]",
                       ".metadata.ownerReferences[uid=\"u1\"].name"}));
}

TEST(FieldSet, FieldsV1RejectsMalformedKeys) {
  EXPECT_FALSE(FieldSet::FromFieldsV1(Json::parse(R"({"x":{}})")).ok());
  EXPECT_FALSE(FieldSet::FromFieldsV1(Json::parse(R"({"k:[1]":{}})")).ok());
  EXPECT_FALSE(FieldSet::FromFieldsV1(Json::parse(R"({"f:a":1})")).ok());
  EXPECT_FALSE(FieldSet::FromFieldsV1(Json::parse("[]")).ok());
  // Unknown prefixes are skipped, as a newer server's keys would be.
  base::StatusOr<FieldSet> skipped =
      FieldSet::FromFieldsV1(Json::parse(R"({"z:a":{},"f:b":{}})"));
  ASSERT_TRUE(skipped.ok());
  EXPECT_EQ(skipped->ToFieldsV1(), Json::parse(R"({"f:b":{}})"));
}

TEST(FieldSet, DifferenceKeepsPathsBelowMembers) {
  FieldSet set;
  set.Insert({PathElement::Field("a"), PathElement::Field("b")});
  set.Insert({PathElement::Field("c")});
  FieldSet other;
  other.Insert({PathElement::Field("a")});

  EXPECT_EQ(set.Difference(other), set);
  FieldSet recursive = set.RecursiveDifference(other);
  EXPECT_FALSE(
      recursive.Has({PathElement::Field("a"), PathElement::Field("b")}));
  EXPECT_TRUE(recursive.Has({PathElement::Field("c")}));
}

TEST(StructuredMerge, FieldsOfTracksMapKeysAndLeaves) {
  const Json secret = Secret({{"password", "eA=="}});

  const FieldSet fields = FieldsOf("Secret", secret);

  EXPECT_EQ(fields.ToFieldsV1(),
            Json::parse(R"({"f:apiVersion":{},"f:data":{"f:password":{}},)"
                        R"("f:kind":{},"f:metadata":{"f:name":{},)"
                        R"("f:namespace":{}}})"));
}

TEST(StructuredMerge, SchemaErrorsNameUndeclaredFields) {
  Json secret = Secret({{"a", "eA=="}});
  secret["spec"] = {{"replicas", 1}};
  Json two = secret;
  two["metadata"]["bogus"] = true;
  Json wrong_type = Secret("text");

  EXPECT_EQ(SchemaErrors("Secret", secret, false),
            ".spec: field not declared in schema");
  EXPECT_EQ(SchemaErrors("Secret", two, false),
            "errors:\n  .metadata.bogus: field not declared in schema\n"
            "  .spec: field not declared in schema");
  EXPECT_EQ(SchemaErrors("Secret", wrong_type, false),
            ".data: expected map, got text");
  EXPECT_EQ(SchemaErrors("Secret", Secret({{"a", "eA=="}}), false), "");
}

TEST(StructuredMerge, SchemaErrorsReportDuplicateListKeys) {
  Json secret = Secret(Json::object());
  secret["metadata"]["ownerReferences"] =
      Json::parse(R"([{"uid":"u","name":"a","kind":"K","apiVersion":"v1"},)"
                  R"({"uid":"u","name":"b","kind":"K","apiVersion":"v1"}])");
  Json missing_key = Secret(Json::object());
  missing_key["metadata"]["ownerReferences"] = Json::parse(R"([{"name":"a"}])");

  EXPECT_EQ(SchemaErrors("Secret", secret, false),
            ".metadata.ownerReferences: duplicate entries for key "
            "[uid=\"u\"]");
  EXPECT_EQ(SchemaErrors("Secret", secret, true), "");
  EXPECT_EQ(SchemaErrors("Secret", missing_key, false),
            ".metadata.ownerReferences: element 0: associative list with keys "
            "has an element that omits key field \"uid\" (and doesn't have "
            "default value)");
}

TEST(StructuredMerge, MergeKeepsOtherKeysAndReplacesAtomicLists) {
  Json lhs = Secret({{"a", "MQ=="}, {"b", "Mg=="}});
  lhs["metadata"]["finalizers"] = {"x"};
  Json rhs = Secret({{"b", "Mw=="}});
  rhs["metadata"]["finalizers"] = {"y"};

  const Json merged = MergeObjects("Secret", lhs, rhs);

  EXPECT_EQ(merged["data"], Json::parse(R"({"a":"MQ==","b":"Mw=="})"));
  // finalizers is a set: both values stay.
  EXPECT_EQ(merged["metadata"]["finalizers"], Json::parse(R"(["x","y"])"));
}

TEST(StructuredMerge, CompareNamesAddedModifiedRemoved) {
  const Json lhs = Secret({{"a", "MQ=="}, {"b", "Mg=="}});
  const Json rhs = Secret({{"b", "Mw=="}, {"c", "NA=="}});

  const Comparison comparison = CompareObjects("Secret", lhs, rhs);

  EXPECT_EQ(comparison.added.ToFieldsV1(),
            Json::parse(R"({"f:data":{"f:c":{}}})"));
  EXPECT_EQ(comparison.modified.ToFieldsV1(),
            Json::parse(R"({"f:data":{"f:b":{}}})"));
  EXPECT_EQ(comparison.removed.ToFieldsV1(),
            Json::parse(R"({"f:data":{"f:a":{}}})"));
}

TEST(FieldManager, CreateRecordsUpdateEntry) {
  Json secret = Secret({{"password", "eA=="}});
  secret["type"] = "Opaque";

  const Json created = UpdateManagedFields("Secret", Json::object(), secret,
                                           "kubectl-create", At(5));

  const Json entries = created["metadata"]["managedFields"];
  ASSERT_EQ(entries.size(), 1u) << created.dump();
  EXPECT_EQ(entries[0],
            Json::parse(R"({"manager":"kubectl-create","operation":"Update",)"
                        R"("apiVersion":"v1","time":"2026-01-02T00:00:05Z",)"
                        R"("fieldsType":"FieldsV1","fieldsV1":{"f:data":)"
                        R"({".":{},"f:password":{}},"f:type":{}}})"));
}

TEST(FieldManager, NamespaceStatusIsNeverOwned) {
  Json ns = {{"apiVersion", "v1"},
             {"kind", "Namespace"},
             {"metadata",
              {{"name", "team"},
               {"labels", {{"kubernetes.io/metadata.name", "team"}}}}},
             {"status", {{"phase", "Active"}}}};

  const Json created = UpdateManagedFields("Namespace", Json::object(), ns,
                                           "kubectl-create", At(0));

  EXPECT_EQ(FieldsOfManager(created, "kubectl-create", "Update"),
            Json::parse(R"({"f:metadata":{"f:labels":{".":{},)"
                        R"("f:kubernetes.io/metadata.name":{}}}})"));
}

TEST(FieldManager, UpdateMovesChangedFieldsToNewManager) {
  const Json live = UpdateManagedFields("Secret", Json::object(),
                                        Secret({{"a", "MQ=="}, {"b", "Mg=="}}),
                                        "kubectl-create", At(0));
  Json edited = live;
  edited["data"]["a"] = "Mw==";

  const Json updated =
      UpdateManagedFields("Secret", live, edited, "kubectl-edit", At(60));

  EXPECT_EQ(FieldsOfManager(updated, "kubectl-create", "Update"),
            Json::parse(R"({"f:data":{".":{},"f:b":{}}})"));
  EXPECT_EQ(FieldsOfManager(updated, "kubectl-edit", "Update"),
            Json::parse(R"({"f:data":{"f:a":{}}})"));
  EXPECT_EQ(updated["metadata"]["managedFields"][1]["time"],
            "2026-01-02T00:01:00Z");
}

TEST(FieldManager, NoOpUpdateKeepsEntries) {
  const Json live =
      UpdateManagedFields("Secret", Json::object(), Secret({{"a", "MQ=="}}),
                          "kubectl-create", At(0));

  const Json again =
      UpdateManagedFields("Secret", live, live, "kubectl-replace", At(60));

  EXPECT_EQ(again["metadata"]["managedFields"],
            live["metadata"]["managedFields"]);
}

TEST(FieldManager, EmptyEntryResetsManagedFields) {
  const Json live =
      UpdateManagedFields("Secret", Json::object(), Secret({{"a", "MQ=="}}),
                          "kubectl-create", At(0));
  Json reset = live;
  reset["metadata"]["managedFields"] = Json::parse("[{}]");
  Json omitted = live;
  omitted["metadata"].erase("managedFields");

  const Json cleared =
      UpdateManagedFields("Secret", live, reset, "kubectl-patch", At(1));
  const Json kept =
      UpdateManagedFields("Secret", live, omitted, "kubectl-patch", At(1));

  EXPECT_FALSE(cleared["metadata"].contains("managedFields")) << cleared.dump();
  EXPECT_EQ(kept["metadata"]["managedFields"],
            live["metadata"]["managedFields"]);
}

TEST(FieldManager, ElevenUpdatersMergeOldestIntoAncientChanges) {
  Json object = Secret(Json::object());
  for (int i = 0; i < 11; ++i) {
    Json next = object;
    next["data"]["k" + std::to_string(i)] = "eA==";
    object = UpdateManagedFields("Secret", object, next,
                                 "writer-" + std::to_string(i), At(i));
  }

  const std::vector<std::string> managers = Managers(object);

  ASSERT_EQ(managers.size(), 10u) << object.dump();
  EXPECT_EQ(managers[0], "ancient-changes/Update");
  EXPECT_EQ(FieldsOfManager(object, "ancient-changes", "Update"),
            Json::parse(R"({"f:data":{"f:k0":{},"f:k1":{}}})"));
  EXPECT_EQ(managers[9], "writer-10/Update");
}

TEST(FieldManager, ApplyCreatesApplyEntry) {
  Json config = Secret({{"password", "eA=="}});
  config["metadata"]["labels"] = {{"app", "web"}};

  base::StatusOr<Json> applied = ApplyConfiguration(
      "Secret", Json::object(), config, "deployer", false, At(3));

  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ((*applied)["data"]["password"], "eA==");
  EXPECT_EQ((*applied)["metadata"]["labels"]["app"], "web");
  const Json entries = (*applied)["metadata"]["managedFields"];
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0],
            Json::parse(R"({"manager":"deployer","operation":"Apply",)"
                        R"("apiVersion":"v1","time":"2026-01-02T00:00:03Z",)"
                        R"("fieldsType":"FieldsV1","fieldsV1":{"f:data":)"
                        R"({"f:password":{}},"f:metadata":{"f:labels":)"
                        R"({"f:app":{}}}}})"));
}

TEST(FieldManager, ApplyConflictsWithOtherManagersValue) {
  const Json live = UpdateManagedFields("Secret", Json::object(),
                                        Secret({{"password", "MQ=="}}),
                                        "kubectl-client-side-apply", At(0));

  base::StatusOr<Json> applied = ApplyConfiguration(
      "Secret", live, Secret({{"password", "Mg=="}}), "deployer", false, At(5));

  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.status().reason(), "Conflict");
  EXPECT_EQ(applied.status().message(),
            "Apply failed with 1 conflict: conflict with "
            "\"kubectl-client-side-apply\" using v1: .data.password");
  EXPECT_EQ(Json::parse(*applied.status().GetPayload(kStatusCausesPayload)),
            Json::parse(R"([{"type":"FieldManagerConflict","message":)"
                        R"("conflict with \"kubectl-client-side-apply\" )"
                        R"(using v1","field":".data.password"}])"));
}

TEST(FieldManager, ApplyListsSeveralConflictsByManager) {
  Json live = UpdateManagedFields("Secret", Json::object(),
                                  Secret({{"a", "MQ=="}, {"b", "MQ=="}}),
                                  "creator", At(0));
  base::StatusOr<Json> owned = ApplyConfiguration(
      "Secret", live, Secret({{"c", "MQ=="}}), "other-applier", false, At(1));
  ASSERT_TRUE(owned.ok()) << owned.status();

  base::StatusOr<Json> applied = ApplyConfiguration(
      "Secret", *owned, Secret({{"a", "Mg=="}, {"b", "Mg=="}, {"c", "Mg=="}}),
      "deployer", false, At(5));

  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.status().message(),
            "Apply failed with 3 conflicts: conflicts with \"creator\" using "
            "v1:\n- .data.a\n- .data.b\nconflicts with \"other-applier\":\n"
            "- .data.c");
}

TEST(FieldManager, ApplySameValueSharesOwnership) {
  const Json live = UpdateManagedFields("Secret", Json::object(),
                                        Secret({{"password", "MQ=="}}),
                                        "kubectl-client-side-apply", At(0));

  base::StatusOr<Json> applied = ApplyConfiguration(
      "Secret", live, Secret({{"password", "MQ=="}}), "deployer", false, At(5));

  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(FieldsOfManager(*applied, "deployer", "Apply"),
            Json::parse(R"({"f:data":{"f:password":{}}})"));
  EXPECT_EQ(FieldsOfManager(*applied, "kubectl-client-side-apply", "Update"),
            Json::parse(R"({"f:data":{".":{},"f:password":{}}})"));
  // Nothing changed, so the entry has no time.
  EXPECT_FALSE((*applied)["metadata"]["managedFields"][0].contains("time"));
}

TEST(FieldManager, ForcedApplyTakesOwnership) {
  const Json live = UpdateManagedFields("Secret", Json::object(),
                                        Secret({{"password", "MQ=="}}),
                                        "kubectl-client-side-apply", At(0));

  base::StatusOr<Json> applied = ApplyConfiguration(
      "Secret", live, Secret({{"password", "Mg=="}}), "deployer", true, At(5));

  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ((*applied)["data"]["password"], "Mg==");
  EXPECT_EQ(FieldsOfManager(*applied, "deployer", "Apply"),
            Json::parse(R"({"f:data":{"f:password":{}}})"));
  // It keeps the map itself, which it created.
  EXPECT_EQ(FieldsOfManager(*applied, "kubectl-client-side-apply", "Update"),
            Json::parse(R"({"f:data":{}})"));
}

TEST(FieldManager, ApplyRemovesFieldDroppedFromConfig) {
  base::StatusOr<Json> first = ApplyConfiguration(
      "Secret", Json::object(), Secret({{"a", "MQ=="}, {"b", "Mg=="}}),
      "deployer", false, At(0));
  ASSERT_TRUE(first.ok()) << first.status();

  base::StatusOr<Json> second = ApplyConfiguration(
      "Secret", *first, Secret({{"a", "MQ=="}}), "deployer", false, At(9));

  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ((*second)["data"], Json::parse(R"({"a":"MQ=="})"));
  EXPECT_EQ(FieldsOfManager(*second, "deployer", "Apply"),
            Json::parse(R"({"f:data":{"f:a":{}}})"));
}

TEST(FieldManager, ApplyKeepsDroppedFieldThatOthersOwn) {
  base::StatusOr<Json> first = ApplyConfiguration(
      "Secret", Json::object(), Secret({{"a", "MQ=="}, {"b", "Mg=="}}),
      "deployer", false, At(0));
  ASSERT_TRUE(first.ok()) << first.status();
  base::StatusOr<Json> shared = ApplyConfiguration(
      "Secret", *first, Secret({{"b", "Mg=="}}), "other", false, At(1));
  ASSERT_TRUE(shared.ok()) << shared.status();

  base::StatusOr<Json> second = ApplyConfiguration(
      "Secret", *shared, Secret({{"a", "MQ=="}}), "deployer", false, At(9));

  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ((*second)["data"], Json::parse(R"({"a":"MQ==","b":"Mg=="})"));
}

TEST(FieldManager, ApplyDroppingEveryLabelRemovesLabels) {
  Json config = Secret({{"a", "MQ=="}});
  config["metadata"]["labels"] = {{"app", "web"}};
  base::StatusOr<Json> first = ApplyConfiguration(
      "Secret", Json::object(), config, "deployer", false, At(0));
  ASSERT_TRUE(first.ok()) << first.status();

  base::StatusOr<Json> second = ApplyConfiguration(
      "Secret", *first, Secret({{"a", "MQ=="}}), "deployer", false, At(9));

  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE((*second)["metadata"].contains("labels")) << second->dump();
}

TEST(FieldManager, KubectlTakesUnchangedClientSideFields) {
  Json applied_by_client = Secret({{"password", "MQ=="}});
  Json last = applied_by_client;
  applied_by_client["metadata"]["annotations"] = {
      {kLastAppliedAnnotation, last.dump() + "\n"}};
  const Json live =
      UpdateManagedFields("Secret", Json::object(), applied_by_client,
                          "kubectl-client-side-apply", At(0));
  const Json config = Secret({{"password", "Mg=="}});

  base::StatusOr<Json> by_kubectl =
      ApplyConfiguration("Secret", live, config, "kubectl", false, At(5));
  base::StatusOr<Json> by_other =
      ApplyConfiguration("Secret", live, config, "deployer", false, At(5));

  ASSERT_TRUE(by_kubectl.ok()) << by_kubectl.status();
  EXPECT_EQ((*by_kubectl)["data"]["password"], "Mg==");
  EXPECT_EQ((*by_kubectl)["metadata"]["annotations"][kLastAppliedAnnotation],
            R"({"apiVersion":"v1","data":{"password":"Mg=="},"kind":"Secret",)"
            R"("metadata":{"name":"db","namespace":"default"}})"
            "\n");
  EXPECT_FALSE(by_other.ok());
}

TEST(FieldManager, KubectlConflictsOnDriftedField) {
  Json applied_by_client = Secret({{"password", "MQ=="}});
  applied_by_client["metadata"]["annotations"] = {
      {kLastAppliedAnnotation, Secret({{"password", "OQ=="}}).dump()}};
  const Json live =
      UpdateManagedFields("Secret", Json::object(), applied_by_client,
                          "kubectl-client-side-apply", At(0));

  base::StatusOr<Json> applied = ApplyConfiguration(
      "Secret", live, Secret({{"password", "Mg=="}}), "kubectl", false, At(5));

  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.status().reason(), "Conflict");
}

TEST(FieldManager, ApplyRejectsWrongKindAndManagedFields) {
  Json config_map = Secret(Json::object());
  config_map["kind"] = "ConfigMap";
  Json with_fields = Secret(Json::object());
  with_fields["metadata"]["managedFields"] = Json::array();
  Json unknown = Secret(Json::object());
  unknown["spec"] = Json::object();

  base::StatusOr<Json> wrong_kind = ApplyConfiguration(
      "Secret", Json::object(), config_map, "m", false, At(0));
  base::StatusOr<Json> managed = ApplyConfiguration(
      "Secret", Json::object(), with_fields, "m", false, At(0));
  base::StatusOr<Json> undeclared =
      ApplyConfiguration("Secret", Json::object(), unknown, "m", false, At(0));

  ASSERT_FALSE(wrong_kind.ok());
  EXPECT_EQ(wrong_kind.status().message(),
            "invalid object type: /v1, Kind=ConfigMap");
  EXPECT_EQ(wrong_kind.status().reason(), "BadRequest");
  ASSERT_FALSE(managed.ok());
  EXPECT_EQ(managed.status().message(), "metadata.managedFields must be nil");
  ASSERT_FALSE(undeclared.ok());
  EXPECT_EQ(undeclared.status().message(),
            "failed to create typed patch object (default/db; /v1, "
            "Kind=Secret): .spec: field not declared in schema");
  EXPECT_EQ(undeclared.status().reason(), "Unknown");
}

}  // namespace
}  // namespace apiserver
