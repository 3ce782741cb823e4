#include "xfmr/io/amx.h"

#include <cerrno>
#include <cstring>
#include <mutex>

#if defined(__linux__) && defined(__x86_64__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

bool xfmr::io::requestAMX(std::string *error) {
#if defined(__linux__) && defined(__x86_64__)
  static std::once_flag once;
  static int result = 0;
  std::call_once(once, [] {
    constexpr long kReqXCompPerm = 0x1023, kXFeatureXTileData = 18;
    result = syscall(SYS_arch_prctl, kReqXCompPerm, kXFeatureXTileData) == 0 ? 0 : errno;
  });
  if (result == 0)
    return true;
  *error = std::string("the kernels use AMX, but Linux refused AMX tile state "
                       "(arch_prctl ARCH_REQ_XCOMP_PERM: ") +
           std::strerror(result) + "); recompile without --amx";
  return false;
#else
  *error = "the kernels use AMX, which needs Linux on x86-64; recompile without --amx";
  return false;
#endif
}
