#include "frame_pool.hpp"

#include <array>
#include <new>
#include <utility>

namespace keyledger::api::frame_pool {

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kPooling = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kPooling = false;
#else
constexpr bool kPooling = true;
#endif
#else
constexpr bool kPooling = true;
#endif

constexpr std::size_t kGranule = 256;
constexpr std::size_t kClasses = kLargestPooled / kGranule;

std::size_t class_of(std::size_t size) { return (size + kGranule - 1) / kGranule - 1; }
std::size_t bytes_of(std::size_t size_class) { return (size_class + 1) * kGranule; }

struct FreeFrame {
  FreeFrame* next;
};

struct Cache {
  std::array<FreeFrame*, kClasses> free{};
  std::size_t kept_bytes = 0;
  ~Cache();
};

// Trivially destructible, so still readable while the thread's other thread_locals are
// destroyed: a frame released after the cache is gone goes straight back to operator delete.
thread_local bool cache_gone = false;
thread_local Cache cache;

Cache::~Cache() {
  cache_gone = true;
  for (FreeFrame*& head : free) {
    while (head) ::operator delete(std::exchange(head, head->next));
  }
}

}  // namespace

bool pooling() { return kPooling; }

std::size_t kept_bytes() { return cache_gone ? 0 : cache.kept_bytes; }

void* allocate(std::size_t size) {
  if (!kPooling || size > kLargestPooled) return ::operator new(size);
  // Always the class's whole size: another thread may keep this frame for one of its class.
  const std::size_t c = class_of(size);
  if (cache_gone) return ::operator new(bytes_of(c));
  if (FreeFrame* frame = cache.free[c]) {
    cache.free[c] = frame->next;
    cache.kept_bytes -= bytes_of(c);
    return frame;
  }
  return ::operator new(bytes_of(c));
}

void release(void* frame, std::size_t size) noexcept {
  if (!kPooling || size > kLargestPooled || cache_gone) return ::operator delete(frame);
  const std::size_t c = class_of(size);
  if (cache.kept_bytes + bytes_of(c) > kKeptBytes) return ::operator delete(frame);
  cache.free[c] = new (frame) FreeFrame{cache.free[c]};
  cache.kept_bytes += bytes_of(c);
}

}  // namespace keyledger::api::frame_pool
