#include "sealed_secret.hpp"

#include <algorithm>

namespace keyledger::domain {

namespace {
constexpr std::string_view kEllipsis = "…";
bool printable(std::string_view part) {
  return std::all_of(part.begin(), part.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}
}  // namespace

std::string SealedSecret::masked() const {
  std::string out(mask.data(), 4);
  out += kEllipsis;
  out.append(mask.data() + 4, 4);
  return out;
}

bool SealedSecret::parse_masked(std::string_view text, std::array<char, 8>& out) {
  if (text.size() != 8 + kEllipsis.size() || text.substr(4, kEllipsis.size()) != kEllipsis) return false;
  std::string_view head = text.substr(0, 4), tail = text.substr(4 + kEllipsis.size());
  if (!printable(head) || !printable(tail)) return false;
  std::copy(head.begin(), head.end(), out.begin());
  std::copy(tail.begin(), tail.end(), out.begin() + 4);
  return true;
}

}  // namespace keyledger::domain
