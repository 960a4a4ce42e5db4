#include "common/flags.h"

#include <cstdio>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"

namespace spotguard {

EnvLookup ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

namespace {

absl::Status BadValue(absl::string_view type, absl::string_view value) {
  return absl::InvalidArgumentError(absl::StrCat("want ", type, ", got '", value, "'"));
}

absl::Status ParseBool(absl::string_view v, bool* out) {
  std::string s = absl::AsciiStrToLower(v);
  if (s == "true" || s == "1" || s == "yes") {
    *out = true;
  } else if (s == "false" || s == "0" || s == "no") {
    *out = false;
  } else {
    return BadValue("true or false", v);
  }
  return absl::OkStatus();
}

}  // namespace

FlagSet::FlagSet(std::string program, std::string summary, std::string version)
    : program_(std::move(program)), summary_(std::move(summary)), version_(std::move(version)) {}

FlagSet::Flag& FlagSet::AddFlag(std::string name, std::string help, std::string type,
                                std::function<absl::Status(absl::string_view)> set,
                                std::function<std::string()> get) {
  auto flag = std::make_unique<Flag>();
  flag->envs_.push_back("SPOTGUARD_" + absl::AsciiStrToUpper(name));
  flag->name_ = std::move(name);
  flag->help_ = std::move(help);
  flag->type_ = std::move(type);
  flag->default_ = get();
  flag->set_ = std::move(set);
  flag->get_ = std::move(get);
  flags_.push_back(std::move(flag));
  return *flags_.back();
}

FlagSet::Flag& FlagSet::Add(std::string name, std::string* t, std::string help) {
  return AddFlag(std::move(name), std::move(help), "string",
                 [t](absl::string_view v) { *t = std::string(v); return absl::OkStatus(); },
                 [t] { return *t; });
}

FlagSet::Flag& FlagSet::Add(std::string name, bool* t, std::string help) {
  Flag& f = AddFlag(std::move(name), std::move(help), "bool",
                    [t](absl::string_view v) { return ParseBool(v, t); },
                    [t] { return std::string(*t ? "true" : "false"); });
  f.is_bool_ = true;
  return f;
}

FlagSet::Flag& FlagSet::Add(std::string name, int* t, std::string help) {
  return AddFlag(std::move(name), std::move(help), "int",
                 [t](absl::string_view v) {
                   return absl::SimpleAtoi(v, t) ? absl::OkStatus() : BadValue("an integer", v);
                 },
                 [t] { return absl::StrCat(*t); });
}

FlagSet::Flag& FlagSet::Add(std::string name, int64_t* t, std::string help) {
  return AddFlag(std::move(name), std::move(help), "int",
                 [t](absl::string_view v) {
                   return absl::SimpleAtoi(v, t) ? absl::OkStatus() : BadValue("an integer", v);
                 },
                 [t] { return absl::StrCat(*t); });
}

FlagSet::Flag& FlagSet::Add(std::string name, double* t, std::string help) {
  return AddFlag(std::move(name), std::move(help), "float",
                 [t](absl::string_view v) {
                   return absl::SimpleAtod(v, t) ? absl::OkStatus() : BadValue("a number", v);
                 },
                 [t] { return absl::StrCat(*t); });
}

FlagSet::Flag& FlagSet::Add(std::string name, absl::Duration* t, std::string help) {
  return AddFlag(std::move(name), std::move(help), "duration",
                 [t](absl::string_view v) {
                   return absl::ParseDuration(v, t)
                              ? absl::OkStatus()
                              : BadValue("a duration like 250ms, 5s or 2m", v);
                 },
                 [t] { return absl::FormatDuration(*t); });
}

FlagSet::Flag& FlagSet::Add(std::string name, std::vector<std::string>* t, std::string help) {
  return AddFlag(std::move(name), std::move(help), "list",
                 [t](absl::string_view v) {
                   *t = absl::StrSplit(v, ',', absl::SkipWhitespace());
                   for (auto& s : *t) s = std::string(absl::StripAsciiWhitespace(s));
                   return absl::OkStatus();
                 },
                 [t] { return absl::StrJoin(*t, ","); });
}

FlagSet::Flag* FlagSet::Find(absl::string_view name) {
  for (auto& f : flags_) {
    if (f->name_ == name) return f.get();
  }
  return nullptr;
}

absl::StatusOr<FlagSet::Outcome> FlagSet::Parse(int argc, const char* const* argv,
                                                const EnvLookup& env) {
  for (auto& f : flags_) {
    for (const std::string& var : f->envs_) {
      std::optional<std::string> v = env(var);
      if (!v.has_value() || v->empty()) continue;
      if (absl::Status s = f->set_(*v); !s.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("environment variable ", var, " (for --", f->name_, "): ", s.message()));
      }
      f->source_ = "env:" + var;
      break;
    }
  }
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h" || arg == "-help") {
      std::fputs(Usage().c_str(), stdout);
      return Outcome::kExit;
    }
    if (arg == "--version") {
      std::printf("%s %s\n", program_.c_str(), version_.c_str());
      return Outcome::kExit;
    }
    if (!absl::ConsumePrefix(&arg, "--") && !absl::ConsumePrefix(&arg, "-")) {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected argument '", arg, "' (flags look like --name=value; see --help)"));
    }
    absl::string_view name = arg, value;
    bool has_value = false;
    if (size_t eq = arg.find('='); eq != absl::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    Flag* f = Find(name);
    if (f == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name, " (see --help)"));
    }
    if (!has_value) {
      if (f->is_bool_) {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return absl::InvalidArgumentError(absl::StrCat("flag --", name, " needs a value"));
      }
    }
    if (absl::Status s = f->set_(value); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("flag --", name, ": ", s.message()));
    }
    f->source_ = "flag";
  }
  return Outcome::kRun;
}

std::string FlagSet::Usage() const {
  std::string out = absl::StrCat(program_, " ", version_, "\n", summary_, "\n\nUsage: ", program_,
                                 " [--flag=value ...]\n\nFlags (a flag wins over its environment "
                                 "variables, which win over the default):\n");
  for (const auto& f : flags_) {
    absl::StrAppend(&out, "  --", f->name_, " ", f->type_, "\n      ", f->help_, "\n      env ",
                    absl::StrJoin(f->envs_, ", "), "; default ",
                    f->secret_ ? std::string("<none>") : absl::StrCat("\"", f->default_, "\""),
                    "\n");
  }
  absl::StrAppend(&out, "  --help      print this and exit\n  --version   print the version and exit\n");
  return out;
}

std::string FlagSet::ResolvedConfig() const {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (const auto& f : flags_) {
    j[f->name_] = f->secret_ && !f->get_().empty() ? "<redacted>" : f->get_();
  }
  return j.dump();
}

std::string FlagSet::SourceOf(absl::string_view name) const {
  for (const auto& f : flags_) {
    if (f->name_ == name) return f->source_;
  }
  return "";
}

}  // namespace spotguard
