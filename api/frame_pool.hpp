// Where coroutine frames come from. Every request allocates a few (the answer, the route's
// handler, the command's run), too large for the allocator's per-thread cache, so each was a
// trip through malloc's shared bins. Frames of up to kLargestPooled bytes are kept instead,
// when freed, on a list per size class of the thread that frees them, and given to the next
// frame of that class the thread allocates; a thread keeps at most kKeptBytes so. Larger
// frames, and every frame under AddressSanitizer (so that it still sees a frame used after its
// coroutine ended), go to operator new and delete.
#pragma once

#include <cstddef>

namespace keyledger::api::frame_pool {

inline constexpr std::size_t kLargestPooled = 8192;
inline constexpr std::size_t kKeptBytes = 1 << 20;

// False under AddressSanitizer: every frame then comes from operator new.
bool pooling();

void* allocate(std::size_t size);
// `size` is the one allocate() was given for it.
void release(void* frame, std::size_t size) noexcept;

// How many bytes of freed frames the calling thread keeps now.
std::size_t kept_bytes();

// A promise type deriving from this has its coroutines' frames allocated by the pool.
struct Pooled {
  static void* operator new(std::size_t size) { return allocate(size); }
  static void operator delete(void* frame, std::size_t size) noexcept { release(frame, size); }
};

}  // namespace keyledger::api::frame_pool
