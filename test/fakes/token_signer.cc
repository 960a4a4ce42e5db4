#include "test/fakes/token_signer.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace spotguard::testing {

struct TokenSigner::Pkey {
  EVP_PKEY* key = nullptr;
  ~Pkey() { EVP_PKEY_free(key); }
};

namespace {

std::string B64(absl::string_view s) { return absl::WebSafeBase64Escape(s); }  // unpadded

std::string BnParam(EVP_PKEY* key, const char* name, size_t width) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) return "";
  std::string out(width > 0 ? width : BN_num_bytes(bn), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), out.size());
  BN_free(bn);
  return out;
}

}  // namespace

TokenSigner::TokenSigner(std::unique_ptr<Pkey> key, Alg alg, std::string kid)
    : key_(std::move(key)), alg_(alg), kid_(std::move(kid)) {}

TokenSigner::~TokenSigner() = default;

std::unique_ptr<TokenSigner> TokenSigner::Generate(Alg alg, std::string kid) {
  auto key = std::make_unique<Pkey>();
  key->key = alg == Alg::kRS256 ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
  if (key->key == nullptr) return nullptr;
  return std::unique_ptr<TokenSigner>(new TokenSigner(std::move(key), alg, std::move(kid)));
}

absl::StatusOr<std::unique_ptr<TokenSigner>> TokenSigner::FromPem(const std::string& pem, std::string kid) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  auto key = std::make_unique<Pkey>();
  key->key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (key->key == nullptr) return absl::InvalidArgumentError("not a PEM private key");
  Alg alg = EVP_PKEY_is_a(key->key, "RSA") ? Alg::kRS256 : Alg::kES256;
  return std::unique_ptr<TokenSigner>(new TokenSigner(std::move(key), alg, std::move(kid)));
}

nlohmann::json TokenSigner::Jwk() const {
  if (alg_ == Alg::kRS256) {
    return {{"kty", "RSA"}, {"use", "sig"}, {"alg", "RS256"}, {"kid", kid_},
            {"n", B64(BnParam(key_->key, OSSL_PKEY_PARAM_RSA_N, 0))},
            {"e", B64(BnParam(key_->key, OSSL_PKEY_PARAM_RSA_E, 0))}};
  }
  return {{"kty", "EC"}, {"use", "sig"}, {"alg", "ES256"}, {"kid", kid_}, {"crv", "P-256"},
          {"x", B64(BnParam(key_->key, OSSL_PKEY_PARAM_EC_PUB_X, 32))},
          {"y", B64(BnParam(key_->key, OSSL_PKEY_PARAM_EC_PUB_Y, 32))}};
}

std::string TokenSigner::Sign(const nlohmann::json& claims, const nlohmann::json& header) const {
  nlohmann::json h = {{"alg", alg_ == Alg::kRS256 ? "RS256" : "ES256"}, {"kid", kid_}, {"typ", "JWT"}};
  for (const auto& [k, v] : header.items()) h[k] = v;
  const std::string input = absl::StrCat(B64(h.dump()), ".", B64(claims.dump()));
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t len = 0;
  std::string sig;
  if (EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key_->key) == 1 &&
      EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1) {
    sig.resize(len);
    if (EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
      len = 0;
    }
    sig.resize(len);
  }
  EVP_MD_CTX_free(ctx);
  if (alg_ == Alg::kES256 && !sig.empty()) {  // DER → R || S, 32 bytes each, as JOSE wants
    const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* ec = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    std::string raw(64, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(ec), reinterpret_cast<unsigned char*>(raw.data()), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(ec), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
    ECDSA_SIG_free(ec);
    sig = raw;
  }
  return absl::StrCat(input, ".", B64(sig));
}

nlohmann::json PodTokenClaims(const PodTokenSpec& s) {
  const int64_t iat = absl::ToUnixSeconds(s.issued);
  nlohmann::json k8s = {{"namespace", s.namespace_},
                        {"serviceaccount", {{"name", s.service_account}, {"uid", "uid-sa-" + s.service_account}}},
                        {"pod", {{"name", s.pod}, {"uid", s.pod_uid}}}};
  if (!s.node.empty()) k8s["node"] = {{"name", s.node}, {"uid", "uid-node-" + s.node}};
  return {{"iss", s.issuer},
          {"aud", s.audiences},
          {"sub", absl::StrCat("system:serviceaccount:", s.namespace_, ":", s.service_account)},
          {"iat", iat},
          {"nbf", iat},
          {"exp", iat + absl::ToInt64Seconds(s.lifetime)},
          {"jti", absl::StrCat("jti-", s.pod, "-", iat)},
          {"kubernetes.io", k8s}};
}

std::string UnsignedJwt(const nlohmann::json& header, const nlohmann::json& claims, const std::string& signature) {
  return absl::StrCat(B64(header.dump()), ".", B64(claims.dump()), ".", B64(signature));
}

}  // namespace spotguard::testing
