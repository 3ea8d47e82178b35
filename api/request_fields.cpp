#include "request_fields.hpp"

namespace keyledger::api {

namespace {
[[noreturn]] void bad(const std::string& field, const std::string& what) {
  throw ApiError{400, "invalid_request", field + " " + what, field, {}};
}
}  // namespace

std::string required_string(const nlohmann::json& body, const std::string& field) {
  auto value = optional_string(body, field);
  if (!value) bad(field, "is required");
  return *value;
}

std::optional<std::string> optional_string(const nlohmann::json& body, const std::string& field) {
  if (!body.contains(field) || body[field].is_null()) return std::nullopt;
  if (!body[field].is_string()) bad(field, "must be a string");
  return body[field].get<std::string>();
}

std::optional<std::vector<std::string>> optional_string_array(const nlohmann::json& body, const std::string& field) {
  if (!body.contains(field) || body[field].is_null()) return std::nullopt;
  if (!body[field].is_array()) bad(field, "must be an array of strings");
  std::vector<std::string> out;
  for (std::size_t i = 0; i < body[field].size(); ++i) {
    if (!body[field][i].is_string()) bad(field + "[" + std::to_string(i) + "]", "must be a string");
    out.push_back(body[field][i].get<std::string>());
  }
  return out;
}

std::optional<std::int64_t> optional_integer(const nlohmann::json& body, const std::string& field) {
  if (!body.contains(field) || body[field].is_null()) return std::nullopt;
  if (!body[field].is_number_integer()) bad(field, "must be an integer");
  return body[field].get<std::int64_t>();
}

}  // namespace keyledger::api
