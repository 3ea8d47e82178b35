// A key's id as the state keeps it: in place, without a heap allocation, for ids of up to
// 30 characters (the API's are 24: "key_" and 20 hex digits); a longer one is kept whole on
// the heap. Compares as its text, also with std::string and std::string_view, so that
// std::map<KeyId, T, std::less<>> is looked up with either.
#pragma once

#include <compare>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace keyledger::domain {

class KeyId {
 public:
  KeyId() = default;
  KeyId(std::string_view id) { assign(id); }  // NOLINT: implicit, as std::string is
  KeyId(const std::string& id) : KeyId(std::string_view(id)) {}
  KeyId(const char* id) : KeyId(std::string_view(id)) {}
  KeyId(const KeyId& other) { assign(other.view()); }
  KeyId& operator=(const KeyId& other) {
    if (this != &other) {
      release();
      assign(other.view());
    }
    return *this;
  }
  KeyId(KeyId&& other) noexcept { take(other); }
  KeyId& operator=(KeyId&& other) noexcept {
    if (this != &other) {
      release();
      take(other);
    }
    return *this;
  }
  ~KeyId() { release(); }

  std::string_view view() const {
    return size() == kHeap ? std::string_view(*heap()) : std::string_view(bytes_, size());
  }
  operator std::string_view() const { return view(); }  // NOLINT
  std::string str() const { return std::string(view()); }
  bool empty() const { return view().empty(); }

  friend bool operator==(const KeyId& a, const KeyId& b) { return a.view() == b.view(); }
  friend auto operator<=>(const KeyId& a, const KeyId& b) { return a.view() <=> b.view(); }
  friend bool operator==(const KeyId& a, std::string_view b) { return a.view() == b; }
  friend auto operator<=>(const KeyId& a, std::string_view b) { return a.view() <=> b; }
  friend bool operator==(const KeyId& a, const std::string& b) { return a.view() == b; }
  friend auto operator<=>(const KeyId& a, const std::string& b) { return a.view() <=> std::string_view(b); }
  friend bool operator==(const KeyId& a, const char* b) { return a.view() == b; }
  friend auto operator<=>(const KeyId& a, const char* b) { return a.view() <=> std::string_view(b); }

 private:
  // 32 bytes: the characters in place and their count in the last byte, or (count kHeap) a
  // pointer to the id on the heap in the first eight.
  static constexpr std::size_t kInline = 30;
  static constexpr std::uint8_t kHeap = 0xff;

  std::uint8_t size() const { return static_cast<std::uint8_t>(bytes_[31]); }
  std::string* heap() const {
    std::string* p;
    std::memcpy(&p, bytes_, sizeof p);
    return p;
  }
  void assign(std::string_view id) {
    if (id.size() <= kInline) {
      std::memcpy(bytes_, id.data(), id.size());
      bytes_[31] = static_cast<char>(id.size());
    } else {
      std::string* p = new std::string(id);
      std::memcpy(bytes_, &p, sizeof p);
      bytes_[31] = static_cast<char>(kHeap);
    }
  }
  void take(KeyId& other) noexcept {
    std::memcpy(bytes_, other.bytes_, sizeof bytes_);  // the characters, or the pointer
    other.bytes_[31] = 0;
  }
  void release() {
    if (size() == kHeap) delete heap();
    bytes_[31] = 0;
  }

  alignas(8) char bytes_[32] = {};
};

static_assert(sizeof(KeyId) == 32);

}  // namespace keyledger::domain
