// JSON Web Tokens (RFC 7519) in JWS compact form, and the JSON Web Key sets (RFC 7517) that
// verify their signatures — what an OpenID Connect issuer, such as the Kubernetes API
// server's service-account issuer, publishes at its jwks_uri.
//
// Only asymmetric signatures verify: RS256/RS384/RS512 (RSA PKCS#1 v1.5, keys of at least
// 2048 bits) and ES256/ES384/ES512 (ECDSA on P-256/P-384/P-521). "none" and HMAC (HS*)
// never do, so a public key can never be used as a shared secret. This file checks
// signatures only; what the claims must say is the caller's business. OpenSSL does the
// cryptography.
//
// Example:
//   auto keys = jwt::KeySet::Parse(jwks_json);      // {"keys": [{"kty": "RSA", ...}]}
//   auto token = jwt::Parse(bearer_token);
//   if (token.ok() && jwt::Verify(*token, *keys) == jwt::Signature::kValid) ... token->claims ...
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace spotguard::jwt {

using Json = nlohmann::json;

// Tokens longer than this are refused unparsed (a projected ServiceAccount token is ~1.5 KB).
inline constexpr size_t kMaxTokenBytes = 16 * 1024;

struct Token {
  Json header;                // an object; "alg" is a string
  Json claims;                // an object
  std::string alg, kid;       // from the header ("" when absent)
  std::string signing_input;  // base64url(header) "." base64url(claims), as signed
  std::string signature;      // decoded
};

// Splits and decodes a compact JWS whose header and payload are JSON objects. Any other
// shape, and a header with "crit" (no extension is understood here), is InvalidArgument. The
// signature is not checked here.
absl::StatusOr<Token> Parse(absl::string_view compact);

// A public key of a key set.
class Key {
 public:
  const std::string& kid() const { return kid_; }
  const std::string& alg() const { return alg_; }  // "" when the key does not name one
  // Whether this key may check a signature made with `alg` (its type, curve and own alg agree).
  bool Accepts(absl::string_view alg) const;
  // Whether `token`'s signature over its signing input verifies with this key.
  bool Verify(const Token& token) const;

 private:
  friend class KeySet;
  struct Pkey;
  std::string kid_, alg_, kty_, crv_;
  std::shared_ptr<const Pkey> pkey_;
};

class KeySet {
 public:
  // Reads {"keys": [...]}. Keys this file cannot use (unknown kty or curve, "use" other than
  // "sig", RSA under 2048 bits, a point off its curve) are skipped and counted in skipped();
  // a document that is not a key set is InvalidArgument.
  static absl::StatusOr<KeySet> Parse(const Json& jwks);

  const std::vector<Key>& keys() const { return keys_; }
  int skipped() const { return skipped_; }
  bool Has(absl::string_view kid) const;

 private:
  std::vector<Key> keys_;
  int skipped_ = 0;
};

enum class Signature {
  kValid,
  kUnsupportedAlgorithm,  // none, HS*, or an algorithm not listed above
  kUnknownKey,            // no key with the token's kid (or, without a kid, none for its alg)
  kInvalid,               // a key was found and the signature does not verify with it
};

// Verifies `token` with the key its kid names; a token without a kid is tried against every
// key accepting its alg.
Signature Verify(const Token& token, const KeySet& keys);

absl::string_view SignatureName(Signature s);

}  // namespace spotguard::jwt
