// tests/sanitizers/tsan_absl_sync_annotations.cc — makes Debian's Abseil
// synchronization visible to ThreadSanitizer (INFERD_SANITIZE=thread only).
//
// Debian's libabsl_synchronization.so is not built with -fsanitize=thread, so
// absl::Mutex::Lock() and friends carry none of the __tsan_mutex_* annotations
// an instrumented Abseil has: TSan sees no happens-before through an
// absl::Mutex and reports every access it protects as a race. Each wrapper
// below adds exactly the annotations Abseil's own mutex.cc makes under TSan
// around the uninstrumented call. The linker routes inferd's calls here with
// -Wl,--wrap=<symbol> (cmake/InferdSanitizers.cmake holds the symbol list;
// a symbol wrapped there but not defined here, or defined here but not
// wrapped there, fails the link). Calls made inside gRPC's own libraries are
// not wrapped: their accesses are not instrumented either.
//
// Model (as TSan's annotation API, <sanitizer/tsan_interface.h>, defines it):
// between pre_* and post_* TSan ignores memory accesses, so absl evaluating
// a Condition inside Lock/Await/Unlock is not reported; Await and CondVar::Wait
// release the mutex and acquire it again. Waits are assumed to hold the mutex
// in writer mode (inferd takes no reader locks); a reader-mode Await would be
// reported by TSan as a bad unlock, never hidden.
#include <sanitizer/tsan_interface.h>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

#ifndef INFERD_ABSL_NS
#error "INFERD_ABSL_NS (the mangled inline namespace of Abseil, e.g. 7debian3) comes from CMake"
#endif

// __wrap_<symbol> is the definition the linker substitutes for <symbol>;
// __real_<symbol> is the original in libabsl_synchronization.so.
#define INFERD_MUTEX(suffix) "_ZN4absl" INFERD_ABSL_NS "5Mutex" suffix
#define INFERD_CONDVAR(suffix) "_ZN4absl" INFERD_ABSL_NS "7CondVar" suffix
#define INFERD_NOTIFICATION(suffix) "_ZN4absl" INFERD_ABSL_NS "12Notification" suffix
#define INFERD_NOTIFICATION_CONST(suffix) "_ZNK4absl" INFERD_ABSL_NS "12Notification" suffix
#define INFERD_WRAP(name) __asm__("__wrap_" name)
#define INFERD_REAL(name) __asm__("__real_" name)

namespace {

using absl::Condition;
using absl::CondVar;
using absl::Duration;
using absl::Mutex;
using absl::Notification;
using absl::Time;

constexpr unsigned kRead = __tsan_mutex_read_lock;
constexpr unsigned kTry = __tsan_mutex_try_lock;
constexpr unsigned kTryFailed = __tsan_mutex_try_lock | __tsan_mutex_try_lock_failed;

}  // namespace

// The member functions, called with `this` first (the Itanium C++ ABI).
extern "C" {
void RealLock(Mutex* mu) INFERD_REAL(INFERD_MUTEX("4LockEv"));
void RealUnlock(Mutex* mu) INFERD_REAL(INFERD_MUTEX("6UnlockEv"));
bool RealTryLock(Mutex* mu) INFERD_REAL(INFERD_MUTEX("7TryLockEv"));
void RealReaderLock(Mutex* mu) INFERD_REAL(INFERD_MUTEX("10ReaderLockEv"));
void RealReaderUnlock(Mutex* mu) INFERD_REAL(INFERD_MUTEX("12ReaderUnlockEv"));
bool RealReaderTryLock(Mutex* mu) INFERD_REAL(INFERD_MUTEX("13ReaderTryLockEv"));
void RealLockWhen(Mutex* mu, const Condition& cond)
    INFERD_REAL(INFERD_MUTEX("8LockWhenERKNS0_9ConditionE"));
bool RealLockWhenWithTimeout(Mutex* mu, const Condition& cond, Duration timeout)
    INFERD_REAL(INFERD_MUTEX("19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE"));
bool RealLockWhenWithDeadline(Mutex* mu, const Condition& cond, Time deadline)
    INFERD_REAL(INFERD_MUTEX("20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE"));
void RealAwait(Mutex* mu, const Condition& cond)
    INFERD_REAL(INFERD_MUTEX("5AwaitERKNS0_9ConditionE"));
bool RealAwaitWithTimeout(Mutex* mu, const Condition& cond, Duration timeout)
    INFERD_REAL(INFERD_MUTEX("16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE"));
bool RealAwaitWithDeadline(Mutex* mu, const Condition& cond, Time deadline)
    INFERD_REAL(INFERD_MUTEX("17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE"));
void RealMutexD1(Mutex* mu) INFERD_REAL(INFERD_MUTEX("D1Ev"));
void RealMutexD2(Mutex* mu) INFERD_REAL(INFERD_MUTEX("D2Ev"));
void RealCondVarWait(CondVar* cv, Mutex* mu) INFERD_REAL(INFERD_CONDVAR("4WaitEPNS0_5MutexE"));
bool RealCondVarWaitWithTimeout(CondVar* cv, Mutex* mu, Duration timeout)
    INFERD_REAL(INFERD_CONDVAR("15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE"));
bool RealCondVarWaitWithDeadline(CondVar* cv, Mutex* mu, Time deadline)
    INFERD_REAL(INFERD_CONDVAR("16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE"));
void RealNotify(Notification* n) INFERD_REAL(INFERD_NOTIFICATION("6NotifyEv"));
void RealWaitForNotification(const Notification* n)
    INFERD_REAL(INFERD_NOTIFICATION_CONST("19WaitForNotificationEv"));
bool RealWaitForNotificationWithTimeout(const Notification* n, Duration timeout)
    INFERD_REAL(INFERD_NOTIFICATION_CONST("30WaitForNotificationWithTimeoutENS0_8DurationE"));
bool RealWaitForNotificationWithDeadline(const Notification* n, Time deadline)
    INFERD_REAL(INFERD_NOTIFICATION_CONST("31WaitForNotificationWithDeadlineENS0_4TimeE"));

void WrapLock(Mutex* mu) INFERD_WRAP(INFERD_MUTEX("4LockEv"));
void WrapUnlock(Mutex* mu) INFERD_WRAP(INFERD_MUTEX("6UnlockEv"));
bool WrapTryLock(Mutex* mu) INFERD_WRAP(INFERD_MUTEX("7TryLockEv"));
void WrapReaderLock(Mutex* mu) INFERD_WRAP(INFERD_MUTEX("10ReaderLockEv"));
void WrapReaderUnlock(Mutex* mu) INFERD_WRAP(INFERD_MUTEX("12ReaderUnlockEv"));
bool WrapReaderTryLock(Mutex* mu) INFERD_WRAP(INFERD_MUTEX("13ReaderTryLockEv"));
void WrapLockWhen(Mutex* mu, const Condition& cond)
    INFERD_WRAP(INFERD_MUTEX("8LockWhenERKNS0_9ConditionE"));
bool WrapLockWhenWithTimeout(Mutex* mu, const Condition& cond, Duration timeout)
    INFERD_WRAP(INFERD_MUTEX("19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE"));
bool WrapLockWhenWithDeadline(Mutex* mu, const Condition& cond, Time deadline)
    INFERD_WRAP(INFERD_MUTEX("20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE"));
void WrapAwait(Mutex* mu, const Condition& cond)
    INFERD_WRAP(INFERD_MUTEX("5AwaitERKNS0_9ConditionE"));
bool WrapAwaitWithTimeout(Mutex* mu, const Condition& cond, Duration timeout)
    INFERD_WRAP(INFERD_MUTEX("16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE"));
bool WrapAwaitWithDeadline(Mutex* mu, const Condition& cond, Time deadline)
    INFERD_WRAP(INFERD_MUTEX("17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE"));
void WrapMutexD1(Mutex* mu) INFERD_WRAP(INFERD_MUTEX("D1Ev"));
void WrapMutexD2(Mutex* mu) INFERD_WRAP(INFERD_MUTEX("D2Ev"));
void WrapCondVarWait(CondVar* cv, Mutex* mu) INFERD_WRAP(INFERD_CONDVAR("4WaitEPNS0_5MutexE"));
bool WrapCondVarWaitWithTimeout(CondVar* cv, Mutex* mu, Duration timeout)
    INFERD_WRAP(INFERD_CONDVAR("15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE"));
bool WrapCondVarWaitWithDeadline(CondVar* cv, Mutex* mu, Time deadline)
    INFERD_WRAP(INFERD_CONDVAR("16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE"));
void WrapNotify(Notification* n) INFERD_WRAP(INFERD_NOTIFICATION("6NotifyEv"));
void WrapWaitForNotification(const Notification* n)
    INFERD_WRAP(INFERD_NOTIFICATION_CONST("19WaitForNotificationEv"));
bool WrapWaitForNotificationWithTimeout(const Notification* n, Duration timeout)
    INFERD_WRAP(INFERD_NOTIFICATION_CONST("30WaitForNotificationWithTimeoutENS0_8DurationE"));
bool WrapWaitForNotificationWithDeadline(const Notification* n, Time deadline)
    INFERD_WRAP(INFERD_NOTIFICATION_CONST("31WaitForNotificationWithDeadlineENS0_4TimeE"));
}  // extern "C"

namespace {

// Await and CondVar::Wait give the mutex up and take it back inside one absl
// call, which also evaluates conditions: release before, acquire after.
void BeforeRelease(Mutex* mu) { __tsan_mutex_pre_unlock(mu, 0); }

void AfterReacquire(Mutex* mu) {
  __tsan_mutex_post_unlock(mu, 0);
  __tsan_mutex_pre_lock(mu, 0);
  __tsan_mutex_post_lock(mu, 0, 0);
}

}  // namespace

extern "C" {

void WrapLock(Mutex* mu) {
  __tsan_mutex_pre_lock(mu, 0);
  RealLock(mu);
  __tsan_mutex_post_lock(mu, 0, 0);
}

void WrapUnlock(Mutex* mu) {
  __tsan_mutex_pre_unlock(mu, 0);
  RealUnlock(mu);
  __tsan_mutex_post_unlock(mu, 0);
}

bool WrapTryLock(Mutex* mu) {
  __tsan_mutex_pre_lock(mu, kTry);
  const bool locked = RealTryLock(mu);
  __tsan_mutex_post_lock(mu, locked ? kTry : kTryFailed, 0);
  return locked;
}

void WrapReaderLock(Mutex* mu) {
  __tsan_mutex_pre_lock(mu, kRead);
  RealReaderLock(mu);
  __tsan_mutex_post_lock(mu, kRead, 0);
}

void WrapReaderUnlock(Mutex* mu) {
  __tsan_mutex_pre_unlock(mu, kRead);
  RealReaderUnlock(mu);
  __tsan_mutex_post_unlock(mu, kRead);
}

bool WrapReaderTryLock(Mutex* mu) {
  __tsan_mutex_pre_lock(mu, kRead | kTry);
  const bool locked = RealReaderTryLock(mu);
  __tsan_mutex_post_lock(mu, kRead | (locked ? kTry : kTryFailed), 0);
  return locked;
}

// LockWhen* return holding the mutex whatever they return.
void WrapLockWhen(Mutex* mu, const Condition& cond) {
  __tsan_mutex_pre_lock(mu, 0);
  RealLockWhen(mu, cond);
  __tsan_mutex_post_lock(mu, 0, 0);
}

bool WrapLockWhenWithTimeout(Mutex* mu, const Condition& cond, Duration timeout) {
  __tsan_mutex_pre_lock(mu, 0);
  const bool met = RealLockWhenWithTimeout(mu, cond, timeout);
  __tsan_mutex_post_lock(mu, 0, 0);
  return met;
}

bool WrapLockWhenWithDeadline(Mutex* mu, const Condition& cond, Time deadline) {
  __tsan_mutex_pre_lock(mu, 0);
  const bool met = RealLockWhenWithDeadline(mu, cond, deadline);
  __tsan_mutex_post_lock(mu, 0, 0);
  return met;
}

void WrapAwait(Mutex* mu, const Condition& cond) {
  BeforeRelease(mu);
  RealAwait(mu, cond);
  AfterReacquire(mu);
}

bool WrapAwaitWithTimeout(Mutex* mu, const Condition& cond, Duration timeout) {
  BeforeRelease(mu);
  const bool met = RealAwaitWithTimeout(mu, cond, timeout);
  AfterReacquire(mu);
  return met;
}

bool WrapAwaitWithDeadline(Mutex* mu, const Condition& cond, Time deadline) {
  BeforeRelease(mu);
  const bool met = RealAwaitWithDeadline(mu, cond, deadline);
  AfterReacquire(mu);
  return met;
}

// Forget the mutex, so that memory reused for another object starts clean
// (destroying a held mutex is reported).
void WrapMutexD1(Mutex* mu) {
  __tsan_mutex_destroy(mu, 0);
  RealMutexD1(mu);
}

void WrapMutexD2(Mutex* mu) {
  __tsan_mutex_destroy(mu, 0);
  RealMutexD2(mu);
}

void WrapCondVarWait(CondVar* cv, Mutex* mu) {
  BeforeRelease(mu);
  RealCondVarWait(cv, mu);
  AfterReacquire(mu);
}

bool WrapCondVarWaitWithTimeout(CondVar* cv, Mutex* mu, Duration timeout) {
  BeforeRelease(mu);
  const bool timed_out = RealCondVarWaitWithTimeout(cv, mu, timeout);
  AfterReacquire(mu);
  return timed_out;
}

bool WrapCondVarWaitWithDeadline(CondVar* cv, Mutex* mu, Time deadline) {
  BeforeRelease(mu);
  const bool timed_out = RealCondVarWaitWithDeadline(cv, mu, deadline);
  AfterReacquire(mu);
  return timed_out;
}

// Notify() happens before every wait that sees it. (The inline
// HasBeenNotified() is not covered; inferd does not use it.)
void WrapNotify(Notification* n) {
  __tsan_release(n);
  RealNotify(n);
}

void WrapWaitForNotification(const Notification* n) {
  RealWaitForNotification(n);
  __tsan_acquire(const_cast<Notification*>(n));
}

bool WrapWaitForNotificationWithTimeout(const Notification* n, Duration timeout) {
  const bool notified = RealWaitForNotificationWithTimeout(n, timeout);
  if (notified) __tsan_acquire(const_cast<Notification*>(n));
  return notified;
}

bool WrapWaitForNotificationWithDeadline(const Notification* n, Time deadline) {
  const bool notified = RealWaitForNotificationWithDeadline(n, deadline);
  if (notified) __tsan_acquire(const_cast<Notification*>(n));
  return notified;
}

}  // extern "C"
