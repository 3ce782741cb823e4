// A persistent pool of worker threads for the kernels' [begin, end) splits.
//
// run() hands the same function to every thread, each with its static slice
// of the work units, and returns when all slices are done. Workers spin
// briefly between calls (a decode step runs ~120 dispatches back to back)
// and sleep on a condition variable when idle for longer, so a waiting
// program does not burn its cores.
//
// Part of the runtime's C++ surface: the autotuner times candidate kernels
// on this same pool, split the same way, so tuned figures hold at run time.
#ifndef XFMR_RUNTIME_THREAD_POOL_H
#define XFMR_RUNTIME_THREAD_POOL_H

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace xfmr::rt {

class ThreadPool {
public:
  using Fn = void (*)(void *ctx, int64_t begin, int64_t end);
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  int size() const { return n_; }
  /// Runs fn over units [0, units) split evenly; the caller runs slice 0.
  void run(Fn fn, void *ctx, int64_t units);

private:
  void worker(int index);
  void slice(int index);

  int n_;
  std::vector<std::thread> threads_;
  Fn fn_ = nullptr;
  void *ctx_ = nullptr;
  int64_t units_ = 0;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
};

} // namespace xfmr::rt

#endif
