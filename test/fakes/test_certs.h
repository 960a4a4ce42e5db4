// Certificates for tests: a CA made in memory and the key pairs it issues, written as the
// PEM files spotguard reads (EC P-256, quick to make).
//
// Example:
//   TestCa ca;
//   tls::Files server = ca.Issue("spotguard-extender", {"localhost"}).Write(dir, "server", ca);
#pragma once

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/tls.h"

namespace spotguard::testing {

class TestCa;

struct KeyPair {
  std::string cert_pem;  // the leaf only
  std::string key_pem;
  // Writes DIR/NAME.crt, DIR/NAME.key and DIR/NAME-ca.crt (`ca`'s certificate).
  tls::Files Write(const std::string& dir, const std::string& name, const TestCa& ca) const;
};

struct IssueOptions {
  bool server = true;  // extendedKeyUsage serverAuth
  bool client = true;  // extendedKeyUsage clientAuth
  absl::Time not_before = absl::Now() - absl::Hours(1);
  absl::Time not_after = absl::Now() + absl::Hours(24);
};

class TestCa {
 public:
  explicit TestCa(const std::string& common_name = "spotguard-test-ca");
  ~TestCa();
  TestCa(const TestCa&) = delete;
  TestCa& operator=(const TestCa&) = delete;

  // A certificate for `common_name` with `dns_names` (and 127.0.0.1) as subject alt names.
  KeyPair Issue(const std::string& common_name, const std::vector<std::string>& dns_names = {"localhost"},
                const IssueOptions& options = {}) const;
  const std::string& cert_pem() const { return cert_pem_; }

 private:
  struct Impl;
  Impl* impl_;
  std::string cert_pem_;
};

// Writes `content` to `path` (replacing it).
void WriteFile(const std::string& path, const std::string& content);
// A fresh directory under TEST_TMPDIR or /tmp.
std::string MakeTempDir();

}  // namespace spotguard::testing
