// The IAM token stand-in: POST /identity/token as IBM Cloud IAM serves it to
// the SDKs' IamAuthenticator (ibm-cloud-sdk-core), on the mock's own port.
#include <chrono>
#include <utility>

#include "base/crypto.h"
#include "kms-mock/api_internal.h"

namespace kms::api_internal {
namespace {

constexpr std::string_view kApiKeyGrant =
    "urn:ibm:params:oauth:grant-type:apikey";

int64_t UnixSeconds(base::Time t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch())
      .count();
}

std::string Base64Url(std::string_view bytes) {
  std::string out = base::Base64Encode(bytes);
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  while (!out.empty() && out.back() == '=') out.pop_back();
  return out;
}

// IAM's error body. Only BXNIM0415E (unknown API key) is IAM's own code as
// public clients record it; the mock's other errors use BXNIM_MOCK_REQUEST.
HttpResponse IamError(int status, std::string_view code, std::string message) {
  return JsonResponse(status,
                      Json{{"errorCode", code},
                           {"errorMessage", std::move(message)},
                           {"context", {{"url", "kms-mock /identity/token"}}}});
}

}  // namespace

IssuedTokens::IssuedTokens(base::Random* random)
    : own_random_(random == nullptr ? std::make_unique<base::SecureRandom>()
                                    : nullptr),
      random_(random == nullptr ? *own_random_ : *random) {}

IssuedTokens::Issued IssuedTokens::Issue(const AccessGrant& grant,
                                         base::Time now,
                                         base::Duration lifetime) {
  std::lock_guard lock(mu_);
  std::erase_if(tokens_, [now](const auto& entry) {
    return entry.second.expires_at <= now;
  });

  Issued issued{"", now, now + lifetime};
  Json header = {{"alg", "HS256"}, {"typ", "JWT"}};
  Json claims = {{"iam_id", "iam-kms-mock-" + std::to_string(next_subject_++)},
                 {"sub", "kms-mock-user"},
                 {"iss", "kms-mock"},
                 {"grant_type", kApiKeyGrant},
                 {"scope", "ibm openid"},
                 {"iat", UnixSeconds(issued.issued_at)},
                 {"exp", UnixSeconds(issued.expires_at)}};
  // The signature is random: tokens are recognized by lookup, not verified,
  // and the randomness makes them impossible to guess.
  issued.token =
      Base64Url(header.dump(-1, ' ', false,
                            nlohmann::json::error_handler_t::replace)) +
      "." +
      Base64Url(claims.dump(-1, ' ', false,
                            nlohmann::json::error_handler_t::replace)) +
      "." + Base64Url(random_.Bytes(32));
  tokens_[issued.token] = Entry{grant, issued.expires_at};
  return issued;
}

std::optional<AccessGrant> IssuedTokens::Find(const std::string& token,
                                              base::Time now) const {
  std::lock_guard lock(mu_);
  auto it = tokens_.find(token);
  if (it == tokens_.end() || it->second.expires_at <= now) return std::nullopt;
  return it->second.grant;
}

HttpResponse HandleIdentityToken(const HttpRequest& request,
                                 const TokenTable& tokens, IssuedTokens& issued,
                                 base::Time now, base::Duration lifetime) {
  if (request.method != "POST") {
    return IamError(405, "BXNIM_MOCK_REQUEST",
                    "method " + request.method +
                        " is not allowed; use POST /identity/token");
  }
  auto type = request.headers.find("content-type");
  if (type == request.headers.end() ||
      !type->second.starts_with("application/x-www-form-urlencoded")) {
    return IamError(400, "BXNIM_MOCK_REQUEST",
                    "content-type must be application/x-www-form-urlencoded");
  }
  // The form has the syntax of a query string.
  std::expected<Target, ApiError> form = ParseTarget("?" + request.body);
  if (!form) {
    return IamError(400, "BXNIM_MOCK_REQUEST", form.error().message);
  }
  auto grant_type = form->query.find("grant_type");
  if (grant_type == form->query.end() || grant_type->second != kApiKeyGrant) {
    return IamError(400, "BXNIM_MOCK_REQUEST",
                    "grant_type must be " + std::string(kApiKeyGrant) +
                        "; the mock issues tokens for API keys only");
  }
  auto api_key = form->query.find("apikey");
  if (api_key == form->query.end() || api_key->second.empty()) {
    return IamError(400, "BXNIM_MOCK_REQUEST", "apikey is missing");
  }

  for (const auto& [token, grant] : tokens) {
    if (grant.api_key != api_key->second) continue;
    IssuedTokens::Issued token_info = issued.Issue(grant, now, lifetime);
    int64_t expires_in = std::chrono::duration_cast<std::chrono::seconds>(
                             token_info.expires_at - token_info.issued_at)
                             .count();
    return JsonResponse(200,
                        Json{{"access_token", token_info.token},
                             {"refresh_token", "not_supported"},
                             {"token_type", "Bearer"},
                             {"expires_in", expires_in},
                             {"expiration", UnixSeconds(token_info.expires_at)},
                             {"scope", "ibm openid"}});
  }
  return IamError(400, "BXNIM0415E", "Provided API key could not be found.");
}

}  // namespace kms::api_internal
