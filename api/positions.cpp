#include "positions.hpp"

#include "request_context.hpp"

namespace keyledger::api {

namespace {

ApiError not_applied() {
  return ApiError{503, "position_not_applied",
                  "this process has not applied the position in Keyledger-Min-Position yet; retry shortly", "",
                  {{"Retry-After", "1"}}};
}

}  // namespace

std::string position_header(const WrittenPositions& written) {
  std::string text;
  for (const auto& [partition, offset] : written) {
    if (!text.empty()) text += ',';
    text += std::to_string(partition) + ":" + std::to_string(offset);
  }
  return text;
}

Expected<WrittenPositions> parse_min_position(const std::string& text, std::uint32_t partitions) {
  auto bad = [] {
    return std::unexpected(invalid_request("Keyledger-Min-Position",
                                           "Keyledger-Min-Position must be partition:offset pairs, comma-separated, as "
                                           "a command's Keyledger-Position gave them"));
  };
  WrittenPositions wanted;
  std::string_view rest = text;
  if (rest.empty() || rest.size() > 4096) return bad();
  while (true) {
    const std::size_t comma = rest.find(',');
    const std::string_view pair = rest.substr(0, comma);
    const std::size_t colon = pair.find(':');
    if (colon == std::string_view::npos) return bad();
    const auto partition = parse_decimal(pair.substr(0, colon));
    const auto offset = parse_decimal(pair.substr(colon + 1));
    if (!partition || !offset || *partition >= partitions || wanted.contains(static_cast<std::uint32_t>(*partition))) {
      return bad();
    }
    wanted[static_cast<std::uint32_t>(*partition)] = *offset;
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return wanted;
}

Expected<void> await_applied(const WrittenPositions& wanted, const eventstore::CommandPipeline& pipeline,
                             const eventstore::EventLog& log, std::chrono::milliseconds limit) {
  auto all_applied = [&] {
    const auto applied = pipeline.applied();
    for (const auto& [partition, offset] : wanted) {
      if (applied[partition] <= offset) return false;
    }
    return true;
  };
  if (all_applied()) return {};
  for (const auto& [partition, offset] : wanted) {
    if (offset >= log.end(partition)) return std::unexpected(not_applied());
  }
  // Durable, and its fold is in flight.
  pipeline.wait_folded(limit);
  if (!all_applied()) return std::unexpected(not_applied());
  return {};
}

}  // namespace keyledger::api
