#include "error.h"

#include "xfmr/runtime.h"

namespace {
thread_local std::string g_error;
}

void xfmr::rt::setError(std::string message) { g_error = std::move(message); }
const std::string &xfmr::rt::lastError() { return g_error; }

extern "C" const char *xfmr_last_error(void) { return g_error.c_str(); }
