#include "request_context.hpp"

#include <cctype>
#include <charconv>

namespace keyledger::api {

using nlohmann::json;

Fields Fields::failed(ApiError error) {
  static const json kNothing = json::object();
  Fields f(kNothing);
  f.error_ = std::move(error);
  return f;
}

void Fields::fail(const std::string& field, const std::string& what) {
  if (!error_) error_ = invalid_request(field, field + " " + what);
}

const json* Fields::field(const std::string& name) {
  if (error_) return nullptr;
  auto it = object_->find(name);
  return it == object_->end() || it->is_null() ? nullptr : &*it;
}

std::string Fields::required_string(const std::string& name) {
  const bool absent = !error_ && field(name) == nullptr;
  auto value = optional_string(name);
  if (absent) fail(name, "is required");
  return value.value_or("");
}

std::optional<std::string> Fields::optional_string(const std::string& name) {
  const json* value = field(name);
  if (!value) return std::nullopt;
  if (!value->is_string()) return fail(name, "must be a string"), std::nullopt;
  return value->get<std::string>();
}

std::optional<std::vector<std::string>> Fields::optional_string_array(const std::string& name) {
  const json* value = field(name);
  if (!value) return std::nullopt;
  if (!value->is_array()) return fail(name, "must be an array of strings"), std::nullopt;
  std::vector<std::string> out;
  for (std::size_t i = 0; i < value->size(); ++i) {
    if (!(*value)[i].is_string()) return fail(name + "[" + std::to_string(i) + "]", "must be a string"), std::nullopt;
    out.push_back((*value)[i].get<std::string>());
  }
  return out;
}

std::optional<std::int64_t> Fields::optional_integer(const std::string& name) {
  const json* value = field(name);
  if (!value) return std::nullopt;
  if (!value->is_number_integer()) return fail(name, "must be an integer"), std::nullopt;
  return value->get<std::int64_t>();
}

Fields Fields::object(const std::string& name, const std::string& what) {
  if (error_) return failed(*error_);
  const json* value = field(name);
  if (!value || !value->is_object()) return failed(invalid_request(name, name + " must be " + what));
  return Fields(*value);
}

std::optional<std::uint64_t> parse_decimal(std::string_view text) {
  std::uint64_t value = 0;
  if (text.empty() || text.size() > 20) return std::nullopt;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

Expected<std::uint64_t> RequestContext::number(const char* name, std::uint64_t fallback, std::uint64_t min,
                                               std::uint64_t max) const {
  auto it = query.find(name);
  if (it == query.end()) return fallback;
  if (const auto v = parse_decimal(it->second); v && *v >= min && *v <= max) return *v;
  return std::unexpected(invalid_request(
      name, std::string(name) + " must be a whole number from " + std::to_string(min) + " to " + std::to_string(max)));
}

Fields RequestContext::fields() const {
  if (!parsed_body_) parsed_body_ = json::parse(request.body, nullptr, false);
  if (parsed_body_->is_discarded() || !parsed_body_->is_object()) {
    return Fields::failed(invalid_request("body", "the request body must be a JSON object"));
  }
  return Fields(*parsed_body_);
}

std::string percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::map<std::string, std::string> parse_query(std::string_view target) {
  std::map<std::string, std::string> query;
  auto q = target.find('?');
  if (q == std::string_view::npos) return query;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    auto eq = pair.find('=');
    std::string value = eq == std::string_view::npos ? "" : std::string(pair.substr(eq + 1));
    for (auto& c : value) c = c == '+' ? ' ' : c;
    query[percent_decode(pair.substr(0, eq))] = percent_decode(value);
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return query;
}

}  // namespace keyledger::api
