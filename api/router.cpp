#include "router.hpp"

namespace keyledger::api {

namespace {

std::vector<std::string_view> segments_of(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t pos = 1;
  while (pos <= path.size()) {
    auto next = path.find('/', pos);
    if (next == std::string_view::npos) next = path.size();
    out.push_back(path.substr(pos, next - pos));
    pos = next + 1;
  }
  return out;
}

bool is_parameter(std::string_view segment) { return segment.starts_with("{"); }

// Whether a pattern's segments match a path's: literal segments equal, parameters not empty.
bool matches(const std::vector<std::string>& want, const std::vector<std::string_view>& got) {
  if (want.size() != got.size()) return false;
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (is_parameter(want[i]) ? got[i].empty() : want[i] != got[i]) return false;
  }
  return true;
}

}  // namespace

void Router::add_route(std::string method, std::string pattern, Handler handler, WaitingHandler waiting_handler) {
  std::vector<std::string> segments;
  for (auto s : segments_of(pattern)) segments.emplace_back(s);
  routes_.push_back(Route{std::move(method), std::move(pattern), std::move(handler), std::move(waiting_handler),
                          std::move(segments)});
}

Expected<Router::Match> Router::match(std::string_view method, std::string_view path) const {
  const auto got = segments_of(path);
  std::string allowed;
  for (const Route& route : routes_) {
    if (!matches(route.segments, got)) continue;
    if (route.method != method) {
      allowed += (allowed.empty() ? "" : ", ") + route.method;
      continue;
    }
    Match found{&route, {}};
    for (std::size_t i = 0; i < got.size(); ++i) {
      const std::string& s = route.segments[i];
      if (is_parameter(s)) found.params[s.substr(1, s.size() - 2)] = percent_decode(got[i]);
    }
    return found;
  }
  if (!allowed.empty()) {
    return std::unexpected(ApiError{405, "method_not_allowed", std::string(method) + " is not allowed here", "",
                                    {{"Allow", allowed}}});
  }
  return std::unexpected(not_found("no route for " + std::string(method) + " " + std::string(path)));
}

}  // namespace keyledger::api
