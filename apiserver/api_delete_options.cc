// DeleteOptions of DELETE and deletecollection requests, read from the body
// or the query and validated as kube-apiserver's delete handlers do.
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "apiserver/api_internal.h"
#include "apiserver/validation.h"

namespace apiserver {
namespace {

constexpr char kOptionsKind[] = "DeleteOptions.meta.k8s.io";

// A body that does not decode: upstream passes the decoder's plain error
// on, which becomes a Status without reason and HTTP 500.
base::Status UndecodableBody(const std::string& message) {
  return base::Status(base::Code::kInvalidArgument, message, "Unknown");
}

base::Status FieldTypeError(const Json& value, const std::string& field,
                            const std::string& go_type) {
  std::string type = "null";
  if (value.is_string()) type = "string";
  if (value.is_number()) type = "number";
  if (value.is_boolean()) type = "bool";
  if (value.is_array()) type = "array";
  if (value.is_object()) type = "object";
  return UndecodableBody("json: cannot unmarshal " + type +
                         " into Go struct field DeleteOptions." + field +
                         " of type " + go_type);
}

// Go's strconv.ParseInt(text, 10, 64), with its error texts.
base::StatusOr<int64_t> ParseGoInt64(const std::string& text) {
  const std::string prefix = "strconv.ParseInt: parsing " + GoQuote(text);
  size_t digits = text.starts_with('+') || text.starts_with('-') ? 1 : 0;
  if (digits == text.size() ||
      text.find_first_not_of("0123456789", digits) != std::string::npos) {
    return base::InvalidArgumentError(prefix + ": invalid syntax",
                                      "BadRequest");
  }
  errno = 0;
  const long long value = std::strtoll(text.c_str(), nullptr, 10);
  if (errno == ERANGE) {
    return base::InvalidArgumentError(prefix + ": value out of range",
                                      "BadRequest");
  }
  return static_cast<int64_t>(value);
}

// The fields of a DeleteOptions body, with the types upstream's struct
// gives them.
base::Status ReadBody(const std::string& body, DeleteOptions& options,
                      std::optional<std::string>& propagation_policy,
                      bool& orphan_dependents_set,
                      std::vector<std::string>& dry_run) {
  base::StatusOr<ParsedJson> parsed = ParseJsonText(body);
  if (!parsed.ok()) {
    return UndecodableBody("couldn't get version/kind; json parse error: " +
                           parsed.status().message());
  }
  const Json& object = parsed->value;
  if (!object.is_object()) {
    return UndecodableBody(
        "couldn't get version/kind; json parse error: json: cannot unmarshal "
        "non-object into Go value of type struct { APIVersion string "
        "\"json:\\\"apiVersion,omitempty\\\"\"; Kind string "
        "\"json:\\\"kind,omitempty\\\"\" }");
  }
  const std::string kind = object.contains("kind") && object["kind"].is_string()
                               ? object["kind"].get<std::string>()
                               : "";
  if (!kind.empty() && kind != "DeleteOptions") {
    return UndecodableBody(
        "decoded object cannot be converted to DeleteOptions");
  }

  if (auto it = object.find("gracePeriodSeconds");
      it != object.end() && !it->is_null() && !it->is_number_integer()) {
    return FieldTypeError(*it, "gracePeriodSeconds", "int64");
  }
  if (auto it = object.find("preconditions");
      it != object.end() && !it->is_null()) {
    if (!it->is_object()) {
      return FieldTypeError(*it, "preconditions", "v1.Preconditions");
    }
    for (const char* field : {"uid", "resourceVersion"}) {
      auto value = it->find(field);
      if (value == it->end() || value->is_null()) continue;
      if (!value->is_string()) {
        return FieldTypeError(
            *value, std::string("preconditions.") + field,
            std::string(field) == "uid" ? "types.UID" : "string");
      }
      (std::string(field) == "uid" ? options.uid : options.resource_version) =
          value->get<std::string>();
    }
  }
  if (auto it = object.find("propagationPolicy");
      it != object.end() && !it->is_null()) {
    if (!it->is_string()) {
      return FieldTypeError(*it, "propagationPolicy", "v1.DeletionPropagation");
    }
    propagation_policy = it->get<std::string>();
  }
  if (auto it = object.find("orphanDependents");
      it != object.end() && !it->is_null()) {
    if (!it->is_boolean()) {
      return FieldTypeError(*it, "orphanDependents", "bool");
    }
    orphan_dependents_set = true;
  }
  if (auto it = object.find("dryRun"); it != object.end() && !it->is_null()) {
    if (!it->is_array()) return FieldTypeError(*it, "dryRun", "[]string");
    for (const Json& value : *it) {
      if (!value.is_string()) return FieldTypeError(value, "dryRun", "string");
      dry_run.push_back(value.get<std::string>());
    }
  }
  return base::OkStatus();
}

}  // namespace

base::StatusOr<DeleteOptions> ParseDeleteOptions(const ApiRequest& request,
                                                 const Query& query) {
  DeleteOptions options;
  std::optional<std::string> propagation_policy;
  bool orphan_dependents_set = false;
  std::vector<std::string> dry_run;
  if (!request.body.empty()) {
    // With a body, upstream reads no options from the query.
    RETURN_IF_ERROR(ReadBody(request.body, options, propagation_policy,
                             orphan_dependents_set, dry_run));
  } else {
    if (auto it = query.find("gracePeriodSeconds"); it != query.end()) {
      // The value only has to parse: Secrets, ConfigMaps and Namespaces
      // here are deleted at once, as upstream deletes objects without a
      // graceful deletion strategy.
      RETURN_IF_ERROR(ParseGoInt64(it->second).status());
    }
    if (auto it = query.find("propagationPolicy"); it != query.end()) {
      propagation_policy = it->second;
    }
    orphan_dependents_set = query.contains("orphanDependents");
    dry_run = QueryValues(request, "dryRun");
  }

  // Upstream's ValidateDeleteOptions.
  std::vector<FieldError> errors;
  if (orphan_dependents_set && propagation_policy.has_value()) {
    errors.push_back(
        FieldInvalid("propagationPolicy", *propagation_policy,
                     "orphanDependents and deletionPropagation cannot be "
                     "both set"));
  }
  if (propagation_policy.has_value() && *propagation_policy != "Foreground" &&
      *propagation_policy != "Background" && *propagation_policy != "Orphan") {
    errors.push_back(
        FieldNotSupported("propagationPolicy", GoQuote(*propagation_policy),
                          {"Foreground", "Background", "Orphan", "nil"}));
  }
  options.dry_run = ParseDryRun(dry_run, errors);
  if (!errors.empty()) return InvalidError(kOptionsKind, "", errors);
  return options;
}

}  // namespace apiserver
