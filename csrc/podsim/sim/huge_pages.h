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
#include <cstdlib>
#include <memory>
#include <new>
#include <vector>

#if defined(__linux__) && !defined(__ANDROID__)
#include <sys/mman.h>
#if defined(MADV_HUGEPAGE)
#define PODSIM_HUGE_PAGES 1
#endif
#endif

namespace podsim {

template <class T>
class HugePageAllocator {
 public:
  using value_type = T;
  HugePageAllocator() = default;
  template <class U>
  HugePageAllocator(const HugePageAllocator<U>&) noexcept {}

  T* allocate(std::size_t n) {
#if defined(PODSIM_HUGE_PAGES)
    if (huge(n)) {
      void* p = std::aligned_alloc(kHugePage, rounded(n * sizeof(T)));
      if (p == nullptr) throw std::bad_alloc();
      madvise(p, rounded(n * sizeof(T)), MADV_HUGEPAGE);  // a hint: a refusal changes nothing else
      return static_cast<T*>(p);
    }
#endif
    return std::allocator<T>{}.allocate(n);
  }
  void deallocate(T* p, std::size_t n) noexcept {
#if defined(PODSIM_HUGE_PAGES)
    if (huge(n)) return std::free(p);
#endif
    std::allocator<T>{}.deallocate(p, n);
  }
  template <class U>
  bool operator==(const HugePageAllocator<U>&) const noexcept {
    return true;
  }

 private:
  static constexpr std::size_t kHugePage = std::size_t{2} << 20;
  static constexpr std::size_t kMaxElements = (~std::size_t{0} - kHugePage) / sizeof(T);  // rounding cannot wrap
  static bool huge(std::size_t n) { return n <= kMaxElements && n * sizeof(T) >= kHugePage; }
  static std::size_t rounded(std::size_t bytes) { return (bytes + kHugePage - 1) / kHugePage * kHugePage; }
};

// A vector of the engine's hot state (see above).
template <class T>
using HugeVector = std::vector<T, HugePageAllocator<T>>;

}  // namespace podsim
