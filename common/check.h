// common/check.h — CHECK-style invariant assertions for every layer.
//
// Debian 12's Abseil (20220623) predates absl/log, so there is no absl CHECK
// here. These macros follow its spelling with an INFERD_ prefix:
//   INFERD_CHECK(cond) << "context";   INFERD_CHECK_EQ(a, b) << "context";
// A failed check prints file:line, the condition and the streamed context to
// stderr and aborts. Checks are for invariants (programming errors), never for
// bad input: bad input gets an absl::Status. Header-only and in common/ (no
// layer's own code), so kernels, engine, scheduler and server all use it
// without depending on each other.
#ifndef INFERD_COMMON_CHECK_H_
#define INFERD_COMMON_CHECK_H_

#include <cstdlib>
#include <iostream>
#include <sstream>

namespace inferd::internal {

class CheckFailure {
 public:
  CheckFailure(const char* file, int line, const char* condition) {
    stream_ << file << ":" << line << ": check failed: " << condition << " ";
  }
  [[noreturn]] ~CheckFailure() {
    std::cerr << stream_.str() << std::endl;
    std::abort();
  }
  std::ostream& stream() { return stream_; }

 private:
  std::ostringstream stream_;
};

// Lets `INFERD_CHECK(x) << ...` parse as a single void expression.
struct Voidify {
  void operator&(std::ostream&) {}
};

}  // namespace inferd::internal

#define INFERD_CHECK(condition)                 \
  (condition) ? (void)0                         \
              : ::inferd::internal::Voidify() & \
                    ::inferd::internal::CheckFailure(__FILE__, __LINE__, #condition).stream()

#define INFERD_CHECK_OP_(a, op, b) INFERD_CHECK((a)op(b)) << "(" << (a) << " vs " << (b) << ") "
#define INFERD_CHECK_EQ(a, b) INFERD_CHECK_OP_(a, ==, b)
#define INFERD_CHECK_NE(a, b) INFERD_CHECK_OP_(a, !=, b)
#define INFERD_CHECK_LT(a, b) INFERD_CHECK_OP_(a, <, b)
#define INFERD_CHECK_LE(a, b) INFERD_CHECK_OP_(a, <=, b)
#define INFERD_CHECK_GT(a, b) INFERD_CHECK_OP_(a, >, b)
#define INFERD_CHECK_GE(a, b) INFERD_CHECK_OP_(a, >=, b)

#endif  // INFERD_COMMON_CHECK_H_
