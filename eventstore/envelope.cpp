#include "envelope.hpp"

#include <functional>
#include <map>
#include <utility>

#include "crypto/crypto.hpp"
#include "domain_json.hpp"
#include "rfc3339.hpp"

using nlohmann::json;

namespace keyledger::eventstore {

namespace {

using domain::Event;

// Decoders for every event type with a fixed name, built from the Event variant itself so
// that a new event type cannot be forgotten here.
template <std::size_t... I>
std::map<std::string_view, std::function<Event(const json&)>> make_decoders(std::index_sequence<I...>) {
  std::map<std::string_view, std::function<Event(const json&)>> table;
  auto add = [&]<std::size_t N>(std::integral_constant<std::size_t, N>) {
    using E = std::variant_alternative_t<N, Event>;
    if constexpr (!std::is_same_v<E, domain::CommandDenied>) {
      table.emplace(E::type, [](const json& data) { return Event{data.get<E>()}; });
    }
  };
  (add(std::integral_constant<std::size_t, I>{}), ...);
  return table;
}

const auto& decoders() {
  static const auto table = make_decoders(std::make_index_sequence<std::variant_size_v<Event>>{});
  return table;
}

// Upcasters turn the data of schema version N into version N + 1, keyed by (type, N).
// Version 1 is the first published schema; none is older yet, so the table is empty and
// decode refuses versions it cannot upcast rather than guessing.
using Upcaster = std::function<void(json& data)>;
const std::map<std::pair<std::string, int>, Upcaster>& upcasters() {
  static const std::map<std::pair<std::string, int>, Upcaster> table;
  return table;
}

json actor_json(const domain::Actor& actor) {
  return json{{"type", domain::to_string(actor.kind)}, {"id", actor.id}, {"ip", actor.ip}};
}

json content_json(const Envelope& e) {
  json j{{"id", e.id},
         {"type", e.type()},
         {"schema_version", e.schema_version},
         {"dashboard_id", e.dashboard_id},
         {"stream", e.stream},
         {"stream_version", e.stream_version},
         {"sequence", e.sequence},
         {"occurred_at", format_rfc3339(e.recorded.occurred_at)},
         {"actor", actor_json(e.recorded.actor)},
         {"correlation_id", e.correlation_id},
         {"causation_id", e.causation_id},
         {"prev_hash", e.prev_hash},
         {"data", json::parse(event_data_json(e.recorded.event))}};
  if (!e.idempotency_key.empty()) {
    j["idempotency_key"] = e.idempotency_key;
    j["request_digest"] = e.request_digest;
  }
  return j;
}

std::string content_hash(const json& content_without_hash) {
  return crypto::to_hex(crypto::sha256(content_without_hash.dump()));
}

}  // namespace

std::string event_data_json(const domain::Event& event) {
  return std::visit([](const auto& e) { return json(e).dump(); }, event);
}

std::string seal_envelope(Envelope& envelope) {
  json content = content_json(envelope);
  envelope.hash = content_hash(content);
  content["hash"] = envelope.hash;
  return content.dump();
}

namespace {

// Every number in an envelope is an integer. A fraction, an exponent or a value beyond 64
// bits parses as floating point, and converting that to an integer field is undefined.
bool holds_non_integer(const json& j) {
  if (j.is_number_float()) return true;
  if (j.is_structured()) {
    for (const auto& item : j) {
      if (holds_non_integer(item)) return true;
    }
  }
  return false;
}

}  // namespace

std::expected<Envelope, std::string> decode_envelope(std::string_view bytes) {
  json j = json::parse(bytes, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::unexpected("not a JSON object");
  if (holds_non_integer(j)) return std::unexpected("malformed envelope: a number that is not an integer");
  try {
    Envelope e;
    e.id = j.at("id").get<std::string>();
    std::string type = j.at("type").get<std::string>();
    e.schema_version = j.at("schema_version").get<int>();
    e.dashboard_id = j.at("dashboard_id").get<std::string>();
    e.stream = j.at("stream").get<std::string>();
    e.stream_version = j.at("stream_version").get<std::uint64_t>();
    e.sequence = j.at("sequence").get<std::uint64_t>();
    e.recorded.occurred_at = j.at("occurred_at").get<domain::Timestamp>();
    const json& actor = j.at("actor");
    auto kind = domain::parse_actor_kind(actor.at("type").get<std::string>());
    if (!kind) return std::unexpected("unknown actor type");
    e.recorded.actor = domain::Actor{*kind, actor.at("id").get<std::string>(), actor.value("ip", "")};
    e.correlation_id = j.value("correlation_id", "");
    e.causation_id = j.value("causation_id", "");
    e.idempotency_key = j.value("idempotency_key", "");
    e.request_digest = j.value("request_digest", "");
    e.prev_hash = j.at("prev_hash").get<std::string>();
    e.hash = j.at("hash").get<std::string>();
    json data = j.at("data");
    for (int v = e.schema_version; v < kSchemaVersion; ++v) {
      auto up = upcasters().find({type, v});
      if (up == upcasters().end()) return std::unexpected("no upcaster for " + type + " v" + std::to_string(v));
      up->second(data);
    }
    if (e.schema_version > kSchemaVersion) {
      return std::unexpected(type + " has schema version " + std::to_string(e.schema_version) +
                             ", newer than this keyledger understands");
    }
    if (auto decoder = decoders().find(type); decoder != decoders().end()) {
      e.recorded.event = decoder->second(data);
    } else if (type.size() > 6 && type.ends_with("Denied")) {
      e.recorded.event = domain::CommandDenied{type, data.at("code").get<domain::RejectionCode>(),
                                               data.value("subject", ""), data.value("detail", "")};
    } else {
      return std::unexpected("unknown event type " + type);
    }
    return e;
  } catch (const std::exception& ex) {
    return std::unexpected(std::string("malformed envelope: ") + ex.what());
  }
}

std::expected<std::string, std::string> check_link(std::string_view bytes, std::string_view expected_prev_hash) {
  json j = json::parse(bytes, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::unexpected("the stored event is not valid JSON");
  if (j.dump() != bytes) return std::unexpected("the stored event is not in canonical form");
  if (!j.contains("hash") || !j["hash"].is_string() || !j.contains("prev_hash")) {
    return std::unexpected("the stored event has no hash");
  }
  std::string recorded = j["hash"].get<std::string>();
  j.erase("hash");
  if (content_hash(j) != recorded) return std::unexpected("the event's content does not match its hash");
  if (j["prev_hash"] != expected_prev_hash) return std::unexpected("prev_hash does not link to the previous event");
  return recorded;
}

}  // namespace keyledger::eventstore
