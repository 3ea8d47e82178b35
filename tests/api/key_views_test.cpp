// A key as API callers see it (api/key_views.hpp), written without a DOM: the text is exactly
// what nlohmann::json's dump() writes for the same object (members in name order, the same
// escapes), every member the channel and the key's history call for is there, and a secret
// is shown only when given.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "api/key_views.hpp"
#include "eventstore/rfc3339.hpp"

namespace kd = keyledger::domain;
namespace es = keyledger::eventstore;
using keyledger::api::key_text;
using nlohmann::json;

namespace {
const kd::Timestamp kNow = *es::parse_rfc3339("2026-12-01T10:00:00.000Z");

kd::ApiKey key_of(kd::Channel channel, std::string name) {
  kd::ApiKey k;
  k.channel = channel;
  k.name = std::move(name);
  k.mask = {'k', 'l', '_', 'e', 'a', 'b', 'c', 'd'};
  k.created_at = *es::parse_rfc3339("2026-11-30T09:08:07.006Z");
  k.secret_issued_at = *es::parse_rfc3339("2026-11-30T09:08:07.006Z");
  return k;
}

// The text parses, and dump() of what it parses to gives the same bytes back.
json as_dumped(const std::string& text) {
  json j = json::parse(text);
  REQUIRE(j.dump() == text);
  return j;
}
}  // namespace

TEST_CASE("key views: an Email key's text is the DOM's dump, with permissions, allow list, and no secret unless given",
          "[backendless]") {
  kd::ApiKey k = key_of(kd::Channel::email, "billing \"EU\" \\ 漢字 😀 tab\t");
  k.ip_allowlist = {"203.0.113.0/24", "2001:db8::/32"};
  k.permissions = kd::kAllPermissions;
  json j = as_dumped(key_text("key_1", k, kNow));
  CHECK(j["id"] == "key_1");
  CHECK(j["channel"] == "email");
  CHECK(j["name"] == k.name);
  CHECK(j["ip_allowlist"] == json(k.ip_allowlist));
  CHECK(j["permissions"] == json(kd::permission_names(k.permissions)));
  CHECK(j["last_used_at"].is_null());
  CHECK(j["uses"] == 0);
  CHECK(j["status"] == "active");
  CHECK(j["created_at"] == "2026-11-30T09:08:07.006Z");
  CHECK_FALSE(j.contains("key"));
  CHECK_FALSE(j.contains("number"));
  CHECK_FALSE(j.contains("revoked_at"));
  CHECK_FALSE(j.contains("previous_valid_until"));

  const std::string secret = "kl_email_secret_value";
  json shown = as_dumped(key_text("key_1", k, kNow, &secret));
  CHECK(shown["key"] == secret);
  shown.erase("key");
  CHECK(shown == j);
}

TEST_CASE("key views: rotated, revoked, used and SMS keys carry their members, in name order", "[backendless]") {
  kd::ApiKey sms = key_of(kd::Channel::sms, "+14155550100");
  sms.has_previous = true;
  sms.previous_valid_until = kNow + std::chrono::hours(1);
  sms.uses = 18446744073709551615ull;
  sms.last_used_at = kNow - std::chrono::minutes(5);
  json j = as_dumped(key_text("key_2", sms, kNow));
  CHECK(j["number"] == "+14155550100");
  CHECK(j["previous_valid_until"] == es::format_rfc3339(sms.previous_valid_until));
  CHECK(j["last_used_at"] == es::format_rfc3339(*sms.last_used_at));
  CHECK(j["uses"] == sms.uses);
  CHECK_FALSE(j.contains("permissions"));
  CHECK_FALSE(j.contains("ip_allowlist"));
  // The grace period over, the previous secret is no longer shown.
  CHECK_FALSE(as_dumped(key_text("key_2", sms, kNow + std::chrono::hours(2))).contains("previous_valid_until"));

  kd::ApiKey whatsapp = key_of(kd::Channel::whatsapp, "support");
  whatsapp.revoked = true;
  whatsapp.revoked_at = kNow - std::chrono::seconds(1);
  json revoked = as_dumped(key_text("key_3", whatsapp, kNow));
  CHECK(revoked["status"] == "revoked");
  CHECK(revoked["revoked_at"] == es::format_rfc3339(whatsapp.revoked_at));
  CHECK(as_dumped(key_text("key_4", key_of(kd::Channel::rcs, "RCS"), kNow))["channel"] == "rcs");
}
