// busyCores: how much of the machine others use, read before timing.
#include "cli.h"

#include <chrono>
#include <cstdint>
#include <fstream>
#include <thread>
#include <unistd.h>

/// Cores' worth of CPU in use by everyone over `ms` (from /proc/stat).
double xfmr::cli::busyCores(int ms) {
  auto read = [](uint64_t &busy, uint64_t &total) {
    std::ifstream f("/proc/stat");
    std::string cpu;
    uint64_t v[8] = {};
    f >> cpu >> v[0] >> v[1] >> v[2] >> v[3] >> v[4] >> v[5] >> v[6] >> v[7];
    total = 0;
    for (uint64_t x : v)
      total += x;
    busy = total - v[3] - v[4];
  };
  uint64_t b0, t0, b1, t1;
  read(b0, t0);
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  read(b1, t1);
  if (t1 == t0)
    return 0;
  return double(b1 - b0) / double(t1 - t0) * double(sysconf(_SC_NPROCESSORS_ONLN));
}
