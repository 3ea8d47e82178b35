// Coroutine frames kept for reuse (api/frame_pool.hpp): a frame freed on one thread serves
// the next frame of its size class allocated there, in a block as large as the class's
// largest frame, and a thread keeps no more than kKeptBytes. Under AddressSanitizer nothing
// is kept (so that it still sees a frame used after its coroutine ended).
#include <catch2/catch.hpp>

#include <malloc.h>

#include <cstring>
#include <thread>
#include <vector>

#include "api/frame_pool.hpp"

namespace fp = keyledger::api::frame_pool;

namespace {
// Runs `f` on a thread of its own, which starts with nothing kept.
template <class F>
void on_new_thread(F f) {
  std::thread(f).join();
}
}  // namespace

TEST_CASE("frame pool: a frame freed on a thread serves that thread's next frame of its class, not another class's",
          "[backendless]") {
  void* first = fp::allocate(300);
  if (fp::pooling()) CHECK(malloc_usable_size(first) >= 512);  // 257..512 bytes: one class
  std::memset(first, 1, 300);
  on_new_thread([&] {
    fp::release(first, 300);
    CHECK(fp::kept_bytes() == (fp::pooling() ? 512u : 0u));
    void* other_class = fp::allocate(600);
    void* same_class = fp::allocate(500);
    CHECK(other_class != first);
    CHECK((same_class == first) == fp::pooling());
    std::memset(same_class, 2, 500);
    CHECK(fp::kept_bytes() == 0);
    fp::release(same_class, 500);
    fp::release(other_class, 600);
  });
}

TEST_CASE("frame pool: a thread keeps at most kKeptBytes of freed frames, and never a frame above kLargestPooled",
          "[backendless]") {
  on_new_thread([] {
    const std::size_t size = fp::kLargestPooled;
    std::vector<void*> frames;
    for (std::size_t i = 0; i < 2 * fp::kKeptBytes / size; ++i) frames.push_back(fp::allocate(size));
    for (void* f : frames) fp::release(f, size);
    CHECK(fp::kept_bytes() == (fp::pooling() ? fp::kKeptBytes : 0));
    frames.clear();
    for (std::size_t i = 0; i < fp::kKeptBytes / size; ++i) frames.push_back(fp::allocate(size));
    CHECK(fp::kept_bytes() == 0);
    for (void* f : frames) fp::release(f, size);

    void* huge = fp::allocate(fp::kLargestPooled + 1);
    const std::size_t kept = fp::kept_bytes();
    fp::release(huge, fp::kLargestPooled + 1);
    CHECK(fp::kept_bytes() == kept);
  });
}
