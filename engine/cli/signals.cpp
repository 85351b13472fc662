#include "engine/cli/signals.h"

#include <signal.h>
#include <string.h>

#include <atomic>
#include <cstdio>
#include <thread>

#include "resources/process.h"

namespace converge {

namespace {

std::atomic<int> g_signal{0};

sigset_t handled() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  return set;
}

/// Takes the signals: the first stops new commands and asks the running ones to end; the
/// grace period's end, or a second signal, kills them.
void watch() {
  const sigset_t set = handled();
  int sig = 0;
  while (::sigwait(&set, &sig) != 0) {
  }
  g_signal = sig;
  std::fprintf(stderr,
               "converge: interrupted (%s): no further step starts; the running command is asked to end and is "
               "killed after %llds; the run is journaled as interrupted and a rerun continues it\n",
               ::sigabbrev_np(sig) ? ::sigabbrev_np(sig) : "signal", static_cast<long long>(kSignalGrace.count()));
  stop_starting();
  signal_running(SIGTERM);
  const timespec grace{static_cast<time_t>(kSignalGrace.count()), 0};
  ::sigtimedwait(&set, nullptr, &grace);  // a second signal, or the grace period's end
  signal_running(SIGKILL);
  for (;;) ::sigwait(&set, &sig);  // later signals change nothing
}

}  // namespace

void install_signal_handling() {
  ::signal(SIGPIPE, SIG_IGN);
  const sigset_t set = handled();
  ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread(watch).detach();
}

int interrupted_by() { return g_signal.load(); }

}  // namespace converge
