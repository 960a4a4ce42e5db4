#include "common/malloc.h"

#include <malloc.h>

#include <algorithm>

namespace spotguard {

void KeepFreedMemory(size_t bytes) {
#ifdef M_MMAP_THRESHOLD
  const int capped = static_cast<int>(std::min<size_t>(bytes, size_t{32} << 20));
  // Setting either also turns off glibc's dynamic adjustment of both.
  mallopt(M_MMAP_THRESHOLD, capped);
  mallopt(M_TRIM_THRESHOLD, capped);
#endif
}

}  // namespace spotguard
