#include "xfmr/thread_pool.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define XFMR_PAUSE() _mm_pause()
#else
#define XFMR_PAUSE() std::this_thread::yield()
#endif

using namespace xfmr::rt;

namespace {
// About a millisecond of spinning before a worker goes to sleep.
constexpr int kSpinIterations = 20000;
} // namespace

ThreadPool::ThreadPool(int threads) : n_(threads < 1 ? 1 : threads) {
  for (int i = 1; i < n_; ++i)
    threads_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
    generation_.fetch_add(1);
  }
  wake_.notify_all();
  for (auto &t : threads_)
    t.join();
}

void ThreadPool::slice(int index) {
  int64_t b = units_ * index / n_, e = units_ * (index + 1) / n_;
  if (b < e)
    fn_(ctx_, b, e);
}

void ThreadPool::run(Fn fn, void *ctx, int64_t units) {
  if (n_ == 1 || units <= 1) {
    if (units > 0)
      fn(ctx, 0, units);
    return;
  }
  fn_ = fn;
  ctx_ = ctx;
  units_ = units;
  pending_.store(n_ - 1, std::memory_order_relaxed);
  generation_.fetch_add(1); // seq_cst: publishes the job
  if (sleepers_.load() > 0) {
    std::lock_guard<std::mutex> lock(mutex_);
    wake_.notify_all();
  }
  slice(0);
  while (pending_.load(std::memory_order_acquire) != 0)
    XFMR_PAUSE();
}

void ThreadPool::worker(int index) {
  uint64_t seen = 0;
  for (;;) {
    int spins = 0;
    while (generation_.load(std::memory_order_acquire) == seen) {
      if (++spins < kSpinIterations) {
        XFMR_PAUSE();
        continue;
      }
      std::unique_lock<std::mutex> lock(mutex_);
      sleepers_.fetch_add(1);
      wake_.wait(lock, [&] { return generation_.load() != seen; });
      sleepers_.fetch_sub(1);
    }
    seen = generation_.load(std::memory_order_acquire);
    if (stop_.load())
      return;
    slice(index);
    pending_.fetch_sub(1, std::memory_order_release);
  }
}
