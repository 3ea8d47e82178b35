#include "session_tokens.hpp"

#include <nlohmann/json.hpp>

#include "crypto/crypto.hpp"
#include "eventstore/json_reader.hpp"

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
  // The payload is what issue() wrote and its MAC just matched: read without a DOM.
  eventstore::json_reader::Reader reader(*json_text);
  std::optional<std::string> dashboard, email;
  std::optional<std::int64_t> expires;
  std::string key;
  reader.begin_object();
  while (reader.next_key(key)) {
    if (key == "d") dashboard = reader.string();
    else if (key == "e") email = reader.string();
    else if (key == "x") expires = reader.integer();
    else reader.skip();
  }
  if (!reader.ok() || !reader.at_end() || !dashboard || !email || !expires) return std::nullopt;
  SessionClaims claims{std::move(*dashboard), std::move(*email), domain::Timestamp{std::chrono::milliseconds{*expires}}};
  if (now >= claims.expires_at) return std::nullopt;
  return claims;
}

}  // namespace keyledger::api
