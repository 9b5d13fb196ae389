// server/shutdown_signal.h — SIGINT/SIGTERM as a value the main thread waits
// for, instead of work done inside a signal handler.
//
// BlockShutdownSignals() must run before any thread is started (the engine,
// gRPC): threads inherit the mask, so the signals stay pending until the main
// thread takes them with WaitForShutdownSignal().
#ifndef INFERD_SERVER_SHUTDOWN_SIGNAL_H_
#define INFERD_SERVER_SHUTDOWN_SIGNAL_H_

namespace inferd::server {

void BlockShutdownSignals();

// Blocks until SIGINT or SIGTERM arrives; returns the signal number.
int WaitForShutdownSignal();

}  // namespace inferd::server

#endif  // INFERD_SERVER_SHUTDOWN_SIGNAL_H_
