// AMX tile state is off for a Linux process until it asks for it; kernels
// that use AMX (schedule `amx`) must only run after requestAMX() succeeded.
#ifndef XFMR_IO_AMX_H
#define XFMR_IO_AMX_H

#include <string>

namespace xfmr::io {

/// Asks the kernel for AMX tile data state (arch_prctl
/// ARCH_REQ_XCOMP_PERM). Returns false with a one-line reason when the OS or
/// CPU refuses. Idempotent and thread-safe.
bool requestAMX(std::string *error);

} // namespace xfmr::io

#endif
