#include "audit_view.hpp"

#include "crypto/crypto.hpp"
#include "eventstore/envelope.hpp"

namespace keyledger::api {

nlohmann::json audit_view(std::string_view stored) {
  auto e = nlohmann::json::parse(stored, nullptr, false);
  if (e.is_discarded()) return nlohmann::json{{"error", "undecodable event"}};
  auto& data = e["data"];
  if (e.contains("hash_version")) {
    eventstore::commit_sensitive_values(data);
    return e;
  }
  if (data.contains("password_hash")) data["password_hash"] = "[redacted]";
  if (data.contains("secret")) data["secret"].erase("ciphertext");
  return e;
}

namespace {

// Replaces `"NAME":"VALUE"` members by `"NAME_sha256":"<hex SHA-256 of VALUE>"` in canonical
// JSON text. Inside a JSON string a quote is always escaped, so an unescaped `"NAME":"` is a
// member name; the new name sorts where the old one did, so the text stays canonical. False
// when a value holds an escape (never in a ciphertext or a password hash): the caller then
// takes the DOM's way.
bool commit_in_text(std::string& text, std::string_view name) {
  const std::string member = "\"" + std::string(name) + "\":\"";
  for (std::size_t at = 0; (at = text.find(member, at)) != std::string::npos;) {
    if (at == 0 || (text[at - 1] != '{' && text[at - 1] != ',')) {
      at += member.size();
      continue;
    }
    const std::size_t value = at + member.size();
    const std::size_t end = text.find('"', value);
    if (end == std::string::npos || text.find('\\', value) < end) return false;
    const std::string digest = crypto::to_hex(crypto::sha256(std::string_view(text).substr(value, end - value)));
    const std::string replacement = "\"" + std::string(name) + "_sha256\":\"" + digest + "\"";
    text.replace(at, end + 1 - at, replacement);
    at += replacement.size();
  }
  return true;
}

}  // namespace

std::string audit_view_text(std::string_view stored) {
  // Hash version 2 (canonical bytes, sealed by keyledger): the committed form in place.
  if (stored.find("\"hash_version\":") != std::string_view::npos) {
    std::string text(stored);
    if (commit_in_text(text, "password_hash") && commit_in_text(text, "ciphertext")) return text;
  }
  return audit_view(stored).dump();
}

}  // namespace keyledger::api
