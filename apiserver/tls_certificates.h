// TLS material of the API server: a self-signed certificate for quick
// starts, and a CA with a serving certificate that persist in a data
// directory, as kube-apiserver's --cert-dir keeps them.
//
// Every key is ECDSA P-256 from OpenSSL's generator, and every certificate
// names the IP 127.0.0.1, the IP ::1 and the DNS name localhost, which is
// where the server listens in this project.
#ifndef APISERVER_TLS_CERTIFICATES_H_
#define APISERVER_TLS_CERTIFICATES_H_

#include <string>
#include <utility>

#include "base/clock.h"
#include "base/random.h"
#include "base/status.h"

namespace apiserver {

// Creates a self-signed certificate, usable as its own CA, valid from a day
// before clock.Now() for ten years. Returns the certificate and private key
// in PEM.
base::StatusOr<std::pair<std::string, std::string>> GenerateSelfSignedCert(
    base::Clock& clock, base::Random& random);

struct ServingCertificates {
  std::string ca_pem;           // the CA certificate that clients trust
  std::string certificate_pem;  // the server's, signed by the CA
  std::string private_key_pem;  // the server's key
};

// Loads <dir>/ca.crt, <dir>/apiserver.crt and <dir>/apiserver.key. When none
// of them exists (a first start), creates `dir` if needed, generates a CA
// ("CN=kubernetes", its key in <dir>/ca.key) and a serving certificate
// ("CN=kube-apiserver") signed by it, both valid from a day before
// clock.Now() for ten years, and writes the four files, keys with mode
// 0600. Fails with kFailedPrecondition when only some of the files exist
// or a file does not hold a PEM certificate or key, and with kInternal when
// a file cannot be written.
base::StatusOr<ServingCertificates> LoadOrCreateServingCertificates(
    const std::string& dir, base::Clock& clock, base::Random& random);

}  // namespace apiserver

#endif  // APISERVER_TLS_CERTIFICATES_H_
