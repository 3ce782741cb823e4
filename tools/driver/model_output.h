// Where `xfmr compile` writes: a unique temporary sibling of OUT, moved
// into place by renames only, so that whatever kills the compile, OUT is
// the previous model or the new one, whole, and nothing of the user's is
// ever deleted.
#ifndef XFMR_TOOLS_MODEL_OUTPUT_H
#define XFMR_TOOLS_MODEL_OUTPUT_H

#include <string>

namespace xfmr::driver {

class ModelOutput {
public:
  /// Checks OUT before any work: it must not be the source model or inside
  /// it, and if it exists it must be an empty directory or an xfmr compiled
  /// model (nothing else is replaced). Creates the temporary directory.
  /// False and a one-line *error otherwise.
  bool prepare(const std::string &sourceDir, const std::string &outDir, std::string *error);
  /// The directory to write the new model into.
  const std::string &dir() const { return tmp_; }
  /// Moves the new model into place: an atomic exchange with the previous
  /// one (then removed), or a rename where there was none.
  bool commit(std::string *error);
  /// Removes the temporary directory unless committed.
  ~ModelOutput();

private:
  std::string out_, tmp_;
  bool committed_ = false;
};

/// Whether `dir` holds an xfmr compiled model and nothing else (an empty
/// directory counts as one, so `mkdir OUT` first works); otherwise *why.
bool isReplaceableModelDir(const std::string &dir, std::string *why);

} // namespace xfmr::driver

#endif
