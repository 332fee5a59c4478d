#include "podsim/sim/huge_pages.h"

#include <new>

#if defined(__linux__) && !defined(__ANDROID__)
#include <sys/mman.h>
#endif

namespace podsim {

void* huge_page_alloc(std::size_t bytes) {
  void* p = ::operator new(bytes, std::align_val_t{kHugePageBytes});
#if defined(MADV_HUGEPAGE)
  madvise(p, bytes, MADV_HUGEPAGE);  // a hint: a refusal changes nothing else
#endif
  return p;
}

void huge_page_free(void* p) noexcept { ::operator delete(p, std::align_val_t{kHugePageBytes}); }

}  // namespace podsim
