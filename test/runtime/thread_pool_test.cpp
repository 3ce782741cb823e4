#include "xfmr/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <vector>

using xfmr::rt::ThreadPool;

namespace {
struct Work {
  std::vector<std::atomic<int>> hits;
  explicit Work(size_t n) : hits(n) {}
};

void mark(void *ctx, int64_t begin, int64_t end) {
  auto *w = static_cast<Work *>(ctx);
  for (int64_t i = begin; i < end; ++i)
    w->hits[size_t(i)].fetch_add(1);
}

TEST(ThreadPool, EveryUnitRunsExactlyOnce) {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (int64_t units : {0, 1, 2, 7, 64, 1000}) {
      for (int rep = 0; rep < 50; ++rep) {
        Work w(static_cast<size_t>(units));
        pool.run(mark, &w, units);
        for (int64_t i = 0; i < units; ++i)
          ASSERT_EQ(w.hits[size_t(i)].load(), 1)
              << threads << " threads, " << units << " units, unit " << i;
      }
    }
  }
}

TEST(ThreadPool, WakesAfterSleeping) {
  ThreadPool pool(2);
  Work w(4);
  pool.run(mark, &w, 4);
  std::this_thread::sleep_for(std::chrono::milliseconds(50)); // workers sleep
  pool.run(mark, &w, 4);
  for (auto &h : w.hits)
    EXPECT_EQ(h.load(), 2);
}
} // namespace
