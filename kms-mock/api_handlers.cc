// Handlers of the Key Protect API: request bodies in, JSON out.
#include <charconv>
#include <expected>
#include <set>
#include <sstream>
#include <utility>

#include "base/crypto.h"
#include "base/json_depth.h"
#include "kms-mock/api_internal.h"

namespace kms::api_internal {
namespace {

template <typename T>
using Expected = std::expected<T, ApiError>;

constexpr std::string_view kMoreInfo =
    "https://cloud.ibm.com/apidocs/key-protect";
constexpr std::string_view kKeyType = "application/vnd.ibm.kms.key+json";
constexpr std::string_view kErrorType = "application/vnd.ibm.kms.error+json";
constexpr std::string_view kVersionType =
    "application/vnd.ibm.kms.key_version+json";
constexpr std::string_view kRegistrationType =
    "application/vnd.ibm.kms.registration+json";

// Listing limits of GET /keys in Key Protect's API reference.
constexpr int kDefaultListLimit = 200;
constexpr int kMaxListLimit = 5000;

std::string_view StatusText(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 422:
      return "Unprocessable Entity";
    case 503:
      return "Service Unavailable";
    default:
      return "Internal Server Error";
  }
}

Json Collection(std::string_view type, Json resources) {
  Json metadata = {{"collectionType", type},
                   {"collectionTotal", resources.size()}};
  return Json{{"metadata", std::move(metadata)},
              {"resources", std::move(resources)}};
}

std::string Rfc3339(base::Time t) { return base::FormatRfc3339(t); }

std::string Crn(const Instance& instance, const std::string& key_id) {
  std::string service =
      instance.type == InstanceType::kHyperProtect ? "hs-crypto" : "kms";
  return "crn:v1:bluemix:public:" + service + ":" + instance.region +
         ":a/mock-account:" + instance.id + ":key:" + key_id;
}

Json KeyJson(const Call& call, const Key& key, bool with_payload) {
  const KeyVersion& version = key.versions.back();
  Json json = {
      {"type", kKeyType},
      {"id", key.id},
      {"name", key.name},
      {"state", static_cast<int>(key.state)},
      {"extractable", key.extractable},
      {"crn", Crn(call.instance, key.id)},
      {"imported", key.imported},
      {"keyRingID", "default"},
      {"creationDate", Rfc3339(key.creation_date)},
      {"createdBy", "mock-user"},
      {"algorithmType", "AES"},
      {"algorithmMetadata", {{"bitLength", "256"}, {"mode", "CBC_PAD"}}},
      {"algorithmBitSize", 256},
      {"algorithmMode", "CBC_PAD"},
      {"lastUpdateDate", Rfc3339(key.last_update_date)},
      {"keyVersion",
       {{"id", version.id}, {"creationDate", Rfc3339(version.creation_date)}}},
      {"dualAuthDelete", {{"enabled", key.dual_auth_delete}}},
      {"deleted", key.state == KeyState::kDestroyed},
  };
  if (!key.description.empty()) json["description"] = key.description;
  if (key.expiration) json["expirationDate"] = Rfc3339(*key.expiration);
  if (key.last_rotate_date) {
    json["lastRotateDate"] = Rfc3339(*key.last_rotate_date);
  }
  if (key.dual_auth_delete) {
    const auto& until = key.dual_auth_authorized_until;
    bool set = until && call.clock.Now() < *until;
    json["dualAuthDelete"]["keySetForDeletion"] = set;
    if (set) json["dualAuthDelete"]["authExpiration"] = Rfc3339(*until);
  }
  if (key.deletion_date) {
    base::Time now = call.clock.Now();
    json["deletionDate"] = Rfc3339(*key.deletion_date);
    json["deletedBy"] = "mock-user";
    json["restoreExpirationDate"] = Rfc3339(*key.restore_expiration_date);
    json["restoreAllowed"] = now < *key.restore_expiration_date;
    json["purgeAllowedFrom"] = Rfc3339(*key.purge_allowed_from);
    json["purgeAllowed"] = now >= *key.purge_allowed_from;
  }
  if (with_payload && key.payload && call.role >= Role::kWriter) {
    json["payload"] = base::Base64Encode(*key.payload);
  }
  return json;
}

Json RegistrationJson(const Registration& registration) {
  return Json{{"keyId", registration.key_id},
              {"resourceCrn", registration.resource_crn},
              {"createdBy", "mock-service"},
              {"creationDate", Rfc3339(registration.creation_date)},
              {"lastUpdated", Rfc3339(registration.creation_date)},
              {"description", registration.description},
              {"preventKeyDeletion", registration.prevent_key_deletion}};
}

HttpResponse NoContent() { return HttpResponse{204, {}, ""}; }

HttpResponse Fail(const Call& call, const base::Status& status) {
  return ErrorResponse(FromStatus(status), call.route.summary);
}

HttpResponse Fail(const Call& call, const ApiError& error) {
  return ErrorResponse(error, call.route.summary);
}

bool PrefersRepresentation(const HttpRequest& request) {
  auto it = request.headers.find("prefer");
  return it != request.headers.end() &&
         it->second.find("return=representation") != std::string::npos;
}

Expected<Json> ParseBody(const HttpRequest& request, bool required) {
  if (request.body.empty()) {
    if (required) {
      return std::unexpected(ApiError{400, std::string(kReasonNoBody),
                                      "Missing body in request", "field",
                                      "body"});
    }
    return Json::object();
  }
  Json body = base::JsonNestedDeeperThan(request.body)
                  ? Json(Json::value_t::discarded)
                  : Json::parse(request.body, nullptr,
                                /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    return std::unexpected(BadBody("the body is not valid JSON"));
  }
  if (!body.is_object()) {
    return std::unexpected(BadBody("the body must be a JSON object"));
  }
  return body;
}

Expected<std::optional<std::string>> OptionalString(const Json& object,
                                                    const std::string& name) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) {
    return std::unexpected(
        InvalidField(name, "field " + name + " must be a string"));
  }
  return it->get<std::string>();
}

Expected<std::optional<std::string>> OptionalBase64(const Json& object,
                                                    const std::string& name) {
  Expected<std::optional<std::string>> text = OptionalString(object, name);
  if (!text || !text->has_value()) return text;
  base::StatusOr<std::string> bytes = base::Base64Decode(**text);
  if (!bytes.ok()) {
    return std::unexpected(
        InvalidField(name, "field " + name + " is not valid base64"));
  }
  return std::optional<std::string>(std::move(bytes).value());
}

Expected<std::vector<std::string>> OptionalAad(const Json& object) {
  std::vector<std::string> out;
  auto it = object.find("aad");
  if (it == object.end() || it->is_null()) return out;
  if (!it->is_array()) {
    return std::unexpected(
        InvalidField("aad", "field aad must be an array of strings"));
  }
  for (const Json& item : *it) {
    if (!item.is_string()) {
      return std::unexpected(
          InvalidField("aad", "field aad must be an array of strings"));
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

bool IsDekSize(size_t size) { return size == 16 || size == 24 || size == 32; }

// Reads the single resource of a {"metadata":..., "resources":[...]} body.
Expected<Json> SingleResource(const Json& body) {
  auto metadata = body.find("metadata");
  auto resources = body.find("resources");
  if (metadata == body.end() || !metadata->is_object() || metadata->empty()) {
    return std::unexpected(BadBody("metadata is missing or empty"));
  }
  if (resources == body.end() || !resources->is_array()) {
    return std::unexpected(BadBody("resources must be an array"));
  }
  auto total = metadata->find("collectionTotal");
  if (total == metadata->end() || !total->is_number_integer() ||
      total->get<int64_t>() != static_cast<int64_t>(resources->size())) {
    return std::unexpected(
        ApiError{400, std::string(kReasonCollectionMismatch),
                 "Collection total does not match number of resources", "field",
                 "metadata.collectionTotal"});
  }
  if (resources->size() != 1 || !(*resources)[0].is_object()) {
    return std::unexpected(
        BadBody("exactly one resource object is supported per request"));
  }
  return (*resources)[0];
}

Expected<CreateKeyRequest> ParseCreateKey(const Json& body) {
  Expected<Json> resource = SingleResource(body);
  if (!resource) return std::unexpected(resource.error());

  CreateKeyRequest request;
  Expected<std::optional<std::string>> name = OptionalString(*resource, "name");
  if (!name) return std::unexpected(name.error());
  if (!name->has_value() || (*name)->empty()) {
    return std::unexpected(InvalidField("name", "field name is missing"));
  }
  if (!IsValidKeyName(**name)) {
    return std::unexpected(
        InvalidField("name",
                     "field name must be 2 to 90 characters without control "
                     "characters, got " +
                         std::to_string((*name)->size()) + " bytes"));
  }
  request.name = **name;

  Expected<std::optional<std::string>> description =
      OptionalString(*resource, "description");
  if (!description) return std::unexpected(description.error());
  request.description = description->value_or("");

  auto extractable = resource->find("extractable");
  if (extractable != resource->end() && !extractable->is_null()) {
    if (!extractable->is_boolean()) {
      return std::unexpected(
          InvalidField("extractable", "field extractable must be a boolean"));
    }
    request.extractable = extractable->get<bool>();
  }

  Expected<std::optional<std::string>> payload =
      OptionalBase64(*resource, "payload");
  if (!payload) return std::unexpected(payload.error());
  if (*payload && !IsDekSize((*payload)->size())) {
    return std::unexpected(InvalidField(
        "payload", "field payload must decode to 16, 24 or 32 bytes, got " +
                       std::to_string((*payload)->size())));
  }
  request.material = *payload;

  Expected<std::optional<std::string>> expiration =
      OptionalString(*resource, "expirationDate");
  if (!expiration) return std::unexpected(expiration.error());
  if (*expiration) {
    request.expiration = base::ParseRfc3339(**expiration);
    if (!request.expiration) {
      return std::unexpected(InvalidField(
          "expirationDate",
          "field expirationDate is not an RFC 3339 time from 1678 to 2261: " +
              **expiration));
    }
  }

  auto dual = resource->find("dualAuthDelete");
  if (dual != resource->end() && !dual->is_null()) {
    auto enabled = dual->is_object() ? dual->find("enabled") : dual->end();
    if (!dual->is_object() || enabled == dual->end() ||
        !enabled->is_boolean()) {
      return std::unexpected(
          InvalidField("dualAuthDelete",
                       "field dualAuthDelete must be {\"enabled\": "
                       "true|false}"));
    }
    request.dual_auth_delete = enabled->get<bool>();
  }
  return request;
}

Expected<std::set<KeyState>> ParseStates(const std::string& text) {
  std::set<KeyState> out;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    int value = -1;
    auto [end, error] =
        std::from_chars(item.data(), item.data() + item.size(), value);
    bool valid =
        error == std::errc() && end == item.data() + item.size() &&
        (value == 0 || value == 1 || value == 2 || value == 3 || value == 5);
    if (!valid) {
      return std::unexpected(InvalidField(
          "state", "state must be a comma-separated list of 0, 1, 2, 3 and 5",
          "query"));
    }
    out.insert(static_cast<KeyState>(value));
  }
  if (out.empty()) {
    return std::unexpected(
        InvalidField("state", "state must not be empty", "query"));
  }
  return out;
}

Expected<int> QueryInt(const Target& target, const std::string& name,
                       int fallback, int min, int max) {
  auto it = target.query.find(name);
  if (it == target.query.end()) return fallback;
  int value = 0;
  const std::string& text = it->second;
  auto [end, error] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < min ||
      value > max) {
    return std::unexpected(InvalidField(
        name,
        name + " must be an integer from " + std::to_string(min) + " to " +
            std::to_string(max) + ", got \"" + text + "\"",
        "query"));
  }
  return value;
}

Expected<std::optional<bool>> QueryBool(const Target& target,
                                        const std::string& name) {
  auto it = target.query.find(name);
  if (it == target.query.end()) return std::nullopt;
  if (it->second == "true") return true;
  if (it->second == "false") return false;
  return std::unexpected(InvalidField(
      name, name + " must be true or false, got \"" + it->second + "\"",
      "query"));
}

// Applies limit and offset to `items`.
template <typename T>
Expected<std::vector<T>> Page(const Call& call, std::vector<T> items) {
  Expected<int> limit =
      QueryInt(call.target, "limit", kDefaultListLimit, 1, kMaxListLimit);
  if (!limit) return std::unexpected(limit.error());
  Expected<int> offset =
      QueryInt(call.target, "offset", 0, 0, std::numeric_limits<int>::max());
  if (!offset) return std::unexpected(offset.error());

  size_t begin = std::min(items.size(), static_cast<size_t>(*offset));
  size_t end = std::min(items.size(), begin + static_cast<size_t>(*limit));
  return std::vector<T>(std::make_move_iterator(items.begin() + begin),
                        std::make_move_iterator(items.begin() + end));
}

HttpResponse ListKeys(const Call& call) {
  // Key Protect lists keys in states 0 to 3 unless `state` is given.
  std::set<KeyState> states = {KeyState::kPreActivation, KeyState::kActive,
                               KeyState::kSuspended, KeyState::kDeactivated};
  if (auto it = call.target.query.find("state");
      it != call.target.query.end()) {
    Expected<std::set<KeyState>> parsed = ParseStates(it->second);
    if (!parsed) return Fail(call, parsed.error());
    states = *parsed;
  }
  Expected<std::optional<bool>> extractable =
      QueryBool(call.target, "extractable");
  if (!extractable) return Fail(call, extractable.error());
  Expected<std::optional<bool>> with_total =
      QueryBool(call.target, "totalCount");
  if (!with_total) return Fail(call, with_total.error());

  base::StatusOr<std::vector<Key>> keys =
      call.service.ListKeys(call.instance.id);
  if (!keys.ok()) return Fail(call, keys.status());
  std::vector<Key> matching;
  for (Key& key : *keys) {
    if (!states.contains(key.state)) continue;
    if (*extractable && key.extractable != **extractable) continue;
    matching.push_back(std::move(key));
  }

  if (call.route.operation == Operation::kCountKeys) {
    HttpResponse response = NoContent();
    response.headers["key-total"] = std::to_string(matching.size());
    return response;
  }
  size_t total = matching.size();
  Expected<std::vector<Key>> page = Page(call, std::move(matching));
  if (!page) return Fail(call, page.error());
  Json resources = Json::array();
  for (const Key& key : *page) resources.push_back(KeyJson(call, key, false));
  Json body = Collection(kKeyType, std::move(resources));
  if (with_total->value_or(false)) body["metadata"]["totalCount"] = total;
  return JsonResponse(200, body);
}

HttpResponse CreateKey(const Call& call) {
  Expected<Json> body = ParseBody(call.request, /*required=*/true);
  if (!body) return Fail(call, body.error());
  Expected<CreateKeyRequest> request = ParseCreateKey(*body);
  if (!request) return Fail(call, request.error());

  base::StatusOr<Key> key = call.service.CreateKey(call.instance.id, *request);
  if (!key.ok()) return Fail(call, key.status());
  Json resources = Json::array({KeyJson(call, *key, true)});
  return JsonResponse(201, Collection(kKeyType, std::move(resources)));
}

HttpResponse GetKey(const Call& call) {
  base::StatusOr<Key> key =
      call.service.GetKey(call.instance.id, call.route.key_id);
  if (!key.ok()) return Fail(call, key.status());
  // NOTE: GET /keys/{id} returns 410 for a Destroyed key and the metadata
  // path returns 200; whether Key Protect's GET does the same was not
  // checked against the real service.
  bool metadata_only = call.route.operation == Operation::kGetMetadata;
  if (!metadata_only && key->state == KeyState::kDestroyed) {
    return Fail(call, base::Status(base::Code::kNotFound,
                                   "key " + key->id + " has been deleted",
                                   std::string(kReasonKeyDeleted)));
  }
  Json resources = Json::array({KeyJson(call, *key, !metadata_only)});
  return JsonResponse(200, Collection(kKeyType, std::move(resources)));
}

HttpResponse KeyRepresentation(const Call& call, int status, const Key& key) {
  if (!PrefersRepresentation(call.request)) return NoContent();
  Json resources = Json::array({KeyJson(call, key, false)});
  return JsonResponse(status, Collection(kKeyType, std::move(resources)));
}

HttpResponse DeleteKey(const Call& call) {
  Expected<std::optional<bool>> force = QueryBool(call.target, "force");
  if (!force) return Fail(call, force.error());
  base::StatusOr<Key> key = call.service.Delete(
      call.instance.id, call.route.key_id, force->value_or(false));
  if (!key.ok()) return Fail(call, key.status());
  return KeyRepresentation(call, 200, *key);
}

HttpResponse Wrap(const Call& call, const Json& body) {
  Expected<std::optional<std::string>> plaintext =
      OptionalBase64(body, "plaintext");
  if (!plaintext) return Fail(call, plaintext.error());
  if (*plaintext && !IsDekSize((*plaintext)->size())) {
    return Fail(call, InvalidField("plaintext",
                                   "field plaintext must decode to 16, 24 or "
                                   "32 bytes, got " +
                                       std::to_string((*plaintext)->size())));
  }
  Expected<std::vector<std::string>> aad = OptionalAad(body);
  if (!aad) return Fail(call, aad.error());

  base::StatusOr<WrapResult> result =
      call.service.Wrap(call.instance.id, call.route.key_id, *plaintext, *aad);
  if (!result.ok()) return Fail(call, result.status());
  Json json = {{"ciphertext", base::Base64Encode(result->ciphertext)},
               {"keyVersion", {{"id", result->key_version_id}}}};
  // Key Protect returns the plaintext only when it generated it.
  if (!*plaintext) json["plaintext"] = base::Base64Encode(result->plaintext);
  return JsonResponse(200, json);
}

// Reads the ciphertext and aad fields shared by unwrap and rewrap.
Expected<std::pair<std::string, std::vector<std::string>>> CiphertextAndAad(
    const Json& body) {
  Expected<std::optional<std::string>> ciphertext =
      OptionalBase64(body, "ciphertext");
  if (!ciphertext) return std::unexpected(ciphertext.error());
  if (!*ciphertext || (*ciphertext)->empty()) {
    return std::unexpected(
        InvalidField("ciphertext", "field ciphertext is missing"));
  }
  Expected<std::vector<std::string>> aad = OptionalAad(body);
  if (!aad) return std::unexpected(aad.error());
  return std::make_pair(std::move(**ciphertext), std::move(*aad));
}

HttpResponse Unwrap(const Call& call, const Json& body) {
  auto input = CiphertextAndAad(body);
  if (!input) return Fail(call, input.error());

  base::StatusOr<UnwrapResult> result = call.service.Unwrap(
      call.instance.id, call.route.key_id, input->first, input->second);
  if (!result.ok()) return Fail(call, result.status());
  Json json = {{"plaintext", base::Base64Encode(result->plaintext)},
               {"keyVersion", {{"id", result->key_version_id}}}};
  if (result->rewrapped_ciphertext) {
    json["ciphertext"] = base::Base64Encode(*result->rewrapped_ciphertext);
    json["rewrappedKeyVersion"] = {{"id", result->rewrapped_key_version_id}};
  }
  return JsonResponse(200, json);
}

HttpResponse Rewrap(const Call& call, const Json& body) {
  auto input = CiphertextAndAad(body);
  if (!input) return Fail(call, input.error());

  base::StatusOr<WrapResult> result = call.service.Rewrap(
      call.instance.id, call.route.key_id, input->first, input->second);
  if (!result.ok()) return Fail(call, result.status());
  Json json = {{"ciphertext", base::Base64Encode(result->ciphertext)},
               {"keyVersion", {{"id", result->unwrapped_key_version_id}}},
               {"rewrappedKeyVersion", {{"id", result->key_version_id}}}};
  return JsonResponse(200, json);
}

HttpResponse Rotate(const Call& call, const Json& body) {
  Expected<std::optional<std::string>> payload =
      OptionalBase64(body, "payload");
  if (!payload) return Fail(call, payload.error());
  if (*payload && !IsDekSize((*payload)->size())) {
    return Fail(call, InvalidField("payload",
                                   "field payload must decode to 16, 24 or "
                                   "32 bytes, got " +
                                       std::to_string((*payload)->size())));
  }
  base::StatusOr<Key> key =
      call.service.Rotate(call.instance.id, call.route.key_id, *payload);
  if (!key.ok()) return Fail(call, key.status());
  return KeyRepresentation(call, 200, *key);
}

HttpResponse StateAction(const Call& call) {
  const std::string& id = call.route.key_id;
  const std::string& instance = call.instance.id;
  const std::string& action = call.route.action;
  base::Status status;
  if (action == "disable") {
    status = call.service.Disable(instance, id);
  } else if (action == "enable") {
    status = call.service.Enable(instance, id);
  } else if (action == "setKeyForDeletion") {
    status = call.service.SetKeyForDeletion(instance, id);
  } else {
    status = call.service.UnsetKeyForDeletion(instance, id);
  }
  if (!status.ok()) return Fail(call, status);
  return NoContent();
}

HttpResponse KeyAction(const Call& call) {
  const std::string& action = call.route.action;
  bool needs_body = action == "unwrap" || action == "rewrap";
  Expected<Json> body = ParseBody(call.request, needs_body);
  if (!body) return Fail(call, body.error());

  if (action == "wrap") return Wrap(call, *body);
  if (action == "unwrap") return Unwrap(call, *body);
  if (action == "rewrap") return Rewrap(call, *body);
  if (action == "rotate") return Rotate(call, *body);
  return StateAction(call);
}

HttpResponse RestoreKey(const Call& call) {
  base::StatusOr<Key> key =
      call.service.Restore(call.instance.id, call.route.key_id);
  if (!key.ok()) return Fail(call, key.status());
  Json resources = Json::array({KeyJson(call, *key, false)});
  return JsonResponse(201, Collection(kKeyType, std::move(resources)));
}

HttpResponse PurgeKey(const Call& call) {
  // The response carries the key as it was before the purge removed it.
  base::StatusOr<Key> key =
      call.service.GetKey(call.instance.id, call.route.key_id);
  if (!key.ok()) return Fail(call, key.status());
  base::Status status = call.service.Purge(call.instance.id, call.route.key_id);
  if (!status.ok()) return Fail(call, status);
  Json resources = Json::array({KeyJson(call, *key, false)});
  return JsonResponse(200, Collection(kKeyType, std::move(resources)));
}

HttpResponse ListVersions(const Call& call) {
  base::StatusOr<Key> key =
      call.service.GetKey(call.instance.id, call.route.key_id);
  if (!key.ok()) return Fail(call, key.status());
  std::vector<KeyVersion> newest_first(key->versions.rbegin(),
                                       key->versions.rend());
  Expected<std::vector<KeyVersion>> page = Page(call, newest_first);
  if (!page) return Fail(call, page.error());

  Json resources = Json::array();
  for (const KeyVersion& version : *page) {
    resources.push_back(
        {{"id", version.id}, {"creationDate", Rfc3339(version.creation_date)}});
  }
  return JsonResponse(200, Collection(kVersionType, std::move(resources)));
}

HttpResponse ListRegistrations(const Call& call) {
  if (call.route.operation == Operation::kListKeyRegistrations) {
    base::StatusOr<Key> key =
        call.service.GetKey(call.instance.id, call.route.key_id);
    if (!key.ok()) return Fail(call, key.status());
  }
  Expected<std::vector<Registration>> page =
      Page(call,
           call.service.ListRegistrations(call.instance.id, call.route.key_id));
  if (!page) return Fail(call, page.error());

  Json resources = Json::array();
  for (const Registration& r : *page) {
    resources.push_back(RegistrationJson(r));
  }
  return JsonResponse(200, Collection(kRegistrationType, std::move(resources)));
}

// Reads the optional registration body {"metadata":...,"resources":[{
// "preventKeyDeletion": bool, "description": string}]}.
Expected<Registration> ParseRegistration(const Call& call) {
  Registration registration;
  registration.instance_id = call.instance.id;
  registration.key_id = call.route.key_id;
  registration.resource_crn = call.route.resource_crn;
  Expected<Json> body = ParseBody(call.request, /*required=*/false);
  if (!body) return std::unexpected(body.error());
  if (body->empty()) return registration;

  Expected<Json> resource = SingleResource(*body);
  if (!resource) return std::unexpected(resource.error());
  auto prevent = resource->find("preventKeyDeletion");
  if (prevent != resource->end()) {
    if (!prevent->is_boolean()) {
      return std::unexpected(InvalidField(
          "preventKeyDeletion", "field preventKeyDeletion must be a boolean"));
    }
    registration.prevent_key_deletion = prevent->get<bool>();
  }
  Expected<std::optional<std::string>> description =
      OptionalString(*resource, "description");
  if (!description) return std::unexpected(description.error());
  registration.description = description->value_or("");
  return registration;
}

HttpResponse ChangeRegistration(const Call& call) {
  if (call.route.operation == Operation::kUnregister) {
    base::Status status = call.service.Unregister(
        call.instance.id, call.route.key_id, call.route.resource_crn);
    if (!status.ok()) return Fail(call, status);
    return NoContent();
  }

  Expected<Registration> registration = ParseRegistration(call);
  if (!registration) return Fail(call, registration.error());
  base::Status status = call.service.Register(*registration);
  if (!status.ok()) return Fail(call, status);
  for (const Registration& r :
       call.service.ListRegistrations(call.instance.id, call.route.key_id)) {
    if (r.resource_crn == registration->resource_crn) {
      Json resources = Json::array({RegistrationJson(r)});
      return JsonResponse(201,
                          Collection(kRegistrationType, std::move(resources)));
    }
  }
  return NoContent();
}

int StatusForReason(std::string_view reason) {
  static const auto* statuses = new std::map<std::string_view, int>{
      {kReasonKeyNotFound, 404},
      {kReasonKeyDeleted, 410},
      {kReasonInvalidState, 409},
      {kReasonProtectedResource, 409},
      {kReasonTooEarly, 409},
      {kReasonAuthorizationsNotMet, 409},
      {kReasonNotDualAuth, 409},
      {kReasonRestoreExpired, 400},
      {kReasonUnprocessableCiphertext, 422},
      {kReasonRootKeyRequired, 400},
      {kReasonPayloadRequired, 400},
      {kReasonInvalidField, 400},
      {kReasonInstanceNotFound, 401},
  };
  auto it = statuses->find(reason);
  return it == statuses->end() ? 0 : it->second;
}

}  // namespace

ApiError FromStatus(const base::Status& status) {
  int http = StatusForReason(status.reason());
  if (http == 0) http = base::HttpStatusForCode(status.code());
  std::string code = status.reason().empty()
                         ? std::string(base::CodeName(status.code()))
                         : status.reason();
  return ApiError{http, std::move(code), status.message()};
}

HttpResponse JsonResponse(int status, const Json& body) {
  HttpResponse response;
  response.status = status;
  response.headers["content-type"] = "application/json";
  response.body =
      body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return response;
}

HttpResponse ErrorResponse(const ApiError& error, std::string_view summary) {
  Json reason = {{"code", error.code},
                 {"message", error.message},
                 {"status", error.status},
                 {"moreInfo", kMoreInfo}};
  if (!error.target_name.empty()) {
    reason["target"] = {{"type", error.target_type},
                        {"name", error.target_name}};
  }
  std::string message = std::string(StatusText(error.status)) + ": " +
                        std::string(summary) +
                        ". Please see `reasons` for more details.";
  Json resource = {{"errorMsg", message},
                   {"reasons", Json::array({std::move(reason)})}};
  return JsonResponse(error.status,
                      Collection(kErrorType, Json::array({resource})));
}

HttpResponse Dispatch(const Call& call) {
  switch (call.route.operation) {
    case Operation::kListKeys:
    case Operation::kCountKeys:
      return ListKeys(call);
    case Operation::kCreateKey:
      return CreateKey(call);
    case Operation::kGetKey:
    case Operation::kGetMetadata:
      return GetKey(call);
    case Operation::kDeleteKey:
      return DeleteKey(call);
    case Operation::kAction:
      return KeyAction(call);
    case Operation::kRestore:
      return RestoreKey(call);
    case Operation::kPurge:
      return PurgeKey(call);
    case Operation::kListVersions:
      return ListVersions(call);
    case Operation::kListKeyRegistrations:
    case Operation::kListInstanceRegistrations:
      return ListRegistrations(call);
    case Operation::kRegister:
    case Operation::kUnregister:
      return ChangeRegistration(call);
  }
  return ErrorResponse(ApiError{500, "INTERNAL_ERR", "unhandled route"},
                       call.route.summary);
}

}  // namespace kms::api_internal
