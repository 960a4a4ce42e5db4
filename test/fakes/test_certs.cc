#include "test/fakes/test_certs.h"

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <cstdio>
#include <fstream>
#include <stdexcept>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace spotguard::testing {
namespace {

EVP_PKEY* NewKey() { return EVP_EC_gen("P-256"); }

std::string Pem(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, n);
  BIO_free(bio);
  return out;
}

std::string Pem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, n);
  BIO_free(bio);
  return out;
}

void AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) throw std::runtime_error("bad extension " + value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

X509* NewCert(const std::string& cn, EVP_PKEY* key, absl::Time not_before, absl::Time not_after) {
  static long serial = 1;
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), serial++);
  ASN1_TIME_set(X509_getm_notBefore(cert), absl::ToUnixSeconds(not_before));
  ASN1_TIME_set(X509_getm_notAfter(cert), absl::ToUnixSeconds(not_after));
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  return cert;
}

}  // namespace

struct TestCa::Impl {
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
};

TestCa::TestCa(const std::string& common_name) : impl_(new Impl) {
  impl_->key = NewKey();
  impl_->cert = NewCert(common_name, impl_->key, absl::Now() - absl::Hours(1), absl::Now() + absl::Hours(48));
  X509_set_issuer_name(impl_->cert, X509_get_subject_name(impl_->cert));
  AddExtension(impl_->cert, impl_->cert, NID_basic_constraints, "critical,CA:TRUE");
  AddExtension(impl_->cert, impl_->cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  AddExtension(impl_->cert, impl_->cert, NID_subject_key_identifier, "hash");
  X509_sign(impl_->cert, impl_->key, EVP_sha256());
  cert_pem_ = Pem(impl_->cert);
}

TestCa::~TestCa() {
  X509_free(impl_->cert);
  EVP_PKEY_free(impl_->key);
  delete impl_;
}

KeyPair TestCa::Issue(const std::string& common_name, const std::vector<std::string>& dns_names,
                      const IssueOptions& o) const {
  EVP_PKEY* key = NewKey();
  X509* cert = NewCert(common_name, key, o.not_before, o.not_after);
  X509_set_issuer_name(cert, X509_get_subject_name(impl_->cert));
  AddExtension(cert, impl_->cert, NID_basic_constraints, "critical,CA:FALSE");
  AddExtension(cert, impl_->cert, NID_key_usage, "critical,digitalSignature,keyEncipherment");
  std::vector<std::string> usages;
  if (o.server) usages.push_back("serverAuth");
  if (o.client) usages.push_back("clientAuth");
  if (!usages.empty()) AddExtension(cert, impl_->cert, NID_ext_key_usage, absl::StrJoin(usages, ","));
  std::vector<std::string> sans = {"IP:127.0.0.1"};
  for (const auto& d : dns_names) sans.push_back("DNS:" + d);
  AddExtension(cert, impl_->cert, NID_subject_alt_name, absl::StrJoin(sans, ","));
  AddExtension(cert, impl_->cert, NID_authority_key_identifier, "keyid:always");
  X509_sign(cert, impl_->key, EVP_sha256());
  KeyPair out{Pem(cert), Pem(key)};
  X509_free(cert);
  EVP_PKEY_free(key);
  return out;
}

tls::Files KeyPair::Write(const std::string& dir, const std::string& name, const TestCa& ca) const {
  tls::Files f{.cert_file = absl::StrCat(dir, "/", name, ".crt"), .key_file = absl::StrCat(dir, "/", name, ".key"),
               .ca_file = absl::StrCat(dir, "/", name, "-ca.crt")};
  WriteFile(f.cert_file, cert_pem);
  WriteFile(f.key_file, key_pem);
  WriteFile(f.ca_file, ca.cert_pem());
  return f;
}

void WriteFile(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << content;
  }
  std::rename(tmp.c_str(), path.c_str());  // a new inode, as a rotation makes
}

std::string MakeTempDir() {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string tmpl = absl::StrCat(base != nullptr ? base : "/tmp", "/spotguard-test-XXXXXX");
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  return tmpl;
}

}  // namespace spotguard::testing
