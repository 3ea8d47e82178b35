#include "events.hpp"

#include <type_traits>

namespace keyledger::domain {

std::string_view to_string(LeakResponse response) {
  switch (response) {
    case LeakResponse::revoked: return "revoked";
    case LeakResponse::rotated: return "rotated";
    case LeakResponse::flagged_for_operator: return "flagged_for_operator";
    case LeakResponse::already_inactive: return "already_inactive";
  }
  return "unknown";
}

std::optional<LeakResponse> parse_leak_response(std::string_view text) {
  for (auto r : {LeakResponse::revoked, LeakResponse::rotated, LeakResponse::flagged_for_operator,
                 LeakResponse::already_inactive}) {
    if (to_string(r) == text) return r;
  }
  return std::nullopt;
}

std::string_view event_type(const Event& event) {
  return std::visit(
      [](const auto& e) -> std::string_view {
        using E = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<E, CommandDenied>) {
          return e.type;
        } else {
          return E::type;
        }
      },
      event);
}

std::string stream_of(const Event& event) {
  return std::visit(
      [](const auto& e) -> std::string {
        using E = std::decay_t<decltype(e)>;
        if constexpr (requires { e.key_id; }) {
          return "key:" + e.key_id;
        } else if constexpr (requires { e.number; }) {
          return "sms-number:" + e.number;
        } else if constexpr (requires { e.bot_id; }) {
          return "rcs-bot:" + e.bot_id;
        } else if constexpr (requires { e.email; }) {
          return "user:" + e.email;
        } else {
          static_assert(std::is_same_v<E, DashboardCreated> || std::is_same_v<E, DashboardClosed> ||
                        std::is_same_v<E, CommandDenied> || std::is_same_v<E, AuditCheckpointSigned> ||
                        std::is_same_v<E, KeyUsageRecorded> || std::is_same_v<E, DataKeyRewrapped>);
          return "dashboard";
        }
      },
      event);
}

const SealedSecret* secret_of(const Event& event) {
  return std::visit(
      [](const auto& e) -> const SealedSecret* {
        if constexpr (requires { e.secret; }) {
          return &e.secret;
        } else {
          return nullptr;
        }
      },
      event);
}

std::optional<Channel> channel_of(const Event& event) {
  if (auto* leak = std::get_if<KeyLeakReported>(&event)) return leak->channel;
  std::string_view type = event_type(event);
  if (type.starts_with("Email")) return Channel::email;
  if (type.starts_with("WhatsApp")) return Channel::whatsapp;
  if (type.starts_with("Sms")) return Channel::sms;
  if (type.starts_with("Rcs")) return Channel::rcs;
  return std::nullopt;
}

}  // namespace keyledger::domain
