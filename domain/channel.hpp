// The four messaging channels a key can belong to.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace keyledger::domain {

enum class Channel : std::uint8_t { email, whatsapp, sms, rcs };

// "email", "whatsapp", "sms", "rcs": the spelling used in the API and in events.
std::string_view to_string(Channel channel);
std::optional<Channel> parse_channel(std::string_view text);

// The prefix every secret of the channel starts with, e.g. "kle_" for Email.
std::string_view key_prefix(Channel channel);

}  // namespace keyledger::domain
