// server/shutdown_signal.h — SIGINT/SIGTERM/SIGHUP as a value a thread waits
// for, instead of work done inside a signal handler. SIGHUP (the terminal of
// `inferd serve &` closed, or an operator's `kill -HUP`) drains like SIGTERM:
// inferd has no configuration to reload, and dying mid-stream is the worst
// answer. SIGUSR1, SIGUSR2 and SIGPIPE are ignored (IgnoreStraySignals);
// SIGQUIT keeps its default (exit with a core dump: the conventional "stop
// now, I want to debug"), as do SIGKILL and the resource-limit signals.
//
// BlockShutdownSignals() must run before any thread is started (the engine,
// gRPC): threads inherit the mask, so the signals stay pending until a thread
// takes them: the main thread with WaitForShutdownSignal(), or a
// ShutdownSignalWatcher while the main thread is busy (loading the model,
// draining). Only one of them waits at a time.
#ifndef INFERD_SERVER_SHUTDOWN_SIGNAL_H_
#define INFERD_SERVER_SHUTDOWN_SIGNAL_H_

#include <atomic>
#include <functional>
#include <thread>

namespace inferd::server {

void BlockShutdownSignals();

// SIGUSR1, SIGUSR2 and SIGPIPE: ignored instead of ending the process.
void IgnoreStraySignals();

// Blocks until SIGINT, SIGTERM or SIGHUP arrives; returns the signal number.
int WaitForShutdownSignal();

// "SIGINT", "SIGTERM", "SIGHUP" (or "signal" for any other).
const char* ShutdownSignalName(int signal);

// Takes SIGINT/SIGTERM/SIGHUP on a thread of its own and calls `on_signal(signal)`
// there for each one, until destroyed (the destructor returns within 50 ms).
// A signal that arrives after the destructor stays pending for the next
// waiter.
class ShutdownSignalWatcher {
 public:
  explicit ShutdownSignalWatcher(std::function<void(int)> on_signal);
  ~ShutdownSignalWatcher();
  ShutdownSignalWatcher(const ShutdownSignalWatcher&) = delete;
  ShutdownSignalWatcher& operator=(const ShutdownSignalWatcher&) = delete;

 private:
  const std::function<void(int)> on_signal_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;  // last: started after everything above exists
};

}  // namespace inferd::server

#endif  // INFERD_SERVER_SHUTDOWN_SIGNAL_H_
