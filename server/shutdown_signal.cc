// server/shutdown_signal.cc
#include "server/shutdown_signal.h"

#include <pthread.h>
#include <signal.h>

#include <ctime>
#include <utility>

namespace inferd::server {

namespace {

sigset_t ShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);  // the terminal closed: drain rather than die mid-stream
  return set;
}

}  // namespace

void BlockShutdownSignals() {
  const sigset_t set = ShutdownSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

void IgnoreStraySignals() {
  // Their default action ends the process at once; nothing sends them to
  // inferd on purpose.
  for (int signal : {SIGUSR1, SIGUSR2, SIGPIPE}) ::signal(signal, SIG_IGN);
}

int WaitForShutdownSignal() {
  const sigset_t set = ShutdownSignals();
  int signal = 0;
  while (sigwait(&set, &signal) != 0) {
  }
  return signal;
}

const char* ShutdownSignalName(int signal) {
  if (signal == SIGINT) return "SIGINT";
  if (signal == SIGTERM) return "SIGTERM";
  if (signal == SIGHUP) return "SIGHUP";
  return "signal";
}

ShutdownSignalWatcher::ShutdownSignalWatcher(std::function<void(int)> on_signal)
    : on_signal_(std::move(on_signal)), thread_([this] {
        const sigset_t set = ShutdownSignals();
        const timespec poll = {0, 50'000'000};  // checks stopping_ every 50 ms
        while (!stopping_.load()) {
          const int signal = sigtimedwait(&set, nullptr, &poll);
          if (signal > 0) on_signal_(signal);
        }
      }) {}

ShutdownSignalWatcher::~ShutdownSignalWatcher() {
  stopping_.store(true);
  thread_.join();
}

}  // namespace inferd::server
