// Process-wide glibc malloc settings for the daemons. Call from main() before threads start.
#pragma once

#include <cstddef>

namespace spotguard {

// Keeps up to `bytes` of freed memory per malloc arena for reuse, and serves allocations up to
// `bytes` from the arenas instead of fresh mmap()s. glibc's defaults return a large freed block
// to the kernel and map the next one anew, so a server that allocates the same large buffers
// every request (the extender: request bodies and answers of hundreds of KiB) takes a page
// fault per 4 KiB of every buffer, every request. Capped at glibc's limit (32 MiB on 64-bit).
void KeepFreedMemory(size_t bytes);

}  // namespace spotguard
