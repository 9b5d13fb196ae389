// server/happens_before.h — tells ThreadSanitizer about an ordering that gRPC
// guarantees but that happens inside Debian's uninstrumented gRPC, where TSan
// cannot see it: everything a thread did before starting a reactor operation
// (StartWrite, Finish) or returning the reactor from its method handler
// happens before the reactions gRPC runs for it (OnWriteDone, OnCancel,
// OnDone), on whatever thread. HappensBefore(x) before the operation,
// HappensAfter(x) first thing in the reaction, with the same x (the reactor).
// No-ops unless built with -fsanitize=thread (scripts/test.sh
// --sanitize=thread); see tests/sanitizers/README.md.
#ifndef INFERD_SERVER_HAPPENS_BEFORE_H_
#define INFERD_SERVER_HAPPENS_BEFORE_H_

#if defined(__SANITIZE_THREAD__)
#define INFERD_TSAN_ANNOTATIONS 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define INFERD_TSAN_ANNOTATIONS 1
#endif
#endif

#ifdef INFERD_TSAN_ANNOTATIONS
#include <sanitizer/tsan_interface.h>
#endif

namespace inferd::server {

inline void HappensBefore(const void* sync) {
#ifdef INFERD_TSAN_ANNOTATIONS
  __tsan_release(const_cast<void*>(sync));
#else
  (void)sync;
#endif
}

inline void HappensAfter(const void* sync) {
#ifdef INFERD_TSAN_ANNOTATIONS
  __tsan_acquire(const_cast<void*>(sync));
#else
  (void)sync;
#endif
}

}  // namespace inferd::server

#endif  // INFERD_SERVER_HAPPENS_BEFORE_H_
