#include "commands.hpp"

namespace keyledger::domain {

std::string_view denied_event_type(const Command& command) {
  return std::visit([](const auto& c) { return std::decay_t<decltype(c)>::denied_as; }, command);
}

}  // namespace keyledger::domain
