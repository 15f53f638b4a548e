#include "apiserver/tls_certificates.h"

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <array>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

namespace apiserver {
namespace {

using Pkey = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using Certificate = std::unique_ptr<X509, decltype(&X509_free)>;
using Bio = std::unique_ptr<BIO, decltype(&BIO_free)>;

constexpr char kSubjectAltNames[] = "IP:127.0.0.1,IP:::1,DNS:localhost";

std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(size));
}

// Adds an extension whose issuer is `issuer` (the certificate itself when
// self-signed), so that authorityKeyIdentifier can name the issuer's key.
bool AddExtension(X509* certificate, X509* issuer, int nid, const char* value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, issuer, certificate, nullptr, nullptr, 0);
  X509_EXTENSION* extension =
      X509V3_EXT_conf_nid(nullptr, &context, nid, value);
  if (extension == nullptr) return false;
  const bool added = X509_add_ext(certificate, extension, -1) == 1;
  X509_EXTENSION_free(extension);
  return added;
}

struct Issuer {
  X509* certificate = nullptr;  // null when the certificate signs itself
  EVP_PKEY* key = nullptr;
};

// Creates a certificate for `key` named CN=`common_name`, valid from a day
// before clock.Now() for ten years, signed by `issuer`.
base::StatusOr<Certificate> IssueCertificate(const std::string& common_name,
                                             EVP_PKEY* key, Issuer issuer,
                                             bool is_ca, base::Clock& clock,
                                             base::Random& random) {
  Certificate certificate(X509_new(), X509_free);
  if (!certificate) {
    return base::InternalError("failed to create a certificate in OpenSSL");
  }
  X509* cert = certificate.get();
  X509* issuer_cert = issuer.certificate ? issuer.certificate : cert;
  EVP_PKEY* signing_key = issuer.key ? issuer.key : key;
  const std::string serial = random.Bytes(16);
  std::unique_ptr<BIGNUM, decltype(&BN_free)> serial_number(
      BN_bin2bn(reinterpret_cast<const unsigned char*>(serial.data()), 15,
                nullptr),
      BN_free);
  time_t start = std::chrono::system_clock::to_time_t(
      std::chrono::time_point_cast<std::chrono::system_clock::duration>(
          clock.Now()));
  X509_NAME* name = X509_get_subject_name(cert);
  const bool ok =
      X509_set_version(cert, 2) == 1 && serial_number &&
      BN_to_ASN1_INTEGER(serial_number.get(), X509_get_serialNumber(cert)) !=
          nullptr &&
      X509_time_adj_ex(X509_getm_notBefore(cert), -1, 0, &start) != nullptr &&
      X509_time_adj_ex(X509_getm_notAfter(cert), 3650, 0, &start) != nullptr &&
      X509_set_pubkey(cert, key) == 1 &&
      X509_NAME_add_entry_by_txt(
          name, "CN", MBSTRING_ASC,
          reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
          0) == 1 &&
      X509_set_issuer_name(cert, X509_get_subject_name(issuer_cert)) == 1 &&
      AddExtension(cert, issuer_cert, NID_basic_constraints,
                   is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE") &&
      AddExtension(cert, issuer_cert, NID_key_usage,
                   is_ca ? "critical,digitalSignature,keyCertSign"
                         : "critical,digitalSignature") &&
      AddExtension(cert, issuer_cert, NID_subject_key_identifier, "hash") &&
      (issuer.certificate == nullptr ||
       AddExtension(cert, issuer_cert, NID_authority_key_identifier,
                    "keyid:always")) &&
      AddExtension(cert, issuer_cert, NID_ext_key_usage, "serverAuth") &&
      AddExtension(cert, issuer_cert, NID_subject_alt_name, kSubjectAltNames) &&
      X509_sign(cert, signing_key, EVP_sha256()) > 0;
  if (!ok) return base::InternalError("failed to sign a TLS certificate");
  return certificate;
}

base::StatusOr<std::string> CertificatePem(X509* certificate) {
  Bio pem(BIO_new(BIO_s_mem()), BIO_free);
  if (!pem || PEM_write_bio_X509(pem.get(), certificate) != 1) {
    return base::InternalError("failed to encode a TLS certificate as PEM");
  }
  return BioText(pem.get());
}

base::StatusOr<std::string> KeyPem(EVP_PKEY* key) {
  Bio pem(BIO_new(BIO_s_mem()), BIO_free);
  if (!pem || PEM_write_bio_PrivateKey(pem.get(), key, nullptr, nullptr, 0,
                                       nullptr, nullptr) != 1) {
    return base::InternalError("failed to encode a TLS key as PEM");
  }
  return BioText(pem.get());
}

base::StatusOr<Pkey> NewKey() {
  Pkey key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  if (!key) return base::InternalError("failed to create a TLS key in OpenSSL");
  return key;
}

// Writes `text` to `path` with `mode`, replacing any file there.
base::Status WriteFile(const std::filesystem::path& path,
                       const std::string& text, mode_t mode) {
  const std::filesystem::path temporary = path.string() + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.flush()) {
      return base::InternalError("failed to write " + temporary.string());
    }
  }
  std::error_code error;
  std::filesystem::permissions(temporary,
                               static_cast<std::filesystem::perms>(mode),
                               std::filesystem::perm_options::replace, error);
  if (!error) std::filesystem::rename(temporary, path, error);
  if (error) {
    return base::InternalError("failed to write " + path.string() + ": " +
                               error.message());
  }
  return base::OkStatus();
}

base::StatusOr<std::string> ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) return base::InternalError("failed to read " + path.string());
  return text.str();
}

// Checks that `pem` contains a certificate (or, with `is_key`, a private
// key).
base::Status CheckPem(const std::filesystem::path& path, const std::string& pem,
                      bool is_key) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  bool ok = false;
  if (bio && is_key) {
    Pkey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr),
             EVP_PKEY_free);
    ok = key != nullptr;
  } else if (bio) {
    Certificate certificate(
        PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
    ok = certificate != nullptr;
  }
  if (ok) return base::OkStatus();
  return base::FailedPreconditionError(
      path.string() + " does not contain a PEM " +
      (is_key ? "private key" : "certificate") +
      "; remove the certificate files to generate new ones");
}

base::StatusOr<ServingCertificates> GenerateServingCertificates(
    const std::filesystem::path& dir, base::Clock& clock,
    base::Random& random) {
  ASSIGN_OR_RETURN(Pkey ca_key, NewKey());
  ASSIGN_OR_RETURN(Certificate ca,
                   IssueCertificate("kubernetes", ca_key.get(), {},
                                    /*is_ca=*/true, clock, random));
  ASSIGN_OR_RETURN(Pkey server_key, NewKey());
  ASSIGN_OR_RETURN(Certificate server,
                   IssueCertificate("kube-apiserver", server_key.get(),
                                    {ca.get(), ca_key.get()}, /*is_ca=*/false,
                                    clock, random));

  ServingCertificates out;
  ASSIGN_OR_RETURN(out.ca_pem, CertificatePem(ca.get()));
  ASSIGN_OR_RETURN(out.certificate_pem, CertificatePem(server.get()));
  ASSIGN_OR_RETURN(out.private_key_pem, KeyPem(server_key.get()));
  ASSIGN_OR_RETURN(std::string ca_key_pem, KeyPem(ca_key.get()));

  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return base::InternalError("failed to create " + dir.string() + ": " +
                               error.message());
  }
  // The serving key goes last: its presence marks a complete set.
  RETURN_IF_ERROR(WriteFile(dir / "ca.key", ca_key_pem, 0600));
  RETURN_IF_ERROR(WriteFile(dir / "ca.crt", out.ca_pem, 0644));
  RETURN_IF_ERROR(WriteFile(dir / "apiserver.crt", out.certificate_pem, 0644));
  RETURN_IF_ERROR(WriteFile(dir / "apiserver.key", out.private_key_pem, 0600));
  spdlog::info("apiserver: generated a CA and a serving certificate in {}",
               dir.string());
  return out;
}

}  // namespace

base::StatusOr<std::pair<std::string, std::string>> GenerateSelfSignedCert(
    base::Clock& clock, base::Random& random) {
  // NOTE: the key pair comes from OpenSSL's own generator, not from
  // `random`, so a replay with the same seed gets a different certificate.
  ASSIGN_OR_RETURN(Pkey key, NewKey());
  ASSIGN_OR_RETURN(Certificate certificate,
                   IssueCertificate("kube-apiserver", key.get(), {},
                                    /*is_ca=*/true, clock, random));
  ASSIGN_OR_RETURN(std::string certificate_pem,
                   CertificatePem(certificate.get()));
  ASSIGN_OR_RETURN(std::string key_pem, KeyPem(key.get()));
  return std::pair(std::move(certificate_pem), std::move(key_pem));
}

base::StatusOr<ServingCertificates> LoadOrCreateServingCertificates(
    const std::string& dir, base::Clock& clock, base::Random& random) {
  const std::filesystem::path root(dir);
  const std::array<std::filesystem::path, 3> files = {
      root / "ca.crt", root / "apiserver.crt", root / "apiserver.key"};
  int present = 0;
  for (const auto& file : files) present += std::filesystem::exists(file);
  if (present == 0) return GenerateServingCertificates(root, clock, random);
  if (present != static_cast<int>(files.size())) {
    return base::FailedPreconditionError(
        "incomplete certificate files in " + dir +
        ": ca.crt, apiserver.crt and apiserver.key must all exist, or none "
        "of them to generate new ones");
  }

  ServingCertificates out;
  ASSIGN_OR_RETURN(out.ca_pem, ReadFile(files[0]));
  ASSIGN_OR_RETURN(out.certificate_pem, ReadFile(files[1]));
  ASSIGN_OR_RETURN(out.private_key_pem, ReadFile(files[2]));
  RETURN_IF_ERROR(CheckPem(files[0], out.ca_pem, /*is_key=*/false));
  RETURN_IF_ERROR(CheckPem(files[1], out.certificate_pem, /*is_key=*/false));
  RETURN_IF_ERROR(CheckPem(files[2], out.private_key_pem, /*is_key=*/true));
  return out;
}

}  // namespace apiserver
