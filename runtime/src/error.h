// Per-thread last error of the C API.
#ifndef XFMR_RUNTIME_ERROR_H
#define XFMR_RUNTIME_ERROR_H

#include <string>

namespace xfmr::rt {
void setError(std::string message);
const std::string &lastError();
} // namespace xfmr::rt

#endif
