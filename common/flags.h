// Command-line flags with environment fallbacks, bound to the fields of a config struct.
//
// Every flag `--some_name` falls back to the environment variable `SPOTGUARD_SOME_NAME`,
// then to any extra variables given with Env() (e.g. NODE_NAME from the downward API), then
// to the field's initial value — the struct's constant default. A flag on the command line
// wins over everything.
//
// Example:
//   struct Config { std::string node_name; absl::Duration poll_interval = absl::Seconds(1); };
//   Config cfg;
//   FlagSet flags("spotguard-agent", "Watches cloud eviction notices for one node.");
//   flags.Add("node_name", &cfg.node_name, "Kubernetes node name").Env("NODE_NAME");
//   flags.Add("poll_interval", &cfg.poll_interval, "How often to poll the metadata service");
//   auto outcome = flags.Parse(argc, argv);   // --help prints Usage() and returns kExit
//
// Not thread-safe; used once at start-up.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/strings/string_view.h"

namespace spotguard {

// Reads an environment variable; injectable for tests.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
EnvLookup ProcessEnv();

class FlagSet {
 public:
  class Flag {
   public:
    // Also read these environment variables (after SPOTGUARD_<NAME>).
    Flag& Env(std::string name) {
      envs_.push_back(std::move(name));
      return *this;
    }
    // Leave the value out of ResolvedConfig() (tokens, passwords).
    Flag& Secret() {
      secret_ = true;
      return *this;
    }

   private:
    friend class FlagSet;
    std::string name_, help_, type_, default_;
    std::vector<std::string> envs_;
    bool secret_ = false;
    bool is_bool_ = false;
    std::string source_ = "default";
    std::function<absl::Status(absl::string_view)> set_;
    std::function<std::string()> get_;
  };

  enum class Outcome { kRun, kExit };  // kExit: --help or --version was printed

  FlagSet(std::string program, std::string summary, std::string version = "");

  Flag& Add(std::string name, std::string* target, std::string help);
  Flag& Add(std::string name, bool* target, std::string help);
  Flag& Add(std::string name, int* target, std::string help);
  Flag& Add(std::string name, int64_t* target, std::string help);
  Flag& Add(std::string name, double* target, std::string help);
  Flag& Add(std::string name, absl::Duration* target, std::string help);
  // Comma-separated list.
  Flag& Add(std::string name, std::vector<std::string>* target, std::string help);

  // Applies the environment, then argv. Unknown flags, positional arguments and
  // unparseable values are errors naming the flag (and the variable, for env values).
  absl::StatusOr<Outcome> Parse(int argc, const char* const* argv, const EnvLookup& env = ProcessEnv());

  std::string Usage() const;
  // One JSON object {"flag": "value", ...} of the resolved configuration, secrets as "<redacted>".
  std::string ResolvedConfig() const;
  // Where a flag's value came from: "flag", "env:NAME" or "default".
  std::string SourceOf(absl::string_view name) const;

 private:
  Flag& AddFlag(std::string name, std::string help, std::string type,
                std::function<absl::Status(absl::string_view)> set, std::function<std::string()> get);
  Flag* Find(absl::string_view name);

  std::string program_, summary_, version_;
  std::vector<std::unique_ptr<Flag>> flags_;
};

}  // namespace spotguard
