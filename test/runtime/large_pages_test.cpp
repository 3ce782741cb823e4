#include "xfmr/large_pages.h"

#include <gtest/gtest.h>

#include <cstring>
#include <utility>

using xfmr::rt::hugePageBytes;
using xfmr::rt::LargePageBuffer;

TEST(LargePageBuffer, AlignedZeroedWritableAndMovable) {
  const size_t bytes = (size_t(5) << 20) + 123; // not a whole number of pages
  LargePageBuffer a(bytes);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a.size(), bytes);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a.data()) % (size_t(2) << 20), 0u);
  for (size_t i = 0; i < bytes; i += 4096)
    ASSERT_EQ(a.data()[i], 0) << "byte " << i;
  std::memset(a.data(), 7, bytes);
  uint8_t *p = a.data();
  LargePageBuffer b(std::move(a));
  EXPECT_FALSE(a.ok());
  EXPECT_EQ(b.data(), p);
  EXPECT_EQ(b.data()[bytes - 1], 7);
  // Huge pages are the kernel's to give: what is reported is a byte count
  // within the buffer, or -1 without /proc.
  int64_t huge = hugePageBytes(b.data(), b.size());
  EXPECT_GE(huge, -1);
  EXPECT_LE(huge, int64_t(bytes));
}
