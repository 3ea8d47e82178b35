// For tests of a store's copies (a restored backup, a migrated store): one key of every kind
// made on the original, then checked on the copy; and a dashboard's audit trail as exported.
#pragma once

#include <catch2/catch.hpp>

#include <sstream>
#include <string>
#include <vector>

#include "support/api_client.hpp"

namespace keyledger::testing {

// An Email key, a revoked Email key, a WhatsApp key (revealed), the RCS key and an SMS
// number's key, as the original served them.
struct KeysOfEveryKind {
  std::string email, revoked, whatsapp_id, whatsapp, rcs, sms;
};

inline KeysOfEveryKind make_keys_of_every_kind(const ApiClient& api, const Dashboard& d) {
  KeysOfEveryKind keys;
  keys.email = api.post(d.path + "/email/keys", {{"name", "k"}}, d.admin).json["key"];
  auto revoked = api.post(d.path + "/email/keys", {{"name", "gone"}}, d.admin).json;
  keys.revoked = revoked["key"];
  REQUIRE(api.del(d.path + "/email/keys/" + revoked["id"].get<std::string>(), d.admin).status == 200);
  keys.whatsapp_id = api.post(d.path + "/whatsapp/keys", {{"name", "w"}}, d.admin).json["id"];
  keys.whatsapp = api.post(d.path + "/whatsapp/keys/" + keys.whatsapp_id + "/reveal", {{"password", kAdminPassword}},
                           d.admin).json["key"];
  keys.rcs = api.post(d.path + "/rcs/key/reveal", {{"password", kAdminPassword}}, d.admin).json["key"];
  api.post(d.path + "/sms/numbers", {{"number", "+14155550100"}}, d.admin);
  keys.sms = api.get(d.path + "/sms/numbers/%2B14155550100/key", d.admin).json["key"];
  return keys;
}

// On the copy (`d.admin` a session of it): every key verifies, the revoked one is refused as
// revoked, and each secret reveals to the same text.
inline void require_same_keys(const ApiClient& api, const Dashboard& d, const KeysOfEveryKind& keys) {
  REQUIRE(verify(api, keys.email).json["valid"] == true);
  REQUIRE(verify(api, keys.revoked).json["reason"] == "revoked");
  REQUIRE(verify(api, keys.sms).json["valid"] == true);
  REQUIRE(api.post(d.path + "/whatsapp/keys/" + keys.whatsapp_id + "/reveal", {{"password", kAdminPassword}}, d.admin)
              .json["key"] == keys.whatsapp);
  REQUIRE(api.post(d.path + "/rcs/key/reveal", {{"password", kAdminPassword}}, d.admin).json["key"] == keys.rcs);
  REQUIRE(api.get(d.path + "/sms/numbers/%2B14155550100/key", d.admin).json["key"] == keys.sms);
}

// The dashboard's whole audit trail, one event per exported line.
inline std::vector<nlohmann::json> audit_export(const ApiClient& api, const Dashboard& d) {
  auto reply = api.get(d.path + "/audit/export", d.admin);
  REQUIRE(reply.status == 200);
  std::vector<nlohmann::json> events;
  std::istringstream lines(reply.body);
  for (std::string line; std::getline(lines, line);) events.push_back(nlohmann::json::parse(line));
  return events;
}

}  // namespace keyledger::testing
