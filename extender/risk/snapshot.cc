#include "extender/risk/snapshot.h"

#include <cstring>


namespace spotguard::extender::risk {
namespace {
// A node name's hash, inlined where the lookups run: eight bytes at a time, each mixed by a
// multiply (names are short: 20–60 bytes).
inline uint64_t HashName(absl::string_view name) {
  constexpr uint64_t kMul = 0x9e3779b97f4a7c15ull;
  auto word = [&](size_t at) {
    uint64_t w;
    std::memcpy(&w, name.data() + at, 8);
    return w;
  };
  uint64_t h = name.size() * kMul;
  size_t i = 0;
  for (; i + 8 <= name.size(); i += 8) h = (h ^ word(i)) * kMul, h ^= h >> 29;
  if (i < name.size()) {
    uint64_t tail = 0;
    if (name.size() >= 8) {
      tail = word(name.size() - 8);  // the last eight bytes, overlapping
    } else {
      for (size_t k = i; k < name.size(); ++k) tail = tail << 8 | static_cast<unsigned char>(name[k]);
    }
    h = (h ^ tail) * kMul, h ^= h >> 29;
  }
  h *= kMul;
  return h ^ (h >> 32);
}
}  // namespace

NodeTable::NodeTable(std::vector<std::shared_ptr<const NodeInfo>> nodes) {
  size_t capacity = 16;
  while (capacity < 2 * nodes.size()) capacity *= 2;
  slots_.resize(capacity);
  size_t bytes = 0;
  for (const auto& n : nodes) bytes += n->name.size();
  names_.reserve(bytes);
  nodes_.reserve(nodes.size());
  for (auto& n : nodes) {
    const uint64_t hash = HashName(n->name);
    size_t i = hash & (capacity - 1);
    bool duplicate = false;
    for (; slots_[i].node != nullptr; i = (i + 1) & (capacity - 1)) {
      if (slots_[i].hash == hash && slots_[i].node->name == n->name) {
        duplicate = true;
        break;
      }
    }
    if (duplicate) continue;
    slots_[i] = {hash, static_cast<uint32_t>(names_.size()), static_cast<uint32_t>(n->name.size()), n.get()};
    names_ += n->name;
    nodes_.push_back(std::move(n));
  }
}

const NodeInfo* NodeTable::Find(absl::string_view name) const {
  return nodes_.empty() ? nullptr : Resolve(name, HashName(name));
}

const NodeInfo* NodeTable::Resolve(absl::string_view name, uint64_t hash) const {
  const size_t mask = slots_.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.node == nullptr) return nullptr;
    if (s.hash == hash && s.name_size == name.size() &&
        std::memcmp(names_.data() + s.name_offset, name.data(), name.size()) == 0) {
      return s.node;
    }
  }
}

void NodeTable::FindAll(const std::vector<absl::string_view>& names, std::vector<const NodeInfo*>* out) const {
  out->assign(names.size(), nullptr);
  if (nodes_.empty()) return;
  constexpr size_t kAhead = 8;
  const size_t mask = slots_.size() - 1;
  std::vector<uint64_t> hashes(names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    hashes[i] = HashName(names[i]);
    if (i < kAhead) __builtin_prefetch(&slots_[hashes[i] & mask]);
  }
  for (size_t i = 0; i < names.size(); ++i) {
    if (i + kAhead < names.size()) __builtin_prefetch(&slots_[hashes[i + kAhead] & mask]);
    (*out)[i] = Resolve(names[i], hashes[i]);
  }
}

}  // namespace spotguard::extender::risk
