#include "commands.hpp"

namespace keyledger::domain {

std::string_view denied_event_type(const Command& command) {
  return std::visit([](const auto& c) { return std::decay_t<decltype(c)>::denied_as; }, command);
}

std::string checkpoint_text(std::string_view dashboard_id, std::uint64_t sequence, std::string_view head_hash,
                            std::uint64_t tree_size, std::string_view root_hash, std::string_view signed_at) {
  const bool v1 = root_hash.empty();
  std::string text = v1 ? "keyledger audit checkpoint v1\n" : "keyledger audit checkpoint v2\n";
  text += "dashboard " + std::string(dashboard_id) + "\nsequence " + std::to_string(sequence) + "\nhead " +
          std::string(head_hash) + "\n";
  if (!v1) text += "tree_size " + std::to_string(tree_size) + "\nroot " + std::string(root_hash) + "\n";
  return text + "signed_at " + std::string(signed_at) + "\n";
}

}  // namespace keyledger::domain
