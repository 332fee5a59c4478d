# Sanitizer builds. PODSIM_SANITIZE=ON instruments the core and the Python module with
# AddressSanitizer and UndefinedBehaviorSanitizer; every UB report is fatal
# (-fno-sanitize-recover=all) so a test run cannot pass over one. The flags travel on one
# INTERFACE target, linked by every target that holds engine code, so the static core and the
# module that embeds it are instrumented alike.
#
# Loading an ASan-instrumented extension into a stock interpreter needs the runtime preloaded:
#   LD_PRELOAD=$(g++ -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0 pytest ...
# (leak detection off: CPython deliberately does not free everything at exit). .ci/sanitize
# does all of this.

option(PODSIM_SANITIZE "Build the core and the Python module with ASan + UBSan" OFF)

add_library(podsim_sanitizers INTERFACE)
if(PODSIM_SANITIZE)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    message(FATAL_ERROR "PODSIM_SANITIZE: needs GCC or Clang, not ${CMAKE_CXX_COMPILER_ID}")
  endif()
  set(_podsim_sanitize_flags -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_compile_options(podsim_sanitizers INTERFACE ${_podsim_sanitize_flags} -g)
  target_link_options(podsim_sanitizers INTERFACE ${_podsim_sanitize_flags})
  message(STATUS "podsim: building with ASan + UBSan")
endif()
