#include "commands.hpp"

namespace keyledger::domain {

std::string_view denied_event_type(const Command& command) {
  return std::visit([](const auto& c) { return std::decay_t<decltype(c)>::denied_as; }, command);
}

std::string checkpoint_text(std::string_view dashboard_id, std::uint64_t sequence, std::string_view head_hash,
                            std::string_view signed_at) {
  return "keyledger audit checkpoint v1\ndashboard " + std::string(dashboard_id) + "\nsequence " +
         std::to_string(sequence) + "\nhead " + std::string(head_hash) + "\nsigned_at " + std::string(signed_at) + "\n";
}

}  // namespace keyledger::domain
