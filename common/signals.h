// Graceful shutdown: SIGTERM (the kubelet) and SIGINT stop a StopSignal.
//
// Call StopOnSignals() first thing in main(), before any thread starts: it blocks the
// signals in the calling thread (so every thread created later inherits the mask) and
// waits for them on a dedicated thread.
//
// Example:
//   StopSignal stop;
//   StopOnSignals(stop);
//   daemon.Run(stop);   // returns once SIGTERM arrives
#pragma once

#include "common/clock.h"

namespace spotguard {

void StopOnSignals(StopSignal& stop);

}  // namespace spotguard
