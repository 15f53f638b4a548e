#include "apiserver/openapi.h"

#include <gmock/gmock.h>
#include <google/protobuf/unknown_field_set.h>
#include <gtest/gtest.h>

#include <functional>
#include <optional>

namespace apiserver {
namespace {

using Json = nlohmann::json;
using google::protobuf::UnknownField;
using google::protobuf::UnknownFieldSet;
using ::testing::Contains;

// The length-delimited fields numbered `number` of a protobuf message.
std::vector<std::string> Fields(const std::string& message, int number) {
  UnknownFieldSet set;
  EXPECT_TRUE(set.ParseFromString(message));
  std::vector<std::string> values;
  for (int i = 0; i < set.field_count(); ++i) {
    const UnknownField& field = set.field(i);
    if (field.number() == number &&
        field.type() == UnknownField::TYPE_LENGTH_DELIMITED) {
      values.push_back(field.length_delimited());
    }
  }
  return values;
}

std::optional<std::string> Field(const std::string& message, int number) {
  std::vector<std::string> values = Fields(message, number);
  if (values.empty()) return std::nullopt;
  return values.front();
}

// Finds the value of the named entry (name = 1, value = 2) among `entries`.
std::optional<std::string> NamedValue(const std::vector<std::string>& entries,
                                      const std::string& name) {
  for (const std::string& entry : entries) {
    if (Field(entry, 1) == name) return Field(entry, 2);
  }
  return std::nullopt;
}

TEST(OpenApi, UnknownFieldsAreNamedByPath) {
  Json secret = Json::parse(R"({
      "apiVersion": "v1", "kind": "Secret", "spec": {},
      "metadata": {"name": "s", "bogus": 1,
                   "ownerReferences": [{"uid": "u", "foo": 1}]},
      "data": {"any-key": "YQ=="}})");

  EXPECT_EQ(UnknownFields("Secret", secret),
            (std::vector<std::string>{
                "metadata.bogus", "metadata.ownerReferences[0].foo", "spec"}));
}

TEST(OpenApi, NamespaceStatusFieldsAreKnown) {
  Json ns = Json::parse(R"({"kind": "Namespace", "metadata": {"name": "n"},
      "spec": {"finalizers": ["kubernetes"]},
      "status": {"phase": "Active", "conditions": [{"type": "A",
                 "status": "True", "extra": 1}]}})");

  EXPECT_EQ(UnknownFields("Namespace", ns),
            (std::vector<std::string>{"status.conditions[0].extra"}));
}

TEST(OpenApi, PruneDropsUnknownFields) {
  Json secret = Json::parse(R"({"kind": "Secret", "spec": {},
      "metadata": {"name": "s", "bogus": 1}, "data": {"a": "YQ=="}})");

  PruneUnknownFields("Secret", secret);

  EXPECT_EQ(secret, Json::parse(R"({"kind": "Secret",
      "metadata": {"name": "s"}, "data": {"a": "YQ=="}})"));
}

TEST(OpenApi, EveryReferenceResolves) {
  std::vector<std::string> unresolved;
  std::function<void(const Json&)> visit = [&](const Json& node) {
    if (node.is_object()) {
      if (node.contains("$ref") && ResolveSchema(node) == nullptr) {
        unresolved.push_back(node["$ref"]);
      }
      for (const auto& [key, value] : node.items()) visit(value);
    } else if (node.is_array()) {
      for (const Json& value : node) visit(value);
    }
  };

  visit(OpenApiV2Document({}));

  EXPECT_TRUE(unresolved.empty()) << unresolved.front();
}

TEST(OpenApi, ServedKindsCarryGroupVersionKind) {
  for (const std::string kind :
       {"Secret", "SecretList", "ConfigMap", "ConfigMapList", "Namespace",
        "NamespaceList"}) {
    const Json& definition = OpenApiDefinitions()["io.k8s.api.core.v1." + kind];

    EXPECT_EQ(definition["x-kubernetes-group-version-kind"],
              Json::parse(R"([{"group": "", "version": "v1", "kind": ")" +
                          kind + R"("}])"))
        << kind;
  }
}

TEST(OpenApi, V3PatchOperationsListFieldValidation) {
  Json document = OpenApiV3CoreV1Document({});

  const Json& patch =
      document["paths"]["/api/v1/namespaces/{namespace}/secrets/{name}"]
              ["patch"];
  std::vector<std::string> names;
  for (const Json& parameter : patch["parameters"]) {
    names.push_back(parameter["name"]);
  }

  EXPECT_THAT(names, Contains("fieldValidation"));
  EXPECT_EQ(patch["x-kubernetes-group-version-kind"]["kind"], "Secret");
  EXPECT_TRUE(patch["requestBody"]["content"].contains(
      "application/strategic-merge-patch+json"));
}

TEST(OpenApi, PatchOperationsAdvertiseApply) {
  const Json v2 = OpenApiV2Document({});
  const Json v3 = OpenApiV3CoreV1Document({});

  for (const std::string path :
       {"/api/v1/namespaces/{namespace}/secrets/{name}",
        "/api/v1/namespaces/{namespace}/configmaps/"
        "{name}",
        "/api/v1/namespaces/{name}"}) {
    const Json& v2_patch = v2["paths"][path]["patch"];
    const Json& v3_patch = v3["paths"][path]["patch"];
    std::vector<std::string> names;
    for (const Json& parameter : v2_patch["parameters"]) {
      names.push_back(parameter["name"]);
    }

    EXPECT_THAT(v2_patch["consumes"], Contains("application/apply-patch+yaml"))
        << path;
    EXPECT_TRUE(v3_patch["requestBody"]["content"].contains(
        "application/apply-patch+yaml"))
        << path;
    EXPECT_THAT(names, Contains("force")) << path;
    EXPECT_THAT(names, Contains("fieldManager")) << path;
  }
  // Create and replace take no force.
  for (const Json& parameter :
       v2["paths"]["/api/v1/namespaces/{namespace}/secrets/{name}"]["put"]
         ["parameters"]) {
    EXPECT_NE(parameter["name"], "force");
  }
}

TEST(OpenApi, V3SchemasUseComponentReferences) {
  Json document = OpenApiV3CoreV1Document({});

  const Json& secret =
      document["components"]["schemas"]["io.k8s.api.core.v1.Secret"];

  EXPECT_EQ(secret["properties"]["metadata"]["allOf"][0]["$ref"],
            "#/components/schemas/"
            "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
  EXPECT_FALSE(secret["properties"]["metadata"].contains("$ref"));
}

TEST(OpenApi, WithoutFieldValidationTheParameterIsAbsent) {
  OpenApiOptions options;
  options.field_validation = false;

  Json document = OpenApiV3CoreV1Document(options);

  for (const auto& [path, item] : document["paths"].items()) {
    for (const auto& [method, operation] : item.items()) {
      if (method == "parameters") continue;
      for (const Json& parameter : operation["parameters"]) {
        EXPECT_NE(parameter["name"], "fieldValidation")
            << path << " " << method;
      }
    }
  }
}

// Reads the encoded document back with protobuf's generic parser, by
// gnostic's field numbers: Document.swagger 1, info 2, paths 8,
// definitions 9.
TEST(OpenApi, V2ProtobufFollowsGnosticFieldNumbers) {
  const std::string encoded = EncodeOpenApiV2Protobuf(OpenApiV2Document({}));

  EXPECT_EQ(Field(encoded, 1), "2.0");
  ASSERT_TRUE(Field(encoded, 2).has_value());
  EXPECT_EQ(Field(*Field(encoded, 2), 1), "Kubernetes");

  // Definitions: repeated NamedSchema (1); Schema.properties is 25,
  // Schema.vendor_extension 31, Any.yaml 2.
  std::optional<std::string> secret =
      NamedValue(Fields(*Field(encoded, 9), 1), "io.k8s.api.core.v1.Secret");
  ASSERT_TRUE(secret.has_value());
  std::optional<std::string> gvk =
      NamedValue(Fields(*secret, 31), "x-kubernetes-group-version-kind");
  ASSERT_TRUE(gvk.has_value());
  EXPECT_EQ(Json::parse(*Field(*gvk, 2))[0]["kind"], "Secret");
  std::optional<std::string> data =
      NamedValue(Fields(*Field(*secret, 25), 1), "data");
  ASSERT_TRUE(data.has_value());
  // Schema.type is TypeItem (22) with repeated value (1).
  EXPECT_EQ(Field(*Field(*data, 22), 1), "object");

  // Paths.path (2): NamedPathItem; PathItem.patch 8; Operation.parameters
  // 8: ParametersItem.parameter 1 > Parameter.non_body_parameter 2 >
  // NonBodyParameter.query_parameter_sub_schema 3 > name 4.
  std::optional<std::string> item =
      NamedValue(Fields(*Field(encoded, 8), 2),
                 "/api/v1/namespaces/{namespace}/secrets/{name}");
  ASSERT_TRUE(item.has_value());
  std::vector<std::string> names;
  for (const std::string& parameter : Fields(*Field(*item, 8), 8)) {
    std::optional<std::string> non_body = Field(*Field(parameter, 1), 2);
    if (!non_body.has_value()) continue;
    std::optional<std::string> query = Field(*non_body, 3);
    if (query.has_value()) names.push_back(Field(*query, 4).value_or(""));
  }
  EXPECT_THAT(names, Contains("fieldValidation"));
}

}  // namespace
}  // namespace apiserver
