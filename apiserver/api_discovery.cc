// The non-resource paths of ApiHandler (version, discovery, OpenAPI, health
// and metrics) and the Tables that `kubectl get` prints.
#include <spdlog/spdlog.h>

#include <chrono>
#include <optional>

#include "apiserver/api_internal.h"
#include "base/crypto.h"

namespace apiserver {
namespace {

std::string SingularName(const Resource& resource) {
  return resource.name.substr(0, resource.name.size() - 1);
}

// Formats an age as kubectl's duration.HumanDuration does: "45s", "3m20s",
// "5h", "12d".
std::string HumanDuration(base::Duration age) {
  using std::chrono::duration_cast;
  const int64_t seconds = duration_cast<std::chrono::seconds>(age).count();
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 120) return std::to_string(seconds) + "s";
  const int64_t minutes = seconds / 60;
  if (minutes < 10) {
    return std::to_string(minutes) + "m" +
           (seconds % 60 == 0 ? "" : std::to_string(seconds % 60) + "s");
  }
  if (minutes < 180) return std::to_string(minutes) + "m";
  const int64_t hours = minutes / 60;
  if (hours < 8) {
    return std::to_string(hours) + "h" +
           (minutes % 60 == 0 ? "" : std::to_string(minutes % 60) + "m");
  }
  if (hours < 48) return std::to_string(hours) + "h";
  if (hours < 24 * 8) {
    return std::to_string(hours / 24) + "d" +
           (hours % 24 == 0 ? "" : std::to_string(hours % 24) + "h");
  }
  if (hours < 24 * 365 * 2) return std::to_string(hours / 24) + "d";
  const int64_t years = hours / 24 / 365;
  const int64_t days = hours / 24 % 365;
  if (hours < 24 * 365 * 8) {
    return std::to_string(years) + "y" +
           (days == 0 ? "" : std::to_string(days) + "d");
  }
  return std::to_string(years) + "y";
}

Json Column(const std::string& name, const std::string& type,
            const std::string& format, const std::string& description) {
  return {{"name", name},
          {"type", type},
          {"format", format},
          {"description", description},
          {"priority", 0}};
}

Json TableColumns(const Resource& resource) {
  Json columns = Json::array();
  columns.push_back(Column("Name", "string", "name",
                           "Name must be unique within a namespace."));
  if (resource.kind == "Secret") {
    columns.push_back(Column("Type", "string", "",
                             "Used to facilitate "
                             "programmatic handling of secret data."));
  }
  if (resource.kind == "Namespace") {
    columns.push_back(
        Column("Status", "string", "", "The status of the namespace"));
  } else {
    columns.push_back(
        Column("Data", "integer", "", "Number of keys in the object's data."));
  }
  columns.push_back(Column("Age", "string", "",
                           "CreationTimestamp is a timestamp representing "
                           "the server time when this object was created."));
  return columns;
}

// One row of `kubectl get`, with the object's metadata for -A and labels.
Json TableRow(const Resource& resource, const Json& object, base::Time now) {
  const Json metadata = object.value("metadata", Json::object());
  Json cells = Json::array({metadata.value("name", "")});
  if (resource.kind == "Secret") cells.push_back(object.value("type", ""));
  if (resource.kind == "Namespace") {
    cells.push_back(object.value("status", Json::object()).value("phase", ""));
  } else {
    size_t count = object.value("data", Json::object()).size();
    count += object.value("binaryData", Json::object()).size();
    cells.push_back(count);
  }
  std::optional<base::Time> created =
      base::ParseRfc3339(metadata.value("creationTimestamp", ""));
  cells.push_back(created.has_value() ? HumanDuration(now - *created)
                                      : "<unknown>");
  return {{"cells", cells},
          {"object",
           {{"kind", "PartialObjectMetadata"},
            {"apiVersion", "meta.k8s.io/v1"},
            {"metadata", metadata}}}};
}

}  // namespace

bool WantsTable(const ApiRequest& request) {
  auto it = request.headers.find("accept");
  return it != request.headers.end() &&
         it->second.find("as=Table") != std::string::npos;
}

Json Table(const Resource& resource, const std::vector<Json>& objects,
           const std::string& resource_version, base::Time now) {
  Json rows = Json::array();
  for (const Json& object : objects) {
    rows.push_back(TableRow(resource, object, now));
  }
  Json metadata = Json::object();
  if (!resource_version.empty()) {
    metadata["resourceVersion"] = resource_version;
  }
  return {{"kind", "Table"},
          {"apiVersion", "meta.k8s.io/v1"},
          {"metadata", metadata},
          {"columnDefinitions", TableColumns(resource)},
          {"rows", rows}};
}

std::string MinorVersion(const std::string& git_version) {
  const size_t first = git_version.find('.');
  if (first == std::string::npos) return "";
  const size_t second = git_version.find('.', first + 1);
  return git_version.substr(first + 1, second - first - 1);
}

Json ApiResourceList() {
  Json resources = Json::array();
  for (const Resource* resource : ServedResources()) {
    Json verbs = {"create", "delete", "get",  "list",
                  "patch",  "update", "watch"};
    // Upstream serves no deletecollection of namespaces.
    if (resource->namespaced) verbs.push_back("deletecollection");
    Json entry = {{"name", resource->name},
                  {"singularName", SingularName(*resource)},
                  {"namespaced", resource->namespaced},
                  {"kind", resource->kind},
                  {"verbs", verbs}};
    if (resource->kind == "ConfigMap") entry["shortNames"] = {"cm"};
    if (resource->kind == "Namespace") entry["shortNames"] = {"ns"};
    resources.push_back(entry);
  }
  return {{"kind", "APIResourceList"},
          {"apiVersion", "v1"},
          {"groupVersion", "v1"},
          {"resources", resources}};
}

ApiResponse OpenApiV2Response(const ApiRequest& request,
                              const OpenApiOptions& options) {
  const Json document = OpenApiV2Document(options);
  auto accept = request.headers.find("accept");
  if (accept == request.headers.end() ||
      accept->second.find("protobuf") == std::string::npos) {
    return JsonResponse(200, document);
  }
  ApiResponse response;
  response.content_type =
      "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";
  response.body = EncodeOpenApiV2Protobuf(document);
  return response;
}

ApiResponse ApiHandler::HandleNonResource(const ApiRequest& request,
                                          const std::string& path,
                                          const Query& query) {
  OpenApiOptions openapi;
  openapi.git_version = options_.git_version;
  openapi.field_validation = options_.server_side_field_validation;
  if (path == "/version") {
    return JsonResponse(200, {{"major", "1"},
                              {"minor", MinorVersion(options_.git_version)},
                              {"gitVersion", options_.git_version},
                              {"gitCommit", "simulated"},
                              {"gitTreeState", "clean"},
                              {"buildDate", "2026-01-01T00:00:00Z"},
                              {"goVersion", "go1.22.0"},
                              {"compiler", "gc"},
                              {"platform", "linux/amd64"}});
  }
  // kubectl asks /api and /apis for aggregated discovery first; a plain
  // APIVersions or APIGroupList declines it, as servers before 1.26 do.
  if (path == "/api" || path == "/api/") {
    return JsonResponse(200, {{"kind", "APIVersions"},
                              {"versions", {"v1"}},
                              {"serverAddressByClientCIDRs", Json::array()}});
  }
  if (path == "/apis" || path == "/apis/") {
    return JsonResponse(200, {{"kind", "APIGroupList"},
                              {"apiVersion", "v1"},
                              {"groups", Json::array()}});
  }
  if (path == "/api/v1" || path == "/api/v1/") {
    return JsonResponse(200, ApiResourceList());
  }
  if (path == "/openapi/v2") return OpenApiV2Response(request, openapi);
  if (path == "/openapi/v3") {
    const std::string hash =
        base::Sha256Hex(OpenApiV3CoreV1Document(openapi).dump(
            -1, ' ', false, nlohmann::json::error_handler_t::replace));
    return JsonResponse(
        200,
        {{"paths",
          {{"api/v1",
            {{"serverRelativeURL", "/openapi/v3/api/v1?hash=" + hash}}}}}});
  }
  if (path == "/openapi/v3/api/v1") {
    return JsonResponse(200, OpenApiV3CoreV1Document(openapi));
  }
  if (path == "/metrics") return Metrics();
  return FailureResponse(base::NotFoundError(
      "the server could not find the requested resource", "NotFound"));
}

ApiResponse ApiHandler::Metrics() {
  MetricsWriter writer;
  request_metrics_.Write(writer);
  if (options_.encryption_config_reloads) {
    const EncryptionConfigReloader::Stats reloads =
        options_.encryption_config_reloads();
    writer.Family(
        "apiserver_encryption_config_controller_automatic_reloads_total",
        "counter",
        "Reloads of the encryption configuration file, by "
        "result.");
    writer.Sample(
        "apiserver_encryption_config_controller_automatic_reloads_total",
        {{"status", "failure"}}, static_cast<double>(reloads.failures));
    writer.Sample(
        "apiserver_encryption_config_controller_automatic_reloads_total",
        {{"status", "success"}}, static_cast<double>(reloads.successes));
  }
  if (options_.kms_stats) {
    const std::map<std::string, KmsV2Stats> providers = options_.kms_stats();
    writer.Family("apiserver_envelope_encryption_dek_cache_hits_total",
                  "counter",
                  "Reads of KMS v2 values whose DEK seed was in the cache.");
    for (const auto& [name, stats] : providers) {
      writer.Sample("apiserver_envelope_encryption_dek_cache_hits_total",
                    {{"provider_name", name}},
                    static_cast<double>(stats.dek_cache_hits));
    }
    writer.Family("apiserver_envelope_encryption_dek_cache_misses_total",
                  "counter",
                  "Reads of KMS v2 values whose DEK seed had to be "
                  "decrypted by the KMS.");
    for (const auto& [name, stats] : providers) {
      writer.Sample("apiserver_envelope_encryption_dek_cache_misses_total",
                    {{"provider_name", name}},
                    static_cast<double>(stats.dek_cache_misses));
    }
    writer.Family(
        "apiserver_envelope_encryption_kms_operations_latency_seconds",
        "histogram",
        "KMS operation duration with gRPC error code status total.");
    for (const auto& [name, stats] : providers) {
      for (const auto& [key, histogram] : stats.operations) {
        writer.HistogramSamples(
            "apiserver_envelope_encryption_kms_operations_latency_seconds",
            {{"grpc_status_code", key.second},
             {"method_name", key.first},
             {"provider_name", name}},
            histogram);
      }
    }
  }
  ApiResponse response;
  response.content_type = "text/plain; version=0.0.4; charset=utf-8";
  response.body = writer.text();
  return response;
}

ApiResponse ApiHandler::HandleHealth(const std::string& path,
                                     const Query& query) {
  std::vector<std::pair<std::string, base::Status>> checks = {
      {"ping", base::OkStatus()},
      {"log", base::OkStatus()},
      {"etcd", base::OkStatus()}};
  // The KMS check belongs to /healthz and /readyz only: an unreachable KMS
  // must not make a liveness probe restart the server.
  const bool is_livez = path.starts_with("/livez");
  if (options_.kms_health && !is_livez) {
    checks.push_back({"kms-providers", options_.kms_health()});
  }
  const std::string root = path.substr(0, path.find('/', 1));
  const std::string check_name =
      path.size() > root.size() + 1 ? path.substr(root.size() + 1) : "";

  if (!check_name.empty()) {
    for (const auto& [name, status] : checks) {
      if (name != check_name) continue;
      if (status.ok()) return TextResponse(200, "ok");
      // The provider logs its own state changes; probes repeat every few
      // seconds, so this stays at debug level.
      spdlog::debug("apiserver: {} check {} failed: {}", root, name,
                    status.message());
      return TextResponse(500,
                          "internal server error: " + status.message() + "\n");
    }
    return TextResponse(404, "404 page not found\n");
  }

  bool healthy = true;
  std::string verbose;
  for (const auto& [name, status] : checks) {
    healthy = healthy && status.ok();
    verbose += status.ok() ? "[+]" + name + " ok\n"
                           : "[-]" + name + " failed: reason withheld\n";
  }
  const std::string check = root.substr(1);
  if (healthy) {
    return TextResponse(200, query.contains("verbose")
                                 ? verbose + check + " check passed\n"
                                 : "ok");
  }
  return TextResponse(500, verbose + check + " check failed\n");
}

}  // namespace apiserver
