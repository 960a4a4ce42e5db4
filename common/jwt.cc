#include "common/jwt.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace spotguard::jwt {

struct Key::Pkey {
  EVP_PKEY* key = nullptr;
  ~Pkey() { EVP_PKEY_free(key); }
};

namespace {

struct BnDeleter {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
struct ParamBldDeleter {
  void operator()(OSSL_PARAM_BLD* b) const { OSSL_PARAM_BLD_free(b); }
};
struct ParamDeleter {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct PkeyCtxDeleter {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct EcdsaSigDeleter {
  void operator()(ECDSA_SIG* s) const { ECDSA_SIG_free(s); }
};

// base64url without padding, as RFC 7515 writes it; anything else is refused.
bool Base64UrlDecode(absl::string_view in, std::string* out) {
  if (in.empty() || absl::StrContains(in, '=')) return false;
  for (char c : in) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
  }
  return absl::WebSafeBase64Unescape(in, out);
}

// An algorithm this file verifies: its digest, and for ECDSA its curve and coordinate size.
struct Algorithm {
  const char* name;
  const char* kty;
  const EVP_MD* (*md)();
  const char* crv;  // EC only
  size_t coordinate_bytes;
};

constexpr Algorithm kAlgorithms[] = {
    {"RS256", "RSA", EVP_sha256, "", 0},      {"RS384", "RSA", EVP_sha384, "", 0},
    {"RS512", "RSA", EVP_sha512, "", 0},      {"ES256", "EC", EVP_sha256, "P-256", 32},
    {"ES384", "EC", EVP_sha384, "P-384", 48}, {"ES512", "EC", EVP_sha512, "P-521", 66},
};

const Algorithm* FindAlgorithm(absl::string_view name) {
  for (const Algorithm& a : kAlgorithms) {
    if (name == a.name) return &a;
  }
  return nullptr;
}

size_t CoordinateBytes(absl::string_view crv) {
  for (const Algorithm& a : kAlgorithms) {
    if (a.coordinate_bytes > 0 && crv == a.crv) return a.coordinate_bytes;
  }
  return 0;
}

std::string StringField(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

EVP_PKEY* FromData(const char* type, OSSL_PARAM_BLD* bld) {
  std::unique_ptr<OSSL_PARAM, ParamDeleter> params(OSSL_PARAM_BLD_to_param(bld));
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) return nullptr;
  EVP_PKEY* key = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) return nullptr;
  return key;
}

EVP_PKEY* RsaKey(const Json& jwk) {
  std::string n, e;
  if (!Base64UrlDecode(StringField(jwk, "n"), &n) || !Base64UrlDecode(StringField(jwk, "e"), &e)) return nullptr;
  std::unique_ptr<BIGNUM, BnDeleter> bn_n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()), n.size(), nullptr));
  std::unique_ptr<BIGNUM, BnDeleter> bn_e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()), e.size(), nullptr));
  if (!bn_n || !bn_e || BN_num_bits(bn_n.get()) < 2048 || BN_is_zero(bn_e.get())) return nullptr;
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldDeleter> bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
    return nullptr;
  }
  return FromData("RSA", bld.get());
}

EVP_PKEY* EcKey(const Json& jwk, const std::string& crv) {
  const size_t size = CoordinateBytes(crv);
  std::string x, y;
  if (size == 0 || !Base64UrlDecode(StringField(jwk, "x"), &x) || !Base64UrlDecode(StringField(jwk, "y"), &y) ||
      x.size() != size || y.size() != size) {
    return nullptr;
  }
  std::string point = absl::StrCat("\x04", x, y);  // uncompressed SEC1 point
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldDeleter> bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, crv.c_str(), 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1) {
    return nullptr;
  }
  EVP_PKEY* key = FromData("EC", bld.get());
  if (key == nullptr) return nullptr;
  // The point must lie on the curve.
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter> check(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    EVP_PKEY_free(key);
    return nullptr;
  }
  return key;
}

// JOSE's ECDSA signature (R || S, fixed width) as the DER OpenSSL verifies.
std::string EcdsaDer(absl::string_view raw) {
  const size_t half = raw.size() / 2;
  std::unique_ptr<ECDSA_SIG, EcdsaSigDeleter> sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), half, nullptr);
  BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + half, half, nullptr);
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return "";
  }
  unsigned char* der = nullptr;
  const int len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0) return "";
  std::string out(reinterpret_cast<char*>(der), len);
  OPENSSL_free(der);
  return out;
}

}  // namespace

absl::StatusOr<Token> Parse(absl::string_view compact) {
  if (compact.size() > kMaxTokenBytes) return absl::InvalidArgumentError("token too long");
  std::vector<absl::string_view> parts = absl::StrSplit(compact, '.');
  if (parts.size() != 3) return absl::InvalidArgumentError("not a JWT: want three dot-separated parts");
  Token t;
  std::string header, payload;
  // An empty signature parses (alg "none" has one): Verify refuses it.
  if (!Base64UrlDecode(parts[0], &header) || !Base64UrlDecode(parts[1], &payload) ||
      (!parts[2].empty() && !Base64UrlDecode(parts[2], &t.signature))) {
    return absl::InvalidArgumentError("not a JWT: a part is not base64url");
  }
  t.header = Json::parse(header, nullptr, /*allow_exceptions=*/false);
  t.claims = Json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (!t.header.is_object() || !t.claims.is_object()) {
    return absl::InvalidArgumentError("not a JWT: header or payload is not a JSON object");
  }
  auto alg = t.header.find("alg");
  if (alg == t.header.end() || !alg->is_string()) return absl::InvalidArgumentError("JWT header has no alg");
  // RFC 7515 §4.1.11: extensions a recipient does not understand must fail; none is understood here.
  if (t.header.contains("crit")) return absl::InvalidArgumentError("JWT header lists critical extensions");
  t.alg = alg->get<std::string>();
  t.kid = StringField(t.header, "kid");
  t.signing_input = absl::StrCat(parts[0], ".", parts[1]);
  return t;
}

bool Key::Accepts(absl::string_view alg) const {
  const Algorithm* a = FindAlgorithm(alg);
  if (a == nullptr || kty_ != a->kty) return false;
  if (!alg_.empty() && alg_ != alg) return false;
  return a->coordinate_bytes == 0 || crv_ == a->crv;
}

bool Key::Verify(const Token& token) const {
  const Algorithm* a = FindAlgorithm(token.alg);
  if (a == nullptr || !Accepts(token.alg) || !pkey_) return false;
  std::string der;
  absl::string_view sig = token.signature;
  if (a->coordinate_bytes > 0) {
    if (sig.size() != 2 * a->coordinate_bytes) return false;
    der = EcdsaDer(sig);
    if (der.empty()) return false;
    sig = der;
  } else if (sig.size() != static_cast<size_t>(EVP_PKEY_get_size(pkey_->key))) {
    return false;
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, a->md(), nullptr, pkey_->key) != 1) return false;
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                          reinterpret_cast<const unsigned char*>(token.signing_input.data()),
                          token.signing_input.size()) == 1;
}

absl::StatusOr<KeySet> KeySet::Parse(const Json& jwks) {
  if (!jwks.is_object() || !jwks.contains("keys") || !jwks["keys"].is_array()) {
    return absl::InvalidArgumentError("not a JWK set: want an object with a keys array");
  }
  KeySet set;
  for (const Json& jwk : jwks["keys"]) {
    if (!jwk.is_object()) {
      ++set.skipped_;
      continue;
    }
    Key k;
    k.kid_ = StringField(jwk, "kid");
    k.alg_ = StringField(jwk, "alg");
    k.kty_ = StringField(jwk, "kty");
    k.crv_ = StringField(jwk, "crv");
    const std::string use = StringField(jwk, "use");
    EVP_PKEY* key = nullptr;
    if (use.empty() || use == "sig") {
      if (k.kty_ == "RSA") key = RsaKey(jwk);
      if (k.kty_ == "EC") key = EcKey(jwk, k.crv_);
    }
    if (key == nullptr || (!k.alg_.empty() && !k.Accepts(k.alg_))) {
      EVP_PKEY_free(key);
      ++set.skipped_;
      continue;
    }
    auto pkey = std::make_shared<Key::Pkey>();
    pkey->key = key;
    k.pkey_ = std::move(pkey);
    set.keys_.push_back(std::move(k));
  }
  return set;
}

bool KeySet::Has(absl::string_view kid) const {
  for (const Key& k : keys_) {
    if (k.kid() == kid) return true;
  }
  return false;
}

Signature Verify(const Token& token, const KeySet& keys) {
  if (FindAlgorithm(token.alg) == nullptr) return Signature::kUnsupportedAlgorithm;
  bool tried = false;
  for (const Key& k : keys.keys()) {
    if (token.kid.empty() ? !k.Accepts(token.alg) : k.kid() != token.kid) continue;
    tried = true;
    if (k.Verify(token)) return Signature::kValid;
  }
  return tried ? Signature::kInvalid : Signature::kUnknownKey;
}

absl::string_view SignatureName(Signature s) {
  switch (s) {
    case Signature::kValid: return "valid";
    case Signature::kUnsupportedAlgorithm: return "unsupported_algorithm";
    case Signature::kUnknownKey: return "unknown_key";
    case Signature::kInvalid: return "invalid";
  }
  return "invalid";
}

}  // namespace spotguard::jwt
