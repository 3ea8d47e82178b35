// Names the calling thread as `top -H`, `ps -L`, perf and gdb show it (Linux keeps 15
// characters). Every long-lived thread keyledger starts is named "kl-<job>"; the main thread
// keeps the process's name, which is what `pgrep keyledger` finds.
#pragma once

#include <pthread.h>

#include <string>

namespace keyledger {

inline void name_this_thread(const std::string& name) { ::pthread_setname_np(::pthread_self(), name.substr(0, 15).c_str()); }

}  // namespace keyledger
