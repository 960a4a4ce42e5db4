// Signs JWTs the way a service-account issuer does, for tests: a key pair made here (RS256,
// ES256) or read from PEM (the e2e control plane's pki/sa.key), and the public half as a JWK.
//
// Example:
//   auto signer = TokenSigner::Generate(TokenSigner::Alg::kRS256, "key-1");
//   api.Put("/openid/v1/jwks", {{"keys", {signer->Jwk()}}});
//   std::string token = signer->Sign({{"iss", "https://issuer"}, {"exp", 1'800'000'300}});
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace spotguard::testing {

class TokenSigner {
 public:
  enum class Alg { kRS256, kES256 };
  using Json = nlohmann::json;

  static std::unique_ptr<TokenSigner> Generate(Alg alg, std::string kid);
  // An RSA (RS256) or P-256 (ES256) private key in PEM.
  static absl::StatusOr<std::unique_ptr<TokenSigner>> FromPem(const std::string& pem, std::string kid);
  ~TokenSigner();

  const std::string& kid() const { return kid_; }
  // The public key, as a JWK set lists it (with kid, alg and use).
  Json Jwk() const;
  // A compact JWS of `claims`; entries of `header` are added to (or replace) alg, kid and typ.
  std::string Sign(const Json& claims, const Json& header = Json::object()) const;

 private:
  struct Pkey;
  TokenSigner(std::unique_ptr<Pkey> key, Alg alg, std::string kid);
  std::unique_ptr<Pkey> key_;
  Alg alg_;
  std::string kid_;
};

// The claims the API server puts into a projected ServiceAccount token bound to a pod.
struct PodTokenSpec {
  std::string issuer = "https://kubernetes.default.svc.cluster.local";
  std::vector<std::string> audiences = {"spotguard"};
  std::string namespace_ = "spotguard-system";
  std::string service_account = "spotguard-agent";
  std::string pod = "agent-n1", pod_uid = "uid-agent-n1";
  std::string node = "n1";  // "": no node claim (API servers before 1.30)
  absl::Time issued = absl::FromUnixSeconds(1'800'000'000);
  absl::Duration lifetime = absl::Hours(1);
};
nlohmann::json PodTokenClaims(const PodTokenSpec& spec);

// base64url(header) "." base64url(claims) "." base64url(signature), nothing signed: for alg
// "none", HS256 and other tokens no honest issuer makes.
std::string UnsignedJwt(const nlohmann::json& header, const nlohmann::json& claims, const std::string& signature = "");

}  // namespace spotguard::testing
