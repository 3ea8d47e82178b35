#include "rfc3339.hpp"

#include <charconv>
#include <chrono>
#include <cstdio>

namespace keyledger::eventstore {

std::string format_rfc3339(domain::Timestamp t) {
  using namespace std::chrono;
  auto day = floor<days>(t);
  year_month_day ymd{day};
  hh_mm_ss hms{t - day};
  const int y = static_cast<int>(ymd.year());
  const auto mo = static_cast<unsigned>(ymd.month()), d = static_cast<unsigned>(ymd.day());
  const auto h = static_cast<unsigned>(hms.hours().count()), mi = static_cast<unsigned>(hms.minutes().count());
  const auto sec = static_cast<unsigned>(hms.seconds().count());
  const auto ms = static_cast<unsigned>(hms.subseconds().count());
  if (y < 0 || y > 9999) {  // never in a stored event; written as printf writes it
    char buf[40];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02u:%02u:%02u.%03uZ", y, mo, d, h, mi, sec, ms);
    return buf;
  }
  // Every command writes several of these: digit by digit, not through printf.
  std::string out = "0000-00-00T00:00:00.000Z";
  auto put = [&](std::size_t at, unsigned value, int width) {
    for (int i = width - 1; i >= 0; --i, value /= 10) out[at + static_cast<std::size_t>(i)] = static_cast<char>('0' + value % 10);
  };
  put(0, static_cast<unsigned>(y), 4);
  put(5, mo, 2);
  put(8, d, 2);
  put(11, h, 2);
  put(14, mi, 2);
  put(17, sec, 2);
  put(20, ms, 3);
  return out;
}

std::optional<domain::Timestamp> parse_rfc3339(std::string_view s) {
  using namespace std::chrono;
  auto number = [&](std::size_t at, std::size_t len, int& out) {
    if (at + len > s.size()) return false;
    auto [p, ec] = std::from_chars(s.data() + at, s.data() + at + len, out);
    return ec == std::errc{} && p == s.data() + at + len;
  };
  int y, mo, d, h, mi, sec, ms = 0;
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':') return std::nullopt;
  if (!number(0, 4, y) || !number(5, 2, mo) || !number(8, 2, d) || !number(11, 2, h) || !number(14, 2, mi) ||
      !number(17, 2, sec)) {
    return std::nullopt;
  }
  std::size_t at = 19;
  if (s[at] == '.') {
    if (!number(at + 1, 3, ms)) return std::nullopt;
    at += 4;
  }
  if (at + 1 != s.size() || s[at] != 'Z') return std::nullopt;
  year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || sec > 59) return std::nullopt;
  return domain::Timestamp{sys_days{ymd}.time_since_epoch() + hours{h} + minutes{mi} + seconds{sec} +
                           milliseconds{ms}};
}

}  // namespace keyledger::eventstore
