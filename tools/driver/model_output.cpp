#include "model_output.h"
#include "xfmr/io/files.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

using namespace xfmr::driver;

namespace {
/// The files a compiled model directory holds.
const std::set<std::string> &modelFiles() {
  static const std::set<std::string> files = {"manifest.txt", "kernels.so",    "weights.bin",
                                              "vocab.json",   "merges.txt",    "tokenizer.json",
                                              "tokenizer_config.json"};
  return files;
}

std::string stripTrailingSlashes(std::string p) {
  while (p.size() > 1 && p.back() == '/')
    p.pop_back();
  return p;
}

/// The absolute, symlink-free form of a path whose last parts may not exist
/// yet: the existing prefix resolved, the rest appended.
std::string resolve(const std::string &path) {
  llvm::SmallString<256> abs(path);
  llvm::sys::fs::make_absolute(abs);
  llvm::sys::path::remove_dots(abs, /*remove_dot_dot=*/true);
  std::string rest;
  llvm::SmallString<256> head = abs;
  while (!head.empty()) {
    llvm::SmallString<256> real;
    if (!llvm::sys::fs::real_path(head, real))
      return std::string(real) + rest;
    rest = "/" + llvm::sys::path::filename(head).str() + rest;
    llvm::sys::path::remove_filename(head);
    if (head == "/")
      return rest;
  }
  return std::string(abs);
}

bool isInside(const std::string &path, const std::string &dir) {
  return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
                         (dir == "/" || path[dir.size()] == '/'));
}

/// Removes the temporary directories of earlier compiles to the same OUT
/// that were killed (their process is gone); live ones are left alone.
void removeStale(const std::string &parent, const std::string &prefix) {
  DIR *d = opendir(parent.c_str());
  if (!d)
    return;
  while (dirent *e = readdir(d)) {
    std::string name = e->d_name;
    if (name.compare(0, prefix.size(), prefix) != 0)
      continue;
    long pid = std::strtol(name.c_str() + prefix.size(), nullptr, 10);
    if (pid > 0 && pid != long(getpid()) && kill(pid_t(pid), 0) != 0 && errno == ESRCH)
      llvm::sys::fs::remove_directories(parent + "/" + name);
  }
  closedir(d);
}

/// Test hook: XFMR_TEST_KILL_AT=<point> kills the process at that point of
/// the commit, so the kill test can hit the windows between renames that a
/// random delay almost never lands in.
void killPoint(const char *point) {
  const char *at = std::getenv("XFMR_TEST_KILL_AT");
  if (at && std::strcmp(at, point) == 0)
    raise(SIGKILL);
}

int swapPaths(const std::string &a, const std::string &b) {
  return renameat2(AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE);
}
} // namespace

bool xfmr::driver::isReplaceableModelDir(const std::string &dir, std::string *why) {
  DIR *d = opendir(dir.c_str());
  if (!d) {
    *why = "cannot read it (" + std::string(std::strerror(errno)) + ")";
    return false;
  }
  bool any = false;
  while (dirent *e = readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..")
      continue;
    any = true;
    struct stat st;
    if (!modelFiles().count(name))
      *why = "it holds '" + name + "', which no compiled model has";
    else if (lstat((dir + "/" + name).c_str(), &st) != 0 || !S_ISREG(st.st_mode))
      *why = "its '" + name + "' is not a regular file";
    else
      continue;
    closedir(d);
    return false;
  }
  closedir(d);
  if (!any)
    return true;
  // The first bytes of the manifest, read without waiting on a FIFO (the
  // entries are regular files, but the directory may change meanwhile).
  std::string error;
  int64_t size = 0;
  int fd = ::xfmr::io::openRegularFile(dir + "/manifest.txt", &size, &error);
  char magic[14] = {};
  bool ok = fd >= 0 && pread(fd, magic, sizeof magic, 0) == ssize_t(sizeof magic) &&
            std::memcmp(magic, "xfmr-manifest ", sizeof magic) == 0;
  if (fd >= 0)
    close(fd);
  if (!ok)
    *why = "it has no xfmr manifest.txt";
  return ok;
}

bool ModelOutput::prepare(const std::string &sourceDir, const std::string &outDir,
                          std::string *error) {
  out_ = stripTrailingSlashes(outDir);
  if (out_.empty() || out_ == "/" || out_ == "." || out_ == "..") {
    *error = "-o " + outDir + ": not a place for a compiled model (give a new directory name)";
    return false;
  }
  std::string source = resolve(sourceDir), out = resolve(out_);
  if (isInside(out, source)) {
    *error = "-o " + outDir + ": is " + (out == source ? "the source model directory" :
                                                         "inside the source model directory " +
                                                             sourceDir) +
             "; refusing to write there";
    return false;
  }
  if (isInside(source, out)) {
    *error = "-o " + outDir + ": holds the source model " + sourceDir +
             "; refusing to replace it";
    return false;
  }
  struct stat st;
  if (lstat(out_.c_str(), &st) == 0) {
    std::string why;
    if (S_ISLNK(st.st_mode))
      why = "it is a symbolic link";
    else if (!S_ISDIR(st.st_mode))
      why = "it is not a directory";
    if (!why.empty() || !isReplaceableModelDir(out_, &why)) {
      *error = out_ + ": exists and is not an xfmr compiled model (" + why +
               "); refusing to replace it";
      return false;
    }
  }
  std::string parent = llvm::sys::path::parent_path(out_).str();
  if (parent.empty())
    parent = ".";
  if (llvm::sys::fs::create_directories(parent)) {
    *error = parent + ": cannot create the output's parent directory";
    return false;
  }
  std::string prefix = "." + llvm::sys::path::filename(out_).str() + ".xfmr-tmp-";
  removeStale(parent, prefix);
  std::string tmpl = parent + "/" + prefix + std::to_string(getpid()) + "-XXXXXX";
  if (!mkdtemp(tmpl.data())) {
    *error = parent + ": cannot create a temporary directory (" + std::strerror(errno) + ")";
    return false;
  }
  tmp_ = tmpl;
  // mkdtemp makes the directory 0700; the model gets what mkdir would give.
  chmod(tmp_.c_str(), 0777 & ~::xfmr::io::currentUmask());
  return true;
}

bool ModelOutput::commit(std::string *error) {
  killPoint("commit");
  // Where nothing is: a rename that fails rather than replace what another
  // compile put there meanwhile.
  if (renameat2(AT_FDCWD, tmp_.c_str(), AT_FDCWD, out_.c_str(), RENAME_NOREPLACE) == 0) {
    committed_ = true;
    return true;
  }
  if (errno == EINVAL || errno == ENOSYS) {
    // No atomic rename on this file system. Old aside and new in would leave
    // a window where a kill loses OUT; refuse instead.
    *error = out_ + ": this file system cannot replace a directory atomically; remove " +
             out_ + " first or compile to a new directory";
    return false;
  }
  if (errno != EEXIST && errno != ENOTEMPTY) {
    *error = out_ + ": cannot move the compiled model into place (" +
             std::strerror(errno) + ")";
    return false;
  }
  std::string why;
  if (!isReplaceableModelDir(out_, &why)) {
    *error = out_ + ": changed during the compile and is not an xfmr compiled model (" +
             why + "); left as it is";
    return false;
  }
  killPoint("before-exchange");
  if (swapPaths(tmp_, out_) != 0) {
    *error = out_ + ": cannot move the compiled model into place (" +
             std::strerror(errno) + ")";
    return false;
  }
  killPoint("after-exchange");
  // tmp_ now holds what OUT was. Between the check and the swap it may
  // have become something else (a user's directory, a symbolic link): then
  // swap back and leave it alone.
  struct stat st;
  if (lstat(tmp_.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) ||
      !isReplaceableModelDir(tmp_, &why)) {
    swapPaths(tmp_, out_);
    *error = out_ + ": changed during the compile and is not an xfmr compiled model; left "
                    "as it is";
    return false;
  }
  committed_ = true;
  llvm::sys::fs::remove_directories(tmp_);
  return true;
}

ModelOutput::~ModelOutput() {
  if (!committed_ && !tmp_.empty())
    llvm::sys::fs::remove_directories(tmp_);
}
