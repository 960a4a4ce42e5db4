#include "common/jwt.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "test/fakes/token_signer.h"

namespace spotguard::jwt {
namespace {

using testing::TokenSigner;
using testing::UnsignedJwt;

const Json kClaims = {{"iss", "https://issuer.example"}, {"sub", "someone"}, {"exp", 1'800'000'300}};

KeySet Keys(const std::vector<Json>& jwks) {
  auto set = KeySet::Parse({{"keys", jwks}});
  EXPECT_TRUE(set.ok()) << set.status();
  return set.ok() ? *set : KeySet();
}

Signature Check(const std::string& compact, const KeySet& keys) {
  auto t = Parse(compact);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? Verify(*t, keys) : Signature::kInvalid;
}

// Verifies RS256 and ES256 signatures verify with their issuer's keys and the claims come through.
TEST(JwtTest, ValidSignatures) {
  auto rsa = TokenSigner::Generate(TokenSigner::Alg::kRS256, "rsa-1");
  auto ec = TokenSigner::Generate(TokenSigner::Alg::kES256, "ec-1");
  KeySet keys = Keys({rsa->Jwk(), ec->Jwk()});
  ASSERT_EQ(keys.keys().size(), 2u);
  EXPECT_EQ(keys.skipped(), 0);
  for (const std::string& token : {rsa->Sign(kClaims), ec->Sign(kClaims)}) {
    auto t = Parse(token);
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_EQ(t->claims, kClaims);
    EXPECT_EQ(Verify(*t, keys), Signature::kValid) << t->alg;
  }
  EXPECT_TRUE(keys.Has("ec-1"));
  EXPECT_FALSE(keys.Has("ec-2"));
}

// Verifies a token signed by another key under a known kid, or altered after signing, is invalid.
TEST(JwtTest, ForgedAndTamperedTokens) {
  auto issuer = TokenSigner::Generate(TokenSigner::Alg::kRS256, "k1");
  auto forger = TokenSigner::Generate(TokenSigner::Alg::kRS256, "k1");
  auto ec_issuer = TokenSigner::Generate(TokenSigner::Alg::kES256, "e1");
  auto ec_forger = TokenSigner::Generate(TokenSigner::Alg::kES256, "e1");
  KeySet keys = Keys({issuer->Jwk(), ec_issuer->Jwk()});
  EXPECT_EQ(Check(forger->Sign(kClaims), keys), Signature::kInvalid);
  EXPECT_EQ(Check(ec_forger->Sign(kClaims), keys), Signature::kInvalid);
  std::vector<std::string> parts = absl::StrSplit(issuer->Sign(kClaims), '.');
  Json more = kClaims;
  more["sub"] = "someone-else";
  EXPECT_EQ(Check(absl::StrCat(parts[0], ".", absl::WebSafeBase64Escape(more.dump()), ".", parts[2]), keys),
            Signature::kInvalid);
  // An RSA kid with an ECDSA alg: the key does not accept it.
  EXPECT_EQ(Check(ec_forger->Sign(kClaims, {{"kid", "k1"}}), keys), Signature::kInvalid);
}

// Verifies a kid the set does not hold is unknown, and a token without a kid is tried
// against every key of its type.
TEST(JwtTest, KeySelection) {
  auto a = TokenSigner::Generate(TokenSigner::Alg::kRS256, "a");
  auto b = TokenSigner::Generate(TokenSigner::Alg::kRS256, "b");
  KeySet keys = Keys({a->Jwk(), b->Jwk()});
  EXPECT_EQ(Check(a->Sign(kClaims, {{"kid", "c"}}), keys), Signature::kUnknownKey);
  EXPECT_EQ(Check(b->Sign(kClaims, {{"kid", nullptr}}), keys), Signature::kValid);
  auto ec = TokenSigner::Generate(TokenSigner::Alg::kES256, "");
  EXPECT_EQ(Check(ec->Sign(kClaims, {{"kid", nullptr}}), keys), Signature::kUnknownKey);
}

// Verifies "none" and HMAC are never accepted — not even an HS256 made with the public key
// as its secret.
TEST(JwtTest, NoneAndHmacRefused) {
  auto rsa = TokenSigner::Generate(TokenSigner::Alg::kRS256, "k1");
  KeySet keys = Keys({rsa->Jwk()});
  EXPECT_EQ(Check(UnsignedJwt({{"alg", "none"}, {"kid", "k1"}}, kClaims, ""), keys), Signature::kUnsupportedAlgorithm);
  EXPECT_EQ(Check(UnsignedJwt({{"alg", "HS256"}, {"kid", "k1"}}, kClaims, std::string(32, 'x')), keys),
            Signature::kUnsupportedAlgorithm);
  EXPECT_EQ(Check(UnsignedJwt({{"alg", "PS256"}, {"kid", "k1"}}, kClaims, std::string(256, 'x')), keys),
            Signature::kUnsupportedAlgorithm);
  EXPECT_EQ(Check(UnsignedJwt({{"alg", "RS256"}, {"kid", "k1"}}, kClaims, ""), keys), Signature::kInvalid);
}

// Verifies what is not a compact JWS with JSON objects is refused before any key is looked at.
TEST(JwtTest, Malformed) {
  auto rsa = TokenSigner::Generate(TokenSigner::Alg::kRS256, "k1");
  const std::string good = rsa->Sign(kClaims);
  std::vector<std::string> parts = absl::StrSplit(good, '.');
  for (const std::string& bad :
       {std::string("not-a-jwt"), std::string("a.b"), absl::StrCat(good, ".x"), absl::StrCat("!!.", parts[1], ".", parts[2]),
        absl::StrCat(parts[0], "=.", parts[1], ".", parts[2]),  // padding
        absl::StrCat(absl::WebSafeBase64Escape("[1]"), ".", parts[1], ".", parts[2]),
        absl::StrCat(parts[0], ".", absl::WebSafeBase64Escape("\"str\""), ".", parts[2]),
        absl::StrCat(absl::WebSafeBase64Escape(R"({"kid":"k1"})"), ".", parts[1], ".", parts[2]),
        absl::StrCat(parts[0], ".", parts[1], ".!"), std::string(kMaxTokenBytes + 1, 'a')}) {
    EXPECT_FALSE(Parse(bad).ok()) << bad.substr(0, 80);
  }
  EXPECT_FALSE(Parse(rsa->Sign(kClaims, {{"crit", {"b64"}}, {"b64", false}})).ok());
  EXPECT_TRUE(Parse(good).ok());
}

// Verifies keys that cannot be used are skipped, not fatal, and a document that is no key set is an error.
TEST(JwtTest, KeySetSkipsUnusableKeys) {
  auto rsa = TokenSigner::Generate(TokenSigner::Alg::kRS256, "ok");
  auto ec = TokenSigner::Generate(TokenSigner::Alg::kES256, "ec");
  Json enc = rsa->Jwk();
  enc["kid"] = "enc";
  enc["use"] = "enc";
  Json off_curve = ec->Jwk();
  off_curve["kid"] = "off";
  std::string y;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(off_curve["y"].get<std::string>(), &y));
  y[31] ^= 1;
  off_curve["y"] = absl::WebSafeBase64Escape(y);
  Json small = {{"kty", "RSA"}, {"kid", "small"}, {"n", absl::WebSafeBase64Escape(std::string(128, '\xff'))}, {"e", "AQAB"}};
  Json wrong_alg = rsa->Jwk();
  wrong_alg["kid"] = "wrong-alg";
  wrong_alg["alg"] = "ES256";
  KeySet keys = Keys({rsa->Jwk(), enc, off_curve, small, wrong_alg, {{"kty", "oct"}, {"k", "c2VjcmV0"}}, "junk"});
  ASSERT_EQ(keys.keys().size(), 1u);
  EXPECT_EQ(keys.keys()[0].kid(), "ok");
  EXPECT_EQ(keys.skipped(), 6);
  EXPECT_FALSE(KeySet::Parse(Json::array()).ok());
  EXPECT_FALSE(KeySet::Parse({{"keys", "x"}}).ok());
}

}  // namespace
}  // namespace spotguard::jwt
