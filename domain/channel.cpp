#include "channel.hpp"

namespace keyledger::domain {

std::string_view to_string(Channel channel) {
  switch (channel) {
    case Channel::email: return "email";
    case Channel::whatsapp: return "whatsapp";
    case Channel::sms: return "sms";
    case Channel::rcs: return "rcs";
  }
  return "unknown";
}

std::optional<Channel> parse_channel(std::string_view text) {
  for (Channel c : {Channel::email, Channel::whatsapp, Channel::sms, Channel::rcs}) {
    if (to_string(c) == text) return c;
  }
  return std::nullopt;
}

std::string_view key_prefix(Channel channel) {
  switch (channel) {
    case Channel::email: return "kle_";
    case Channel::whatsapp: return "klw_";
    case Channel::sms: return "kls_";
    case Channel::rcs: return "klr_";
  }
  return "";
}

}  // namespace keyledger::domain
