#include "verify_endpoint.hpp"

#include <chrono>
#include <optional>

#include "crypto/crypto.hpp"
#include "domain/ip_range.hpp"
#include "eventstore/json_reader.hpp"
#include "eventstore/json_writer.hpp"
#include "eventstore/store.hpp"

namespace keyledger::api {

namespace pj = keyledger::projections;
namespace es = keyledger::eventstore;

bool VerifyEndpoint::answer(const Request& request, std::string& json_body, std::string& request_id) {
  const auto started = std::chrono::steady_clock::now();
  constexpr std::string_view kBearer = "Bearer ";
  if (service_token_.empty() || !request.authorization.starts_with(kBearer) ||
      !crypto::constant_time_equal(request.authorization.substr(kBearer.size()), service_token_)) {
    return false;
  }
  // {key, source_ip, permission?, number?, bot_id?}: plain strings, or null for the optional ones.
  es::json_reader::Reader r(request.body);
  std::optional<std::string_view> key, source_ip, permission, number, bot_id;
  std::string name;
  if (!r.begin_object()) return false;
  while (r.next_key(name)) {
    std::optional<std::string_view>* field = name == "key"          ? &key
                                             : name == "source_ip"  ? &source_ip
                                             : name == "permission" ? &permission
                                             : name == "number"     ? &number
                                             : name == "bot_id"     ? &bot_id
                                                                    : nullptr;
    if (!field) {
      r.skip();
    } else if (field != &key && field != &source_ip && r.null()) {
      field->reset();
    } else {
      *field = r.plain_string();
    }
  }
  if (!r.at_end() || !key || !source_ip) return false;
  auto ip = domain::parse_ip_address(*source_ip);
  if (!ip) return false;

  const auto now = es::system_now();
  const pj::VerifyResult result = index_.verify({*key, *ip, permission, number, bot_id}, now);
  if (freshness_.stale(result.dashboard_id)) return false;
  es::json_writer::Writer w(json_body);
  w.begin_object();
  if (result.reason == pj::VerifyReason::valid) {
    w.key("channel");
    w.string(domain::to_string(result.channel));
    w.key("dashboard_id");
    w.string(result.dashboard_id);
    w.key("key_id");
    w.string(result.key_id);
    w.key("valid");
    w.boolean(true);
  } else {
    w.key("reason");
    w.string(pj::to_string(result.reason));
    w.key("valid");
    w.boolean(false);
  }
  w.end_object();
  if (printable_token(request.request_id, kMaxRequestIdLength)) {
    request_id.assign(request.request_id);
  } else {
    request_id = crypto::uuid_v7(now.time_since_epoch().count());
  }
  metrics_.record_verify(result.reason);
  metrics_.record_inline_verify(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  return true;
}

}  // namespace keyledger::api
