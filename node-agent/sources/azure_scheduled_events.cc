#include "node-agent/sources/azure_scheduled_events.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/log.h"
#include "node-agent/sources/payload.h"

namespace spotguard::agent::sources {
namespace {

const HttpHeaders kMetadataHeader = {{"Metadata", "true"}};

// A stale document this many times in a row becomes the new baseline (the service restarted).
constexpr int kStaleDocumentsTolerated = 3;


}  // namespace

std::string AzureVmNameFromProviderId(absl::string_view id) {
  std::vector<absl::string_view> parts = absl::StrSplit(id, '/', absl::SkipEmpty());
  std::string vmss, vm;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    if (absl::EqualsIgnoreCase(parts[i], "virtualMachineScaleSets")) vmss = std::string(parts[i + 1]);
    if (absl::EqualsIgnoreCase(parts[i], "virtualMachines")) vm = std::string(parts[i + 1]);
  }
  if (vm.empty()) return "";
  return vmss.empty() ? vm : absl::StrCat(vmss, "_", vm);
}

AzureScheduledEvents::AzureScheduledEvents(std::shared_ptr<HttpClient> http, Clock& clock, AzureOptions options)
    : http_(std::move(http)), clock_(clock), options_(std::move(options)) {}

absl::Status AzureScheduledEvents::ResolveVmName() {
  auto res = http_->Send({.path = "/metadata/instance/compute/name?api-version=2021-02-01&format=text",
                          .headers = kMetadataHeader,
                          .timeout = options_.timeout,
                          .max_response_bytes = 4096});
  if (!res.ok()) return TransportError(res.status(), "Azure IMDS compute name");
  if (res->status != 200) return HttpStatusError(res->status, res->Header("Retry-After"), "Azure IMDS compute name");
  std::string name(absl::StripAsciiWhitespace(res->body));
  if (name.empty()) return PollError("malformed", "Azure IMDS compute name is empty");
  options_.vm_name = name;
  log::Info("Azure VM name from IMDS", {{"vm_name", name}});
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Notice>> AzureScheduledEvents::Poll() {
  if (options_.vm_name.empty()) {
    if (absl::Status s = ResolveVmName(); !s.ok()) return s;
  }
  auto res = http_->Send({.path = kPath,
                          .headers = kMetadataHeader,
                          .timeout = first_call_done_ ? options_.timeout : options_.first_call_timeout,
                          .max_response_bytes = kMaxPayloadBytes});
  if (!res.ok()) return TransportError(res.status(), "Azure Scheduled Events");
  if (res->status != 200) return HttpStatusError(res->status, res->Header("Retry-After"), "Azure Scheduled Events");
  first_call_done_ = true;
  auto doc = ParseJson(res->body, "Azure Scheduled Events");
  if (!doc.ok()) return doc.status();
  if (!doc->is_object()) return PollError("malformed", "Azure Scheduled Events: document is not a JSON object");
  auto inc = doc->find("DocumentIncarnation");
  auto events = doc->find("Events");
  if (inc == doc->end() || !inc->is_number_integer()) {
    return PollError("malformed", "Azure Scheduled Events: DocumentIncarnation missing or not an integer");
  }
  if (events == doc->end() || !events->is_array()) {
    return PollError("malformed", "Azure Scheduled Events: Events missing or not an array");
  }
  const int64_t incarnation = inc->get<int64_t>();
  if (incarnation < incarnation_ && ++stale_documents_ <= kStaleDocumentsTolerated) {
    // An older document than one already seen: do not let it withdraw anything.
    return PollError("stale", absl::StrCat("Azure Scheduled Events: DocumentIncarnation went back from ", incarnation_,
                                           " to ", incarnation, "; ignoring this document"));
  }
  if (incarnation < incarnation_) {
    log::Warn("Azure Scheduled Events: accepting a lower DocumentIncarnation as the new baseline",
              {{"previous", incarnation_}, {"now", incarnation}});
  }
  stale_documents_ = 0;
  incarnation_ = incarnation;

  const absl::Time now = clock_.Now();
  std::vector<Notice> out;
  absl::flat_hash_set<std::string> seen;
  for (const Json& e : *events) {
    auto id = StringField(e, "EventId");
    auto type = StringField(e, "EventType");
    if (!id.has_value() || id->empty() || !type.has_value()) {
      Problem("missing_field", absl::StrCat("Azure event without a string EventId or EventType: ", e.dump().substr(0, 200)));
      continue;
    }
    auto resources = e.is_object() ? e.find("Resources") : e.end();
    if (!e.is_object() || resources == e.end() || !resources->is_array()) {
      Problem("missing_field", absl::StrCat("Azure event ", *id, " has no Resources array"));
      continue;
    }
    bool ours = false;
    for (const Json& r : *resources) {
      if (r.is_string() && absl::EqualsIgnoreCase(r.get<std::string>(), options_.vm_name)) ours = true;
    }
    if (!ours) continue;  // another VM of the placement group
    if (!seen.insert(*id).second) {
      Problem("duplicate_id", absl::StrCat("Azure event ", *id, " appears twice; keeping the first"));
      continue;
    }
    const notice::KindPolicy* et = notice::FindKind(v1::CLOUD_AZURE, *type);
    if (et == nullptr) {
      Problem("unknown_type", absl::StrCat("Azure event ", *id, " has unknown EventType '", *type, "'; ignored"));
      continue;
    }
    Notice n{.id = *id,
             .cloud = v1::CLOUD_AZURE,
             .kind = et->kind,
             .raw_action = *type,
             .detected_at = now,
             .description = StringField(e, "Description").value_or(""),
             .source = std::string(Kind()),
             .acknowledgeable = options_.acknowledge};
    // Once Started, NotBefore is empty: the Poller keeps the deadline the notice had.
    std::string status = StringField(e, "EventStatus").value_or("Scheduled");
    std::string not_before = StringField(e, "NotBefore").value_or("");
    if (status != "Started" && !not_before.empty()) {
      if (auto t = ParseRfc1123(not_before); t.ok()) {
        n.not_before = *t;
      } else {
        // Keep the notice: the Poller gives it the minimum notice for the type, the safe guess.
        Problem("bad_time", absl::StrCat("Azure event ", *id, ": NotBefore ", t.status().message(),
                                         "; assuming the minimum notice for ", *type));
      }
    }
    if (*type == "Reboot") {
      n.action = options_.reboot_action;
    } else if (*type == "Redeploy") {
      n.action = options_.redeploy_action;
    } else if (*type == "Freeze") {
      n.action = options_.freeze_action;
    } else {
      n.action = Action::kCordon;
    }
    out.push_back(std::move(n));
  }
  return out;
}

absl::Status AzureScheduledEvents::Acknowledge(const Notice& notice) {
  Json body = {{"StartRequests", Json::array({{{"EventId", notice.id}}})}};
  auto res = http_->Send({.method = "POST",
                          .path = kPath,
                          .headers = kMetadataHeader,
                          .body = body.dump(),
                          .content_type = "application/json",
                          .timeout = options_.timeout,
                          .max_response_bytes = 64 << 10});
  if (!res.ok()) return TransportError(res.status(), "Azure StartRequests");
  if (res->status / 100 != 2) return HttpStatusError(res->status, res->Header("Retry-After"), "Azure StartRequests");
  return absl::OkStatus();
}

}  // namespace spotguard::agent::sources
