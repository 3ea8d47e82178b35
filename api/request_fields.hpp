// Reading fields of a JSON request body; a missing or mistyped field is a 400
// invalid_request naming it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "application.hpp"

namespace keyledger::api {

std::string required_string(const nlohmann::json& body, const std::string& field);
std::optional<std::string> optional_string(const nlohmann::json& body, const std::string& field);
std::optional<std::vector<std::string>> optional_string_array(const nlohmann::json& body, const std::string& field);
std::optional<std::int64_t> optional_integer(const nlohmann::json& body, const std::string& field);

}  // namespace keyledger::api
