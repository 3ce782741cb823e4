// Reading and writing files safely: every input is a regular file of a
// bounded size (a FIFO, a device or a directory is refused at once, never
// waited on), every output is written to a unique temporary sibling and
// renamed into place, so a reader never sees half a file and a kill leaves
// the previous file whole. Used by the runtime, the compiler and the tools.
#ifndef XFMR_IO_FILES_H
#define XFMR_IO_FILES_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace xfmr::io {

/// Opens `path` read-only if it is a regular file (symbolic links to one
/// are followed), without blocking on FIFOs. Returns the descriptor and its
/// size, or -1 with a one-line *error naming the path.
int openRegularFile(const std::string &path, int64_t *size, std::string *error);

/// Maps a regular file read-only (private), refusing one shorter than
/// `minBytes` with "PATH: truncated: N bytes, <tooShort>". nullptr with a
/// one-line *error on failure; the caller munmaps `*size` bytes.
const uint8_t *mapRegularFile(const std::string &path, size_t minBytes,
                              const std::string &tooShort, size_t *size, std::string *error);

/// Reads all of a regular file of at most `maxBytes` into *out.
bool readRegularFile(const std::string &path, int64_t maxBytes, std::string *out,
                     std::string *error);

/// Writes `size` bytes to `path`: into a unique temporary sibling, flushed,
/// then renamed over `path`. A `path` that exists and is not a regular file
/// (a directory, a device node, a FIFO, a symbolic link) is refused and left
/// alone. A replaced file keeps its permissions; a new one gets what
/// creat(2) would give. On failure nothing is left behind and *error says
/// why.
bool writeFileAtomic(const std::string &path, const void *data, size_t size,
                     std::string *error);
inline bool writeFileAtomic(const std::string &path, const std::string &text,
                            std::string *error) {
  return writeFileAtomic(path, text.data(), text.size(), error);
}

/// Reads the first `bytes` of the open file `fd` (`path`, for messages)
/// into `dst`, which must be 4096-aligned with room for `bytes` rounded up
/// to 4096. A file mostly in the page cache is copied from there (pread);
/// one that is not is read with O_DIRECT, at the disk's speed and without a
/// second copy in the cache (on the project's VMs filling the cache runs at
/// ~150 MB/s of kernel time: 2.2 GB took 14.7 s that way, 2 s direct).
/// `*direct` says which way it went.
bool readLargeFile(int fd, const std::string &path, uint8_t *dst, size_t bytes,
                   bool *direct, std::string *error);

/// `s` (a name or string from an untrusted file) quoted for a one-line
/// error message: control bytes, quotes and backslashes as \xNN, cut after
/// 40 bytes ('abc', 'a\x0ab', 'aaa...'...).
std::string quoted(std::string_view s);

/// True when the JSON text nests arrays and objects at most `maxDepth`
/// deep (brackets inside strings do not count). JSON readers call it before
/// parsing, so a hostile file cannot exhaust the stack of a recursive
/// parser, printer or destructor.
bool jsonDepthWithin(const char *begin, const char *end, int maxDepth);

/// The process's umask, read without changing it (umask(2) can only be
/// read by setting it, which races with other threads creating files).
unsigned currentUmask();

/// The most bytes a tokenizer file (vocab.json, merges.txt, tokenizer.json,
/// tokenizer_config.json) may have: GPT-2's are 1.0 MB and 0.5 MB, Llama 3's
/// tokenizer.json 9 MB, Qwen3's 11 MB.
constexpr int64_t kMaxTokenizerFileBytes = int64_t(64) << 20;

/// Nesting the project's JSON files need (config.json, tokenizer files,
/// safetensors headers, tuning exports): a handful of levels.
constexpr int kMaxJsonDepth = 64;

} // namespace xfmr::io

#endif
