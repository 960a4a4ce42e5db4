#include "common/tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "common/file.h"
#include "common/log.h"

namespace spotguard::tls {
namespace {

struct FreeX509 {
  void operator()(X509* x) const { X509_free(x); }
};
struct FreeKey {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct FreeStore {
  void operator()(X509_STORE* s) const { X509_STORE_free(s); }
};
struct FreeBio {
  void operator()(BIO* b) const { BIO_free(b); }
};
using X509Ptr = std::unique_ptr<X509, FreeX509>;

std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "no PEM data";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  return buf;
}

absl::StatusOr<std::vector<X509Ptr>> Certificates(const std::string& path) {
  auto pem = ReadFile(path);
  if (!pem.ok()) return pem.status();
  std::unique_ptr<BIO, FreeBio> bio(BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size())));
  std::vector<X509Ptr> out;
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out.emplace_back(x);
  ERR_clear_error();  // the read that ends the loop leaves "no start line"
  if (out.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no PEM certificate"));
  return out;
}

// The identity of a file's current content, as far as rotation goes (the kubelet swaps a
// symlink, cert-manager's writers replace the file: either changes one of these).
std::string Signature(const std::string& path) {
  if (path.empty()) return "";
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return "missing";
  return absl::StrCat(st.st_ino, "/", st.st_size, "/", st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec);
}

}  // namespace

struct ServerContext::Material {
  X509Ptr leaf;
  STACK_OF(X509)* chain = nullptr;
  std::unique_ptr<EVP_PKEY, FreeKey> key;
  std::unique_ptr<X509_STORE, FreeStore> ca;
  std::string signature;
  ~Material() { sk_X509_pop_free(chain, X509_free); }
};

namespace {

std::string FilesSignature(const Files& f) {
  return absl::StrCat(Signature(f.cert_file), "|", Signature(f.key_file), "|", Signature(f.ca_file));
}

absl::StatusOr<std::shared_ptr<const ServerContext::Material>> Load(const Files& f) {
  auto m = std::make_shared<ServerContext::Material>();
  m->signature = FilesSignature(f);
  if (f.cert_file.empty() || f.key_file.empty()) {
    return absl::InvalidArgumentError("a TLS certificate file and key file are both required");
  }
  auto certs = Certificates(f.cert_file);
  if (!certs.ok()) return certs.status();
  m->leaf = std::move((*certs)[0]);
  m->chain = sk_X509_new_null();
  for (size_t i = 1; i < certs->size(); ++i) sk_X509_push(m->chain, (*certs)[i].release());
  auto key_pem = ReadFile(f.key_file);
  if (!key_pem.ok()) return key_pem.status();
  std::unique_ptr<BIO, FreeBio> bio(BIO_new_mem_buf(key_pem->data(), static_cast<int>(key_pem->size())));
  m->key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!m->key) return absl::InvalidArgumentError(absl::StrCat(f.key_file, ": no PEM private key (", OpenSslError(), ")"));
  if (X509_check_private_key(m->leaf.get(), m->key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat(f.key_file, " is not the key of the certificate in ", f.cert_file));
  }
  if (!f.ca_file.empty()) {
    auto cas = Certificates(f.ca_file);
    if (!cas.ok()) return cas.status();
    m->ca.reset(X509_STORE_new());
    for (auto& c : *cas) X509_STORE_add_cert(m->ca.get(), c.get());
  }
  return std::shared_ptr<const ServerContext::Material>(std::move(m));
}

}  // namespace

absl::Status Check(const Files& files) {
  if (files.cert_file.empty() && files.key_file.empty()) {
    if (files.ca_file.empty()) return absl::OkStatus();
    return Certificates(files.ca_file).status();
  }
  return Load(files).status();
}

absl::StatusOr<std::shared_ptr<ServerContext>> ServerContext::Create(Files files, Clock& clock,
                                                                     absl::Duration recheck) {
  auto material = Load(files);
  if (!material.ok()) return material.status();
  return std::shared_ptr<ServerContext>(new ServerContext(std::move(files), clock, recheck, std::move(*material)));
}

ServerContext::ServerContext(Files files, Clock& clock, absl::Duration recheck,
                             std::shared_ptr<const Material> material)
    : files_(std::move(files)), clock_(clock), recheck_(recheck), material_(std::move(material)),
      checked_(clock.Now()) {}

ServerContext::~ServerContext() = default;

int ServerContext::reloads() const {
  absl::MutexLock lock(&mu_);
  return reloads_;
}

std::shared_ptr<const ServerContext::Material> ServerContext::Current() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_.Now();
  if (now - checked_ < recheck_) return material_;
  checked_ = now;
  if (FilesSignature(files_) == material_->signature) return material_;
  auto loaded = Load(files_);
  if (!loaded.ok()) {
    log::Warn("TLS files changed but do not load; serving the previous certificate",
              {{"cert_file", files_.cert_file}, {"error", loaded.status()}});
    return material_;
  }
  material_ = std::move(*loaded);
  ++reloads_;
  log::Info("TLS certificate reloaded", {{"cert_file", files_.cert_file}});
  return material_;
}

int ServerContext::SelectCertificate(SSL* ssl, void* arg) {
  auto* self = static_cast<ServerContext*>(arg);
  std::shared_ptr<const Material> m = self->Current();
  // SSL_use_cert_and_key takes its own references: the material may be replaced afterwards.
  if (SSL_use_cert_and_key(ssl, m->leaf.get(), m->key.get(), m->chain, /*override=*/1) != 1) return 0;
  if (m->ca && SSL_set1_verify_cert_store(ssl, m->ca.get()) != 1) return 0;
  return 1;
}

void ServerContext::Info(const SSL* ssl, int where, int ret) {
  if (!(where & SSL_CB_ALERT) || !(where & SSL_CB_WRITE)) return;
  if (std::string_view(SSL_alert_type_string(ret)) != "F") return;  // fatal only
  auto* self = static_cast<ServerContext*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  if (self == nullptr || !self->on_alert_) return;
  // OpenSSL 3.0 names TLS 1.3's certificate_required (116) "unknown".
  self->on_alert_((ret & 0xff) == 116 ? "certificate required" : SSL_alert_desc_string_long(ret));
}

bool ServerContext::Configure(SSL_CTX& ctx) {
  SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(&ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION |
                                SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_app_data(&ctx, this);
  SSL_CTX_set_cert_cb(&ctx, &ServerContext::SelectCertificate, this);
  SSL_CTX_set_info_callback(&ctx, &ServerContext::Info);
  SSL_CTX_set_verify(&ctx, requires_client_certificate() ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
                                                        : SSL_VERIFY_NONE,
                     nullptr);
  return true;
}

}  // namespace spotguard::tls
