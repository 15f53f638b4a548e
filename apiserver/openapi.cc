#include "apiserver/openapi.h"

#include <utility>

namespace apiserver {
namespace {

using Json = nlohmann::json;

constexpr char kMeta[] = "io.k8s.apimachinery.pkg.apis.meta.v1.";
constexpr char kCore[] = "io.k8s.api.core.v1.";
constexpr char kV2RefPrefix[] = "#/definitions/";
constexpr char kV3RefPrefix[] = "#/components/schemas/";

std::string MetaName(const std::string& name) { return kMeta + name; }
std::string CoreName(const std::string& name) { return kCore + name; }

Json Str(const std::string& description) {
  return {{"type", "string"}, {"description", description}};
}

Json Bool(const std::string& description) {
  return {{"type", "boolean"}, {"description", description}};
}

Json Int(const std::string& format, const std::string& description) {
  return {
      {"type", "integer"}, {"format", format}, {"description", description}};
}

Json Ref(const std::string& name, const std::string& description = "") {
  Json ref = {{"$ref", kV2RefPrefix + name}};
  if (!description.empty()) ref["description"] = description;
  return ref;
}

Json MapOf(Json value, const std::string& description) {
  return {{"type", "object"},
          {"additionalProperties", std::move(value)},
          {"description", description}};
}

Json ArrayOf(Json items, const std::string& description) {
  return {{"type", "array"},
          {"items", std::move(items)},
          {"description", description}};
}

Json Gvk(const std::string& kind) {
  return Json::array({{{"group", ""}, {"kind", kind}, {"version", "v1"}}});
}

Json TypeMetaProperties() {
  return {{"apiVersion", Str("The versioned schema of this representation of "
                             "an object, such as v1.")},
          {"kind", Str("The REST resource this object represents, in "
                       "CamelCase, such as Secret.")}};
}

Json ObjectMeta() {
  Json finalizers =
      ArrayOf(Json{{"type", "string"}, {"default", ""}},
              "Names of the controllers that must finish before the object is "
              "removed from the registry.");
  finalizers["x-kubernetes-list-type"] = "set";
  finalizers["x-kubernetes-patch-strategy"] = "merge";
  Json owners =
      ArrayOf(Ref(MetaName("OwnerReference")),
              "Objects that this object depends on; garbage collection "
              "removes it when they are all gone.");
  owners["x-kubernetes-list-map-keys"] = {"uid"};
  owners["x-kubernetes-list-type"] = "map";
  owners["x-kubernetes-patch-merge-key"] = "uid";
  owners["x-kubernetes-patch-strategy"] = "merge";
  Json managed = ArrayOf(Ref(MetaName("ManagedFieldsEntry")),
                         "The field sets that each manager has written.");
  managed["x-kubernetes-list-type"] = "atomic";
  return {
      {"type", "object"},
      {"description",
       "Metadata that every persisted resource has, such as its name, "
       "namespace, labels and resource version."},
      {"properties",
       {{"annotations",
         MapOf(Json{{"type", "string"}, {"default", ""}},
               "Unstructured key-value data that clients store with the "
               "object.")},
        {"creationTimestamp",
         Ref(MetaName("Time"), "When the server created the object.")},
        {"deletionGracePeriodSeconds",
         Int("int64", "Seconds allowed for a graceful deletion.")},
        {"deletionTimestamp",
         Ref(MetaName("Time"), "When the object will be deleted.")},
        {"finalizers", finalizers},
        {"generateName",
         Str("A prefix from which the server generates a unique name when "
             "name is empty.")},
        {"generation",
         Int("int64", "A sequence number of changes to the desired state.")},
        {"labels", MapOf(Json{{"type", "string"}, {"default", ""}},
                         "Key-value pairs that selectors match.")},
        {"managedFields", managed},
        {"name", Str("The name, unique within a namespace.")},
        {"namespace", Str("The namespace that the name is unique in.")},
        {"ownerReferences", owners},
        {"resourceVersion",
         Str("An opaque value that changes with every write, for "
             "optimistic concurrency and watches.")},
        {"selfLink", Str("Deprecated and never set.")},
        {"uid", Str("The unique id of this object for its whole lifetime.")}}}};
}

Json OwnerReference() {
  return {
      {"type", "object"},
      {"description", "Identifies an owning object in the same namespace."},
      {"required", {"apiVersion", "kind", "name", "uid"}},
      {"x-kubernetes-map-type", "atomic"},
      {"properties",
       {{"apiVersion", Str("API version of the owner.")},
        {"blockOwnerDeletion",
         Bool("Whether the owner cannot be deleted before this object.")},
        {"controller", Bool("Whether the owner is the managing controller.")},
        {"kind", Str("Kind of the owner.")},
        {"name", Str("Name of the owner.")},
        {"uid", Str("UID of the owner.")}}}};
}

Json ManagedFieldsEntry() {
  return {
      {"type", "object"},
      {"description", "The fields that one manager has set, and how."},
      {"properties",
       {{"apiVersion", Str("The version of the fields in fieldsV1.")},
        {"fieldsType", Str("The format of the fields; only FieldsV1.")},
        {"fieldsV1", Ref(MetaName("FieldsV1"), "The set of fields.")},
        {"manager", Str("The name of the workflow that manages the fields.")},
        {"operation", Str("Apply or Update.")},
        {"subresource", Str("The subresource written, if any.")},
        {"time", Ref(MetaName("Time"), "When the entry last changed.")}}}};
}

Json ListMeta() {
  return {
      {"type", "object"},
      {"description", "Metadata of a list response."},
      {"properties",
       {{"continue", Str("Set when more items remain; pass it as the continue "
                         "parameter to get them.")},
        {"remainingItemCount",
         Int("int64", "How many items the continued list still has.")},
        {"resourceVersion", Str("The revision that the list shows.")},
        {"selfLink", Str("Deprecated and never set.")}}}};
}

Json Status() {
  Json properties = TypeMetaProperties();
  properties["code"] = Int("int32", "The HTTP status code.");
  properties["details"] =
      Ref(MetaName("StatusDetails"), "Data that depends on the reason.");
  properties["message"] = Str("A human-readable description.");
  properties["metadata"] = Ref(MetaName("ListMeta"), "Standard list metadata.");
  properties["reason"] = Str("A machine-readable reason for a failure.");
  properties["status"] = Str("Success or Failure.");
  return {{"type", "object"},
          {"description", "The result of an operation that returns no object."},
          {"properties", properties},
          {"x-kubernetes-group-version-kind", Gvk("Status")}};
}

Json StatusDetails() {
  Json causes = ArrayOf(Ref(MetaName("StatusCause")),
                        "The causes of the failure, such as field errors.");
  causes["x-kubernetes-list-type"] = "atomic";
  return {
      {"type", "object"},
      {"description", "The object that a failure concerns."},
      {"properties",
       {{"causes", causes},
        {"group", Str("The group of the resource.")},
        {"kind", Str("The kind of the resource.")},
        {"name", Str("The name of the resource.")},
        {"retryAfterSeconds", Int("int32", "Seconds to wait before retrying.")},
        {"uid", Str("The UID of the resource.")}}}};
}

Json StatusCause() {
  return {{"type", "object"},
          {"description", "One cause of a failure."},
          {"properties",
           {{"field", Str("The field that caused the failure.")},
            {"message", Str("A human-readable description.")},
            {"reason", Str("A machine-readable description.")}}}};
}

Json DeleteOptions() {
  Json properties = TypeMetaProperties();
  properties["dryRun"] = ArrayOf(Json{{"type", "string"}, {"default", ""}},
                                 "When set to All, nothing is persisted.");
  properties["gracePeriodSeconds"] =
      Int("int64", "Seconds before the object is deleted.");
  properties["orphanDependents"] =
      Bool("Deprecated: whether dependents are orphaned.");
  properties["preconditions"] =
      Ref(MetaName("Preconditions"), "Conditions the object must meet first.");
  properties["propagationPolicy"] =
      Str("Orphan, Background or Foreground garbage collection.");
  return {{"type", "object"},
          {"description", "Options of a delete request."},
          {"properties", properties},
          {"x-kubernetes-group-version-kind", Gvk("DeleteOptions")}};
}

Json Preconditions() {
  return {{"type", "object"},
          {"description", "Conditions that an operation requires."},
          {"properties",
           {{"resourceVersion", Str("The required resource version.")},
            {"uid", Str("The required UID.")}}}};
}

Json WatchEvent() {
  return {{"type", "object"},
          {"description", "One event of a watch stream."},
          {"required", {"type", "object"}},
          {"properties",
           {{"object",
             {{"type", "object"}, {"description", "The object of the event."}}},
            {"type", Str("ADDED, MODIFIED, DELETED, BOOKMARK or ERROR.")}}},
          {"x-kubernetes-group-version-kind", Gvk("WatchEvent")}};
}

Json Kind(const std::string& kind, const std::string& description,
          Json properties) {
  Json merged = TypeMetaProperties();
  merged["metadata"] = Ref(MetaName("ObjectMeta"), "Standard object metadata.");
  merged.update(properties);
  return {{"type", "object"},
          {"description", description},
          {"properties", merged},
          {"x-kubernetes-group-version-kind", Gvk(kind)}};
}

Json ListKind(const std::string& kind) {
  Json properties = TypeMetaProperties();
  properties["items"] =
      ArrayOf(Ref(CoreName(kind)), "The " + kind + " objects of the list.");
  properties["metadata"] = Ref(MetaName("ListMeta"), "Standard list metadata.");
  return {{"type", "object"},
          {"description", "A list of " + kind + " objects."},
          {"required", {"items"}},
          {"properties", properties},
          {"x-kubernetes-group-version-kind", Gvk(kind + "List")}};
}

Json Secret() {
  Json bytes = {{"type", "string"}, {"format", "byte"}};
  return Kind(
      "Secret", "Secret data of a type, such as credentials or keys.",
      {{"data", MapOf(bytes,
                      "The secret values by key, base64-encoded. Keys "
                      "consist of alphanumerics, '-', '_' or '.'.")},
       {"immutable",
        Bool("When true, data and stringData cannot change after creation.")},
       {"stringData",
        MapOf(Json{{"type", "string"}, {"default", ""}},
              "Values given as plain text for convenience on writes; the "
              "server merges them into data and never returns them.")},
       {"type", Str("Used to facilitate programmatic handling of secret "
                    "data, such as Opaque or kubernetes.io/tls.")}});
}

Json ConfigMap() {
  Json bytes = {{"type", "string"}, {"format", "byte"}};
  return Kind(
      "ConfigMap", "Configuration data for pods to consume.",
      {{"binaryData", MapOf(bytes, "Binary values by key, base64-encoded.")},
       {"data", MapOf(Json{{"type", "string"}, {"default", ""}},
                      "UTF-8 values by key.")},
       {"immutable", Bool("When true, the data cannot change after "
                          "creation.")}});
}

Json Namespace() {
  return Kind(
      "Namespace", "A scope for the names of namespaced objects.",
      {{"spec", Ref(CoreName("NamespaceSpec"), "The desired state.")},
       {"status", Ref(CoreName("NamespaceStatus"), "The observed state.")}});
}

Json NamespaceSpec() {
  Json finalizers = ArrayOf(Json{{"type", "string"}, {"default", ""}},
                            "Values that must be removed before the "
                            "namespace is deleted.");
  finalizers["x-kubernetes-list-type"] = "atomic";
  return {{"type", "object"},
          {"description", "The desired state of a namespace."},
          {"properties", {{"finalizers", finalizers}}}};
}

Json NamespaceStatus() {
  Json conditions = ArrayOf(Ref(CoreName("NamespaceCondition")),
                            "The latest observations of the namespace.");
  conditions["x-kubernetes-list-map-keys"] = {"type"};
  conditions["x-kubernetes-list-type"] = "map";
  conditions["x-kubernetes-patch-merge-key"] = "type";
  conditions["x-kubernetes-patch-strategy"] = "merge";
  Json phase = Str("Active or Terminating.");
  phase["enum"] = {"Active", "Terminating"};
  return {{"type", "object"},
          {"description", "The observed state of a namespace."},
          {"properties", {{"conditions", conditions}, {"phase", phase}}}};
}

Json NamespaceCondition() {
  return {{"type", "object"},
          {"description", "One condition of a namespace."},
          {"required", {"type", "status"}},
          {"properties",
           {{"lastTransitionTime", Ref(MetaName("Time"))},
            {"message", Str("A human-readable description.")},
            {"reason", Str("A machine-readable reason.")},
            {"status", Str("True, False or Unknown.")},
            {"type", Str("The type of the condition.")}}}};
}

Json BuildDefinitions() {
  Json definitions = Json::object();
  definitions[CoreName("ConfigMap")] = ConfigMap();
  definitions[CoreName("ConfigMapList")] = ListKind("ConfigMap");
  definitions[CoreName("Namespace")] = Namespace();
  definitions[CoreName("NamespaceCondition")] = NamespaceCondition();
  definitions[CoreName("NamespaceList")] = ListKind("Namespace");
  definitions[CoreName("NamespaceSpec")] = NamespaceSpec();
  definitions[CoreName("NamespaceStatus")] = NamespaceStatus();
  definitions[CoreName("Secret")] = Secret();
  definitions[CoreName("SecretList")] = ListKind("Secret");
  definitions[MetaName("DeleteOptions")] = DeleteOptions();
  definitions[MetaName("FieldsV1")] = {
      {"type", "object"},
      {"description", "A set of fields in the FieldsV1 JSON format."}};
  definitions[MetaName("ListMeta")] = ListMeta();
  definitions[MetaName("ManagedFieldsEntry")] = ManagedFieldsEntry();
  definitions[MetaName("ObjectMeta")] = ObjectMeta();
  definitions[MetaName("OwnerReference")] = OwnerReference();
  definitions[MetaName("Patch")] = {
      {"type", "object"},
      {"description", "A patch in one of the supported patch formats."}};
  definitions[MetaName("Preconditions")] = Preconditions();
  definitions[MetaName("Status")] = Status();
  definitions[MetaName("StatusCause")] = StatusCause();
  definitions[MetaName("StatusDetails")] = StatusDetails();
  definitions[MetaName("Time")] = {
      {"type", "string"},
      {"format", "date-time"},
      {"description", "A time in RFC 3339 form with second precision."}};
  definitions[MetaName("WatchEvent")] = WatchEvent();
  return definitions;
}

// The REST paths of one resource and the operations each serves.
struct ResourcePaths {
  std::string kind;
  std::string plural;
  bool namespaced;
};

const std::vector<ResourcePaths>& ServedPaths() {
  static const std::vector<ResourcePaths> paths = {
      {"ConfigMap", "configmaps", true},
      {"Namespace", "namespaces", false},
      {"Secret", "secrets", true}};
  return paths;
}

// A query or path parameter in the v2 form; ToV3 converts it.
Json Parameter(const std::string& name, const std::string& in,
               const std::string& type, const std::string& description) {
  Json parameter = {{"name", name},
                    {"in", in},
                    {"type", type},
                    {"description", description},
                    {"uniqueItems", true}};
  if (in == "path") parameter["required"] = true;
  return parameter;
}

Json WriteParameters(const OpenApiOptions& options, bool patch) {
  std::string manager =
      "The name of the actor that makes the change, recorded in "
      "metadata.managedFields: at most 128 bytes of printable characters.";
  if (patch) {
    manager += " Required for apply (application/apply-patch+yaml).";
  }
  Json parameters = Json::array(
      {Parameter("dryRun", "query", "string",
                 "When All, the request is validated but not persisted."),
       Parameter("fieldManager", "query", "string", manager)});
  if (options.field_validation) {
    parameters.push_back(
        Parameter("fieldValidation", "query", "string",
                  "Ignore, Warn (the default) or Strict: how the server "
                  "treats unknown and duplicate fields."));
  }
  if (patch) {
    parameters.push_back(
        Parameter("force", "query", "boolean",
                  "Whether an apply request takes over fields that other "
                  "managers own with other values. Must be unset for other "
                  "patches."));
  }
  return parameters;
}

Json ListParameters() {
  return Json::array(
      {Parameter("allowWatchBookmarks", "query", "boolean",
                 "Whether a watch may send BOOKMARK events."),
       Parameter("continue", "query", "string",
                 "The continue token of the previous page."),
       Parameter("fieldSelector", "query", "string",
                 "Restricts the list by metadata.name or "
                 "metadata.namespace."),
       Parameter("labelSelector", "query", "string",
                 "Restricts the list by labels."),
       Parameter("limit", "query", "integer",
                 "The maximum number of items to return."),
       Parameter("resourceVersion", "query", "string",
                 "The revision to list at or watch from."),
       Parameter("resourceVersionMatch", "query", "string",
                 "Exact or NotOlderThan."),
       Parameter("sendInitialEvents", "query", "boolean",
                 "Whether a watch starts with the current objects."),
       Parameter("timeoutSeconds", "query", "integer",
                 "Seconds after which a watch ends."),
       Parameter("watch", "query", "boolean",
                 "Streams changes instead of returning a list.")});
}

Json Body(const std::string& schema_name) {
  return {{"name", "body"},
          {"in", "body"},
          {"required", true},
          {"schema", Ref(schema_name)}};
}

Json Responses(const std::vector<std::string>& codes,
               const std::string& schema_name) {
  Json responses = Json::object();
  for (const std::string& code : codes) {
    responses[code] = {{"description", code == "201" ? "Created" : "OK"},
                       {"schema", Ref(schema_name)}};
  }
  responses["401"] = {{"description", "Unauthorized"}};
  return responses;
}

Json Operation(const std::string& id, const std::string& action,
               const std::string& kind, Json parameters, Json responses) {
  return {{"operationId", id},
          {"description", id},
          {"consumes", {"*/*"}},
          {"produces",
           {"application/json", "application/yaml",
            "application/vnd.kubernetes.protobuf"}},
          {"schemes", {"https"}},
          {"tags", {"core_v1"}},
          {"parameters", std::move(parameters)},
          {"responses", std::move(responses)},
          {"x-kubernetes-action", action},
          {"x-kubernetes-group-version-kind",
           {{"group", ""}, {"kind", kind}, {"version", "v1"}}}};
}

// Appends `extra` to a copy of `base`.
Json Concat(Json base, const Json& extra) {
  for (const Json& item : extra) base.push_back(item);
  return base;
}

void AddResourcePaths(const ResourcePaths& resource,
                      const OpenApiOptions& options, Json& paths) {
  const std::string scope = resource.namespaced ? "Namespaced" : "";
  const std::string kind = resource.kind;
  const std::string schema = CoreName(kind);
  const std::string collection =
      resource.namespaced ? "/api/v1/namespaces/{namespace}/" + resource.plural
                          : "/api/v1/" + resource.plural;
  Json path_parameters = Json::array();
  if (resource.namespaced) {
    path_parameters.push_back(Parameter("namespace", "path", "string",
                                        "The namespace of the objects."));
  }

  Json& list_path = paths[collection];
  list_path["parameters"] = path_parameters;
  list_path["get"] =
      Operation("listCoreV1" + scope + kind, "list", kind, ListParameters(),
                Responses({"200"}, CoreName(kind + "List")));
  list_path["post"] = Operation(
      "createCoreV1" + scope + kind, "post", kind,
      Concat(WriteParameters(options, false), Json::array({Body(schema)})),
      Responses({"200", "201"}, schema));
  if (resource.namespaced) {
    list_path["delete"] = Operation(
        "deleteCoreV1Collection" + scope + kind, "deletecollection", kind,
        Concat(ListParameters(),
               Json::array({Body(MetaName("DeleteOptions"))})),
        Responses({"200"}, MetaName("Status")));
    Json& all = paths["/api/v1/" + resource.plural];
    all["get"] = Operation("listCoreV1" + kind + "ForAllNamespaces", "list",
                           kind, ListParameters(),
                           Responses({"200"}, CoreName(kind + "List")));
  }

  Json& item_path = paths[collection + "/{name}"];
  item_path["parameters"] = Concat(
      path_parameters, Json::array({Parameter("name", "path", "string",
                                              "The name of the object.")}));
  item_path["get"] = Operation("readCoreV1" + scope + kind, "get", kind,
                               Json::array(), Responses({"200"}, schema));
  item_path["put"] = Operation(
      "replaceCoreV1" + scope + kind, "put", kind,
      Concat(WriteParameters(options, false), Json::array({Body(schema)})),
      Responses({"200", "201"}, schema));
  item_path["patch"] = Operation("patchCoreV1" + scope + kind, "patch", kind,
                                 Concat(WriteParameters(options, true),
                                        Json::array({Body(MetaName("Patch"))})),
                                 Responses({"200", "201"}, schema));
  item_path["patch"]["consumes"] = {
      "application/json-patch+json", "application/merge-patch+json",
      "application/strategic-merge-patch+json", "application/apply-patch+yaml"};
  item_path["delete"] =
      Operation("deleteCoreV1" + scope + kind, "delete", kind,
                Json::array({Body(MetaName("DeleteOptions"))}),
                Responses({"200"}, MetaName("Status")));
}

// Rewrites v2 references and body parameters into their v3 forms.
Json SchemaToV3(const Json& schema) {
  if (schema.is_array()) {
    Json converted = Json::array();
    for (const Json& item : schema) converted.push_back(SchemaToV3(item));
    return converted;
  }
  if (!schema.is_object()) return schema;
  Json converted = Json::object();
  for (const auto& [key, value] : schema.items()) {
    if (key == "$ref" && value.is_string()) {
      converted[key] = kV3RefPrefix + value.get<std::string>().substr(
                                          std::string(kV2RefPrefix).size());
    } else {
      converted[key] = SchemaToV3(value);
    }
  }
  // v3 forbids siblings of $ref, so upstream wraps described references
  // in allOf.
  if (converted.contains("$ref") && converted.size() > 1) {
    Json wrapped = converted;
    wrapped.erase("$ref");
    wrapped["allOf"] = Json::array({{{"$ref", converted["$ref"]}}});
    return wrapped;
  }
  return converted;
}

Json ParameterToV3(const Json& parameter) {
  Json converted = {
      {"name", parameter["name"]},
      {"in", parameter["in"]},
      {"description", parameter.value("description", "")},
      {"schema", {{"type", parameter["type"]}, {"uniqueItems", true}}}};
  if (parameter.value("required", false)) converted["required"] = true;
  return converted;
}

Json OperationToV3(const Json& operation) {
  Json converted = operation;
  converted.erase("consumes");
  converted.erase("produces");
  converted.erase("schemes");
  Json parameters = Json::array();
  for (const Json& parameter : operation["parameters"]) {
    if (parameter["in"] == "body") {
      Json content = Json::object();
      for (const Json& type : operation["consumes"]) {
        content[type.get<std::string>()] = {
            {"schema", SchemaToV3(parameter["schema"])}};
      }
      converted["requestBody"] = {{"content", content}, {"required", true}};
      continue;
    }
    parameters.push_back(ParameterToV3(parameter));
  }
  converted["parameters"] = parameters;
  Json responses = Json::object();
  for (const auto& [code, response] : operation["responses"].items()) {
    Json converted_response = {{"description", response["description"]}};
    if (response.contains("schema")) {
      for (const Json& type : operation["produces"]) {
        converted_response["content"][type.get<std::string>()] = {
            {"schema", SchemaToV3(response["schema"])}};
      }
    }
    responses[code] = converted_response;
  }
  converted["responses"] = responses;
  return converted;
}

void CollectUnknownFields(const Json& object, const Json& schema,
                          const std::string& path,
                          std::vector<std::string>& unknown) {
  const Json* resolved = ResolveSchema(schema);
  if (resolved == nullptr) return;
  if (object.is_object() && resolved->contains("properties")) {
    const Json& properties = (*resolved)["properties"];
    for (const auto& [key, value] : object.items()) {
      const std::string field = path.empty() ? key : path + "." + key;
      auto property = properties.find(key);
      if (property == properties.end()) {
        unknown.push_back(field);
        continue;
      }
      CollectUnknownFields(value, *property, field, unknown);
    }
    return;
  }
  if (object.is_object() && resolved->contains("additionalProperties")) {
    for (const auto& [key, value] : object.items()) {
      CollectUnknownFields(value, (*resolved)["additionalProperties"],
                           path + "[" + key + "]", unknown);
    }
    return;
  }
  if (object.is_array() && resolved->contains("items")) {
    for (size_t i = 0; i < object.size(); ++i) {
      CollectUnknownFields(object[i], (*resolved)["items"],
                           path + "[" + std::to_string(i) + "]", unknown);
    }
  }
}

void Prune(Json& object, const Json& schema) {
  const Json* resolved = ResolveSchema(schema);
  if (resolved == nullptr) return;
  if (object.is_object() && resolved->contains("properties")) {
    const Json& properties = (*resolved)["properties"];
    for (auto it = object.begin(); it != object.end();) {
      auto property = properties.find(it.key());
      if (property == properties.end()) {
        it = object.erase(it);
        continue;
      }
      Prune(it.value(), *property);
      ++it;
    }
    return;
  }
  if (object.is_object() && resolved->contains("additionalProperties")) {
    for (auto& [key, value] : object.items()) {
      Prune(value, (*resolved)["additionalProperties"]);
    }
    return;
  }
  if (object.is_array() && resolved->contains("items")) {
    for (Json& item : object) Prune(item, (*resolved)["items"]);
  }
}

}  // namespace

const Json& OpenApiDefinitions() {
  static const Json definitions = BuildDefinitions();
  return definitions;
}

std::string DefinitionNameOfKind(const std::string& kind) {
  const std::string name = CoreName(kind);
  return OpenApiDefinitions().contains(name) ? name : "";
}

const Json* ResolveSchema(const Json& schema) {
  const Json* current = &schema;
  for (int depth = 0; depth < 8; ++depth) {
    if (!current->is_object()) return current;
    auto all_of = current->find("allOf");
    if (all_of != current->end() && all_of->is_array() && all_of->size() == 1) {
      current = &(*all_of)[0];
      continue;
    }
    auto ref = current->find("$ref");
    if (ref == current->end() || !ref->is_string()) return current;
    const std::string target = ref->get<std::string>();
    std::string name;
    if (target.starts_with(kV2RefPrefix)) {
      name = target.substr(std::string(kV2RefPrefix).size());
    } else if (target.starts_with(kV3RefPrefix)) {
      name = target.substr(std::string(kV3RefPrefix).size());
    }
    auto definition = OpenApiDefinitions().find(name);
    if (definition == OpenApiDefinitions().end()) return nullptr;
    current = &*definition;
  }
  return nullptr;
}

Json OpenApiV2Document(const OpenApiOptions& options) {
  Json paths = Json::object();
  for (const ResourcePaths& resource : ServedPaths()) {
    AddResourcePaths(resource, options, paths);
  }
  return {{"swagger", "2.0"},
          {"info", {{"title", "Kubernetes"}, {"version", options.git_version}}},
          {"paths", paths},
          {"definitions", OpenApiDefinitions()}};
}

Json OpenApiV3CoreV1Document(const OpenApiOptions& options) {
  const Json v2 = OpenApiV2Document(options);
  Json paths = Json::object();
  for (const auto& [path, item] : v2["paths"].items()) {
    Json converted = Json::object();
    for (const auto& [method, operation] : item.items()) {
      if (method == "parameters") {
        Json parameters = Json::array();
        for (const Json& parameter : operation) {
          parameters.push_back(ParameterToV3(parameter));
        }
        converted["parameters"] = parameters;
      } else {
        converted[method] = OperationToV3(operation);
      }
    }
    paths[path] = converted;
  }
  Json schemas = Json::object();
  for (const auto& [name, schema] : OpenApiDefinitions().items()) {
    schemas[name] = SchemaToV3(schema);
  }
  return {{"openapi", "3.0.0"},
          {"info", {{"title", "Kubernetes"}, {"version", options.git_version}}},
          {"paths", paths},
          {"components", {{"schemas", schemas}}}};
}

std::vector<std::string> UnknownFields(const std::string& kind,
                                       const Json& object) {
  std::vector<std::string> unknown;
  const std::string name = DefinitionNameOfKind(kind);
  if (name.empty()) return unknown;
  CollectUnknownFields(object, OpenApiDefinitions()[name], "", unknown);
  return unknown;
}

void PruneUnknownFields(const std::string& kind, Json& object) {
  const std::string name = DefinitionNameOfKind(kind);
  if (name.empty()) return;
  Prune(object, OpenApiDefinitions()[name]);
}

}  // namespace apiserver
