# -DINFERD_SANITIZE=address|thread: a sanitizer build of everything (libraries,
# binaries, tests). Use its own build directory (CMakePresets.json: presets
# `asan` -> build-asan/, `tsan` -> build-tsan/; scripts/test.sh --sanitize=...).
#   address  ASan + UBSan (-fno-sanitize-recover=all: any UB report aborts)
#   thread   TSan
# Reports are failures: scripts/test.sh sets ASAN_OPTIONS / UBSAN_OPTIONS /
# TSAN_OPTIONS (halt_on_error, suppressions from tests/sanitizers/) and fails
# when any sanitized process, a daemon started by a test included, wrote one.
# Debian's gRPC, Protobuf and Abseil are not instrumented; see
# tests/sanitizers/README.md for what that means and how it is handled.
set(INFERD_SANITIZE "" CACHE STRING "Sanitizer build: empty (none), address (ASan+UBSan) or thread (TSan)")
set_property(CACHE INFERD_SANITIZE PROPERTY STRINGS "" address thread)

if(INFERD_SANITIZE STREQUAL "")
  return()
endif()
if(INFERD_BUILD_FUZZERS)
  message(FATAL_ERROR "INFERD_SANITIZE and INFERD_BUILD_FUZZERS are separate builds "
                      "(the fuzz build has its own ASan+UBSan); use another build directory")
endif()
if(INFERD_SANITIZE STREQUAL "address")
  set(INFERD_SANITIZER_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all)
elseif(INFERD_SANITIZE STREQUAL "thread")
  set(INFERD_SANITIZER_FLAGS -fsanitize=thread)
else()
  message(FATAL_ERROR "INFERD_SANITIZE must be empty, address or thread (got '${INFERD_SANITIZE}')")
endif()
# The CUDA backend is not sanitized (nvcc would need every flag through
# -Xcompiler, and its device code is checked by tests/gpu on a GPU machine).
if(INFERD_CUDA STREQUAL "ON")
  message(FATAL_ERROR "INFERD_SANITIZE needs INFERD_CUDA=OFF (the presets set it)")
endif()
set(INFERD_CUDA OFF CACHE STRING "Build the CUDA backend: AUTO, ON or OFF" FORCE)

# C and C++ only: frame pointers give the reports whole stacks cheaply.
add_compile_options("$<$<COMPILE_LANGUAGE:C,CXX>:${INFERD_SANITIZER_FLAGS};-fno-omit-frame-pointer>")
add_link_options(${INFERD_SANITIZER_FLAGS})
# g++ 12 warns -Wmaybe-uninitialized falsely inside libstdc++ (std::regex's
# std::function moves) once the sanitizers' instrumentation changes inlining
# (GCC's manual warns of this for -fsanitize); the release build keeps the check.
add_compile_options("$<$<AND:$<COMPILE_LANGUAGE:CXX>,$<CXX_COMPILER_ID:GNU>>:-Wno-maybe-uninitialized>")

# TSan: Debian's Abseil is not instrumented, so an absl::Mutex is invisible to
# TSan (every access it guards would be reported). Every target links
# tests/sanitizers/tsan_absl_sync_annotations.cc, and -Wl,--wrap routes
# inferd's calls to the absl synchronization entry points through it. The
# symbols are Itanium-mangled names inside Abseil's inline namespace (read
# from absl/base/options.h: "debian3" mangles as 7debian3).
if(INFERD_SANITIZE STREQUAL "thread")
  # g++ warns (-Wtsan) that TSan does not model std::atomic_thread_fence, used
  # by Abseil's flag reader (absl/flags/internal/sequence_lock.h). That reader
  # copies the value with relaxed atomic loads, which TSan never reports, and
  # flags are parsed before any thread starts; inferd itself uses no fences.
  add_compile_options("$<$<AND:$<COMPILE_LANGUAGE:CXX>,$<CXX_COMPILER_ID:GNU>>:-Wno-tsan>")
  get_target_property(absl_include_dirs absl::base INTERFACE_INCLUDE_DIRECTORIES)
  find_file(INFERD_ABSL_OPTIONS_H absl/base/options.h HINTS ${absl_include_dirs} REQUIRED)
  file(STRINGS ${INFERD_ABSL_OPTIONS_H} use_inline REGEX "^#define ABSL_OPTION_USE_INLINE_NAMESPACE ")
  file(STRINGS ${INFERD_ABSL_OPTIONS_H} inline_name REGEX "^#define ABSL_OPTION_INLINE_NAMESPACE_NAME ")
  string(REGEX REPLACE "^#define [A-Z_]+ +" "" use_inline "${use_inline}")
  string(REGEX REPLACE "^#define [A-Z_]+ +" "" inline_name "${inline_name}")
  if(NOT use_inline STREQUAL "1" OR inline_name STREQUAL "")
    message(FATAL_ERROR "INFERD_SANITIZE=thread expects an Abseil with an inline namespace "
                        "(${INFERD_ABSL_OPTIONS_H}); the symbol names in "
                        "tests/sanitizers/tsan_absl_sync_annotations.cc assume one")
  endif()
  string(LENGTH "${inline_name}" inline_length)
  set(ns "${inline_length}${inline_name}")
  set(wrapped
    _ZN4absl${ns}5Mutex4LockEv
    _ZN4absl${ns}5Mutex6UnlockEv
    _ZN4absl${ns}5Mutex7TryLockEv
    _ZN4absl${ns}5Mutex10ReaderLockEv
    _ZN4absl${ns}5Mutex12ReaderUnlockEv
    _ZN4absl${ns}5Mutex13ReaderTryLockEv
    _ZN4absl${ns}5Mutex8LockWhenERKNS0_9ConditionE
    _ZN4absl${ns}5Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE
    _ZN4absl${ns}5Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE
    _ZN4absl${ns}5Mutex5AwaitERKNS0_9ConditionE
    _ZN4absl${ns}5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE
    _ZN4absl${ns}5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE
    _ZN4absl${ns}5MutexD1Ev
    _ZN4absl${ns}5MutexD2Ev
    _ZN4absl${ns}7CondVar4WaitEPNS0_5MutexE
    _ZN4absl${ns}7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE
    _ZN4absl${ns}7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE
    _ZN4absl${ns}12Notification6NotifyEv
    _ZNK4absl${ns}12Notification19WaitForNotificationEv
    _ZNK4absl${ns}12Notification30WaitForNotificationWithTimeoutENS0_8DurationE
    _ZNK4absl${ns}12Notification31WaitForNotificationWithDeadlineENS0_4TimeE)
  list(TRANSFORM wrapped PREPEND "LINKER:--wrap=")
  add_library(inferd_tsan_absl_sync_annotations STATIC
    ${PROJECT_SOURCE_DIR}/tests/sanitizers/tsan_absl_sync_annotations.cc)
  target_compile_definitions(inferd_tsan_absl_sync_annotations PRIVATE INFERD_ABSL_NS="${ns}")
  target_link_libraries(inferd_tsan_absl_sync_annotations
    PUBLIC absl::synchronization absl::time PRIVATE inferd_warnings)
  # --undefined pulls the wrappers into every link, also of a program that
  # takes no absl lock itself: ld checks the Abseil libraries' own references
  # against the wrapped names too.
  add_link_options(${wrapped} LINKER:--undefined=__wrap__ZN4absl${ns}5Mutex4LockEv)
  # Every target defined from here on links it (CMake's directory-wide
  # link_libraries): executables pull it in through --wrap's references.
  link_libraries(inferd_tsan_absl_sync_annotations)
endif()
message(STATUS "inferd: sanitizer build (${INFERD_SANITIZE}): ${INFERD_SANITIZER_FLAGS}")
