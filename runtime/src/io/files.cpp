#include "xfmr/io/files.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <vector>
#include <unistd.h>

using namespace xfmr::io;

namespace {
std::string kindOf(mode_t mode) {
  if (S_ISDIR(mode))
    return "a directory";
  if (S_ISFIFO(mode))
    return "a FIFO";
  if (S_ISCHR(mode) || S_ISBLK(mode))
    return "a device";
  if (S_ISSOCK(mode))
    return "a socket";
  if (S_ISLNK(mode))
    return "a symbolic link";
  return "not a regular file";
}
} // namespace

int xfmr::io::openRegularFile(const std::string &path, int64_t *size,
                              std::string *error) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer.
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    *error = path + ": cannot open (" + std::strerror(errno) + ")";
    return -1;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    *error = path + ": cannot stat (" + std::strerror(errno) + ")";
    ::close(fd);
    return -1;
  }
  if (!S_ISREG(st.st_mode)) {
    *error = path + ": is " + kindOf(st.st_mode) + ", not a regular file";
    ::close(fd);
    return -1;
  }
  int flags = fcntl(fd, F_GETFL);
  if (flags >= 0)
    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  if (size)
    *size = int64_t(st.st_size);
  return fd;
}

bool xfmr::io::readRegularFile(const std::string &path, int64_t maxBytes,
                               std::string *out, std::string *error) {
  int64_t size = 0;
  int fd = openRegularFile(path, &size, error);
  if (fd < 0)
    return false;
  if (size > maxBytes) {
    *error = path + ": " + std::to_string(size) + " bytes, more than the " +
             std::to_string(maxBytes) + " this file may have";
    ::close(fd);
    return false;
  }
  out->assign(size_t(size), '\0');
  size_t done = 0;
  while (done < size_t(size)) {
    ssize_t r = ::read(fd, out->data() + done, size_t(size) - done);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0) {
      *error = path + ": read failed at byte " + std::to_string(done) +
               (r == 0 ? " (the file shrank)" : "");
      ::close(fd);
      return false;
    }
    done += size_t(r);
  }
  ::close(fd);
  return true;
}

bool xfmr::io::writeFileAtomic(const std::string &path, const void *data, size_t size,
                               std::string *error) {
  struct stat st;
  bool exists = lstat(path.c_str(), &st) == 0;
  if (exists && !S_ISREG(st.st_mode)) {
    *error = path + ": is " + kindOf(st.st_mode) + "; refusing to replace it with a file";
    return false;
  }
  // A sibling, so the rename stays within one file system.
  std::string dir = ".", base = path;
  size_t slash = path.rfind('/');
  if (slash != std::string::npos) {
    dir = slash == 0 ? "/" : path.substr(0, slash);
    base = path.substr(slash + 1);
  }
  if (base.empty()) {
    *error = path + ": names a directory, not a file";
    return false;
  }
  std::string tmp = dir + "/." + base + ".tmp-XXXXXX";
  int fd = mkstemp(tmp.data());
  if (fd < 0) {
    *error = path + ": cannot create a temporary file beside it (" + std::strerror(errno) + ")";
    return false;
  }
  // mkstemp makes the file 0600: give it the old file's permissions, or
  // those a new file gets.
  fchmod(fd, exists ? (st.st_mode & 07777) : (0666 & ~currentUmask()));
  const char *p = static_cast<const char *>(data);
  size_t done = 0;
  bool ok = true;
  while (ok && done < size) {
    ssize_t w = ::write(fd, p + done, size - done);
    if (w < 0 && errno == EINTR)
      continue;
    ok = w > 0;
    if (ok)
      done += size_t(w);
  }
  ok = ok && fsync(fd) == 0;
  ok = (::close(fd) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    *error = path + ": write failed (" + std::strerror(errno) + ")";
    ::unlink(tmp.c_str());
    return false;
  }
  return true;
}

unsigned xfmr::io::currentUmask() {
  // /proc files report size 0: read until the end.
  int fd = ::open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  std::string status;
  char buf[4096];
  for (ssize_t r; fd >= 0 && (r = ::read(fd, buf, sizeof buf)) > 0;)
    status.append(buf, size_t(r));
  if (fd >= 0)
    ::close(fd);
  size_t at = status.find("\nUmask:");
  if (at != std::string::npos)
    return unsigned(std::strtoul(status.c_str() + at + 7, nullptr, 8)) & 0777;
  return 022; // no /proc: the usual default
}

bool xfmr::io::jsonDepthWithin(const char *begin, const char *end, int maxDepth) {
  int depth = 0;
  bool inString = false;
  for (const char *c = begin; c < end; ++c) {
    if (inString) {
      if (*c == '\\' && c + 1 < end)
        ++c; // the escaped character cannot end the string
      else if (*c == '"')
        inString = false;
    } else if (*c == '"') {
      inString = true;
    } else if (*c == '[' || *c == '{') {
      if (++depth > maxDepth)
        return false;
    } else if ((*c == ']' || *c == '}') && depth > 0) {
      --depth;
    }
  }
  return true;
}

namespace {
/// Fraction of the first `bytes` of `fd` resident in the page cache.
double residentFraction(int fd, size_t bytes) {
  if (bytes == 0)
    return 1.0;
  void *map = mmap(nullptr, bytes, PROT_READ, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED)
    return 1.0; // cannot tell: read through the cache
  const size_t page = size_t(sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> resident((bytes + page - 1) / page);
  double fraction = 1.0;
  if (mincore(map, bytes, resident.data()) == 0) {
    size_t in = 0;
    for (unsigned char r : resident)
      in += r & 1;
    fraction = double(in) / double(resident.size());
  }
  munmap(map, bytes);
  return fraction;
}

bool preadLoop(int fd, uint8_t *dst, size_t bytes, size_t want, const std::string &path,
               std::string *error) {
  size_t done = 0;
  while (done < bytes) {
    // O_DIRECT: whole blocks, the last one past the end comes back short.
    size_t ask = std::min<size_t>(want - done, size_t(64) << 20);
    ssize_t r = pread(fd, dst + done, ask, off_t(done));
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0) {
      *error = path + ": read failed at byte " + std::to_string(done) + " of " +
               std::to_string(bytes) +
               (r == 0 ? " (file shrank)" : " (" + std::string(std::strerror(errno)) + ")");
      return false;
    }
    done += size_t(r);
  }
  return true;
}
} // namespace

bool xfmr::io::readLargeFile(int fd, const std::string &path, uint8_t *dst, size_t bytes,
                             bool *direct, std::string *error) {
  *direct = false;
  constexpr size_t kBlock = 4096;
  if (residentFraction(fd, bytes) < 0.5 && reinterpret_cast<uintptr_t>(dst) % kBlock == 0) {
    int dfd = ::open(("/proc/self/fd/" + std::to_string(fd)).c_str(),
                     O_RDONLY | O_DIRECT | O_CLOEXEC);
    if (dfd >= 0) {
      std::string e;
      bool ok = preadLoop(dfd, dst, bytes, (bytes + kBlock - 1) / kBlock * kBlock, path, &e);
      ::close(dfd);
      if (ok) {
        *direct = true;
        return true;
      }
      // Refused mid-way (a file system that takes the flag but not the
      // reads): read everything again through the cache below.
    }
  }
  return preadLoop(fd, dst, bytes, bytes, path, error);
}

std::string xfmr::io::quoted(std::string_view s) {
  constexpr size_t kMaxQuotedBytes = 40;
  std::string out = "'";
  for (size_t i = 0; i < s.size() && i < kMaxQuotedBytes; ++i) {
    unsigned char c = s[i];
    if (c < 0x20 || c == 0x7F || c == '\\' || c == '\'') {
      static const char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += char(c);
    }
  }
  return out + (s.size() > kMaxQuotedBytes ? "'..." : "'");
}


const uint8_t *xfmr::io::mapRegularFile(const std::string &path, size_t minBytes,
                                        const std::string &tooShort, size_t *size,
                                        std::string *error) {
  int64_t bytes = 0;
  int fd = openRegularFile(path, &bytes, error);
  if (fd < 0)
    return nullptr;
  if (bytes < int64_t(minBytes) || bytes == 0) {
    ::close(fd);
    *error = path + ": truncated: " + std::to_string(bytes) + " bytes, " + tooShort;
    return nullptr;
  }
  void *map = mmap(nullptr, size_t(bytes), PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) {
    *error = path + ": mmap failed";
    return nullptr;
  }
  *size = size_t(bytes);
  return static_cast<const uint8_t *>(map);
}
