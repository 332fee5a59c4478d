// Storage for the engine's large arrays on transparent huge pages, where the system offers them.
//
// Each packet hop reads a dozen records scattered over hundreds of megabytes on a large fabric
// (its packet, channels, queues, routes, message). With 4 KiB pages nearly every such read also
// misses the TLB and walks the page table; 2 MiB pages cover the same memory with 512 times fewer
// TLB entries. In Linux's "madvise" mode of transparent huge pages (a common default), an
// anonymous region gets huge pages when it is aligned to them and marked with
// madvise(MADV_HUGEPAGE) before it is touched, so arrays of 2 MiB or more are allocated that way
// (memory the C library hands out again may already be backed by small pages, and keeps them).
// It is only a hint: elsewhere, or when the system refuses, the memory is ordinary and results
// are the same.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

namespace podsim {

// `bytes` (a multiple of kHugePageBytes) aligned to a huge page and marked for transparent huge
// pages where the system offers them; throws std::bad_alloc. Free with huge_page_free. (Out of
// line, so that the public headers do not pull in <sys/mman.h> and its macros.)
inline constexpr std::size_t kHugePageBytes = std::size_t{2} << 20;
void* huge_page_alloc(std::size_t bytes);
void huge_page_free(void* p) noexcept;

template <class T>
class HugePageAllocator {
 public:
  using value_type = T;
  HugePageAllocator() = default;
  template <class U>
  HugePageAllocator(const HugePageAllocator<U>&) noexcept {}

  T* allocate(std::size_t n) {
    if (huge(n)) return static_cast<T*>(huge_page_alloc(rounded(n * sizeof(T))));
    return std::allocator<T>{}.allocate(n);
  }
  void deallocate(T* p, std::size_t n) noexcept {
    if (huge(n)) return huge_page_free(p);
    std::allocator<T>{}.deallocate(p, n);
  }
  template <class U>
  bool operator==(const HugePageAllocator<U>&) const noexcept {
    return true;
  }

 private:
  static constexpr std::size_t kMaxElements = (~std::size_t{0} - kHugePageBytes) / sizeof(T);  // rounding cannot wrap
  static bool huge(std::size_t n) { return n <= kMaxElements && n * sizeof(T) >= kHugePageBytes; }
  static std::size_t rounded(std::size_t bytes) { return (bytes + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes; }
};

// A vector of the engine's hot state (see above).
template <class T>
using HugeVector = std::vector<T, HugePageAllocator<T>>;

}  // namespace podsim
