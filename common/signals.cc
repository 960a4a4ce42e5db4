#include "common/signals.h"

#include <pthread.h>
#include <signal.h>

#include <thread>

#include "common/log.h"

namespace spotguard {

void StopOnSignals(StopSignal& stop) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([set, &stop] {
    int sig = 0;
    while (sigwait(&set, &sig) == 0) {
      log::Info("shutting down", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
      stop.Stop();
    }
  }).detach();
}

}  // namespace spotguard
