// tools/cli/uncaught_exception.cc
#include "tools/cli/uncaught_exception.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <new>
#include <system_error>

#include "absl/strings/str_cat.h"

namespace inferd::cli {

namespace {

// The program name for the terminate handler (set once, before any thread).
std::string* g_program = nullptr;

[[noreturn]] void OnTerminate() {
  const std::exception_ptr error = std::current_exception();
  if (error == nullptr) {
    std::fputs("terminate called without an active exception\n", stderr);
    std::abort();
  }
  PrintUncaughtException(g_program != nullptr ? *g_program : "inferd", error);
  // Other threads may still run: no destructors, no atexit handlers.
  std::fflush(stdout);
  _exit(kUncaughtExceptionExit);
}

}  // namespace

std::string DescribeException(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::bad_alloc& e) {
    return absl::StrCat("out of memory (", e.what(), ")");
  } catch (const std::system_error& e) {
    return absl::StrCat("system error: ", e.what());
  } catch (const std::exception& e) {
    return absl::StrCat("unexpected exception: ", e.what());
  } catch (...) {
    return "unexpected exception of an unknown type";
  }
}

void PrintUncaughtException(const std::string& program, const std::exception_ptr& error) {
  const std::string line = absl::StrCat(program, ": error: ", DescribeException(error), "\n");
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

void InstallUncaughtExceptionHandler(const std::string& program) {
  if (g_program == nullptr) g_program = new std::string(program);
  std::set_terminate(OnTerminate);
}

}  // namespace inferd::cli
