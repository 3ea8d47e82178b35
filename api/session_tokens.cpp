#include "session_tokens.hpp"

#include <nlohmann/json.hpp>

#include "crypto/crypto.hpp"

namespace keyledger::api {

namespace {
std::string mac_of(const crypto::HmacSha256Key& key, std::string_view body) {
  auto mac = key.mac(body);
  return std::string(mac.begin(), mac.end());
}
}  // namespace

namespace {
constexpr std::string_view kPrefix = "klsess_";

std::string to_base64url(std::string_view bytes) {
  std::string s = crypto::base64_encode(bytes);
  for (auto& c : s) c = c == '+' ? '-' : c == '/' ? '_' : c;
  while (!s.empty() && s.back() == '=') s.pop_back();
  return s;
}
std::optional<std::string> from_base64url(std::string_view text) {
  std::string s(text);
  for (auto& c : s) c = c == '-' ? '+' : c == '_' ? '/' : c;
  while (s.size() % 4) s += '=';
  return crypto::base64_decode(s);
}
}  // namespace

std::string SessionTokens::issue(const SessionClaims& claims) const {
  nlohmann::json payload{{"d", claims.dashboard_id},
                         {"e", claims.email},
                         {"x", claims.expires_at.time_since_epoch().count()},
                         {"n", to_base64url(crypto::random_bytes(12))}};
  std::string body = to_base64url(payload.dump());
  return std::string(kPrefix) + body + "." + to_base64url(mac_of(key_, body));
}

std::optional<SessionClaims> SessionTokens::check(std::string_view token, domain::Timestamp now) const {
  if (!token.starts_with(kPrefix)) return std::nullopt;
  token.remove_prefix(kPrefix.size());
  auto dot = token.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  std::string_view body = token.substr(0, dot);
  auto mac = from_base64url(token.substr(dot + 1));
  if (!mac || !crypto::constant_time_equal(*mac, mac_of(key_, body))) return std::nullopt;
  auto json_text = from_base64url(body);
  if (!json_text) return std::nullopt;
  auto payload = nlohmann::json::parse(*json_text, nullptr, false);
  if (payload.is_discarded()) return std::nullopt;
  try {
    SessionClaims claims{payload.at("d").get<std::string>(), payload.at("e").get<std::string>(),
                         domain::Timestamp{std::chrono::milliseconds{payload.at("x").get<std::int64_t>()}}};
    if (now >= claims.expires_at) return std::nullopt;
    return claims;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace keyledger::api
