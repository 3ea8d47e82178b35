#include "envelope.hpp"

#include <algorithm>
#include <array>
#include <functional>
#include <map>
#include <utility>

#include "crypto/crypto.hpp"
#include "domain_json.hpp"
#include "event_fields.hpp"
#include "json_reader.hpp"
#include "json_writer.hpp"
#include "rfc3339.hpp"

using nlohmann::json;

namespace keyledger::eventstore {

using namespace std::string_view_literals;  // member names compare by length first

namespace {

using domain::Event;

// The members whose values the committed form (hash version 2) replaces by their digests.
constexpr std::string_view kPasswordHash = "password_hash";
constexpr std::string_view kCiphertext = "ciphertext";

// Upcasters turn a type's data of schema version N into version N + 1, keyed by (type, N);
// decode refuses a version it cannot upcast rather than guessing.
using Upcaster = std::function<void(json& data)>;
const std::map<std::pair<std::string, int>, Upcaster>& upcasters() {
  static const std::map<std::pair<std::string, int>, Upcaster> table{
      // A v1 checkpoint signed no Merkle root: tree_size 0 and no root say so (its text is v1).
      {{"AuditCheckpointSigned", 1},
       [](json& data) {
         data["tree_size"] = 0;
         data["root_hash"] = "";
       }},
  };
  return table;
}

// --- writing: canonical JSON as it goes (json_writer), no DOM --------------------------

// The writer of an envelope's members. Its text is the stored form; it also notes where each
// sensitive value — a sealed secret's ciphertext, a password hash — stands, so that
// committed_text() gives the committed form (hash version 2) without writing the envelope a
// second time: each such member replaced by the hex SHA-256 of its text under its name +
// "_sha256", in the same place.
class Writer : public json_writer::Writer {
 public:
  explicit Writer(std::string& out) : json_writer::Writer(out), out_(out) {}
  Writer(std::string& out, Continuing c) : json_writer::Writer(out, c), out_(out) {}

  bool saw_sensitive() const { return !replaced_.empty(); }
  void sensitive(std::string_view name, std::string_view value) {
    const std::size_t begin = out_.size();  // before the member's separating comma, if any
    key(name);
    string(value);
    std::string digest_member = out_[begin] == ',' ? "," : "";
    json_writer::Writer digest(digest_member);
    digest.key(std::string(name) + "_sha256");
    digest.string(crypto::to_hex(crypto::sha256(value)));
    replaced_.push_back({begin, out_.size(), std::move(digest_member)});
  }
  // The text written so far, in the committed form.
  std::string committed_text() const {
    std::string committed;
    committed.reserve(out_.size());
    std::size_t at = 0;
    for (const auto& r : replaced_) {
      committed.append(out_, at, r.begin - at).append(r.member);
      at = r.end;
    }
    return committed.append(out_, at);
  }

 private:
  struct Replaced {
    std::size_t begin, end;  // the stored member's bytes in out_
    std::string member;      // what the committed form has there
  };
  std::string& out_;
  std::vector<Replaced> replaced_;
};

void write_value(Writer& w, const std::string& v) { w.string(v); }
void write_value(Writer& w, std::uint64_t v) { w.unsigned_integer(v); }
void write_value(Writer& w, domain::Timestamp v) { w.string(format_rfc3339(v)); }
void write_value(Writer& w, domain::Role v) { w.string(domain::to_string(v)); }
void write_value(Writer& w, domain::Channel v) { w.string(domain::to_string(v)); }
void write_value(Writer& w, domain::RejectionCode v) { w.string(domain::to_string(v)); }
void write_value(Writer& w, domain::LeakResponse v) { w.string(domain::to_string(v)); }
void write_value(Writer& w, const domain::SealedSecret& s) {
  const auto bytes = [](const auto& array) {
    return std::string_view(reinterpret_cast<const char*>(array.data()), array.size());
  };
  w.begin_object();
  w.sensitive("ciphertext", crypto::base64_encode(bytes(s.ciphertext)));
  w.key("fingerprint");
  w.string(crypto::to_hex(bytes(s.fingerprint)));
  w.key("masked");
  w.string(s.masked());
  w.end_object();
}
template <class T>
void write_value(Writer& w, const std::vector<T>& v);
template <HasFields T>
void write_value(Writer& w, const T& v);

template <class T, std::size_t I>
void write_field(Writer& w, const T& v) {
  const auto& field = std::get<I>(FieldsOf<T>::list);
  if constexpr (std::is_same_v<std::decay_t<decltype(v.*(field.member))>, std::string>) {
    if (field.name == kPasswordHash) return w.sensitive(field.name, v.*(field.member));
  }
  w.key(field.name);
  write_value(w, v.*(field.member));
}
// A struct's field writers in the order of their names (an object's members are sorted).
template <class T, std::size_t... I>
auto sorted_field_writers(std::index_sequence<I...>) {
  using FieldWriter = void (*)(Writer&, const T&);
  std::array<std::pair<std::string_view, FieldWriter>, sizeof...(I)> table{
      {{std::get<I>(FieldsOf<T>::list).name, &write_field<T, I>}...}};
  std::sort(table.begin(), table.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return table;
}
template <HasFields T>
void write_value(Writer& w, const T& v) {
  static const auto writers =
      sorted_field_writers<T>(std::make_index_sequence<std::tuple_size_v<std::decay_t<decltype(FieldsOf<T>::list)>>>{});
  w.begin_object();
  for (const auto& [name, write] : writers) write(w, v);
  w.end_object();
}
template <class T>
void write_value(Writer& w, const std::vector<T>& v) {
  w.begin_array();
  for (const auto& item : v) write_value(w, item);
  w.end_array();
}

void write_data(Writer& w, const domain::Event& event) {
  std::visit([&](const auto& e) { write_value(w, e); }, event);
}

// The envelope's members in their sorted order, up to `data` (part one) and from `id` on
// (part two): `hash` goes between them, once it is known.
void write_first_part(Writer& w, const Envelope& e) {
  w.begin_object();
  w.key("actor");
  w.begin_object();
  w.key("id");
  w.string(e.recorded.actor.id);
  w.key("ip");
  w.string(e.recorded.actor.ip);
  w.key("type");
  w.string(domain::to_string(e.recorded.actor.kind));
  w.end_object();
  w.key("causation_id");
  w.string(e.causation_id);
  w.key("correlation_id");
  w.string(e.correlation_id);
  w.key("dashboard_id");
  w.string(e.dashboard_id);
  w.key("data");
  write_data(w, e.recorded.event);
}
void write_second_part(Writer& w, const Envelope& e) {
  if (e.hash_version >= 2) {
    w.key("hash_version");
    w.integer(e.hash_version);
  }
  w.key("id");
  w.string(e.id);
  if (!e.idempotency_key.empty()) {
    w.key("idempotency_key");
    w.string(e.idempotency_key);
  }
  w.key("occurred_at");
  w.string(format_rfc3339(e.recorded.occurred_at));
  w.key("prev_hash");
  w.string(e.prev_hash);
  if (!e.idempotency_key.empty()) {
    w.key("request_digest");
    w.string(e.request_digest);
  }
  w.key("schema_version");
  w.integer(e.schema_version);
  w.key("sequence");
  w.unsigned_integer(e.sequence);
  w.key("stream");
  w.string(e.stream);
  w.key("stream_version");
  w.unsigned_integer(e.stream_version);
  w.key("type");
  w.string(e.type());
  w.end_object();
}

}  // namespace

int schema_version_of(std::string_view type) { return type == domain::AuditCheckpointSigned::type ? 2 : 1; }

std::string event_data_json(const domain::Event& event) {
  std::string out;
  Writer w(out);
  write_data(w, event);
  return out;
}

// The hash covers the envelope without `hash` (from hash version 2 on, in its committed
// form); the stored bytes are the envelope with `hash` in its sorted place, after `data`.
std::string seal_envelope(Envelope& envelope) {
  envelope.schema_version = schema_version_of(envelope.type());
  std::string first, committed_first, second;
  first.reserve(1024);
  Writer w1(first);
  write_first_part(w1, envelope);
  const std::string* hashed_first = &first;
  if (envelope.hash_version >= 2 && w1.saw_sensitive()) {
    committed_first = w1.committed_text();
    hashed_first = &committed_first;
  }
  Writer w2(second, Writer::Continuing{});
  write_second_part(w2, envelope);
  // Hashed and joined without the joined copies (an envelope is about a kilobyte).
  crypto::Sha256 hasher;
  hasher.update(*hashed_first);
  hasher.update(second);
  envelope.hash = crypto::to_hex(hasher.finish());
  constexpr std::string_view kHashKey = ",\"hash\":\"";
  std::string sealed;
  sealed.reserve(first.size() + kHashKey.size() + envelope.hash.size() + 1 + second.size());
  sealed.append(first).append(kHashKey).append(envelope.hash).append("\"").append(second);
  return sealed;
}

void commit_sensitive_values(nlohmann::json& data) {
  if (data.is_array()) {
    for (auto& item : data) commit_sensitive_values(item);
    return;
  }
  if (!data.is_object()) return;
  nlohmann::json committed = nlohmann::json::object();
  for (auto& [name, value] : data.items()) {
    if ((name == kPasswordHash || name == kCiphertext) && value.is_string()) {
      committed[name + "_sha256"] = crypto::to_hex(crypto::sha256(value.get<std::string>()));
    } else {
      commit_sensitive_values(value);
      committed[name] = std::move(value);
    }
  }
  data = std::move(committed);
}

namespace {

using json_reader::Reader;

// Values of every type an event's fields have, read from JSON.
void read_value(Reader& r, std::string& v) { v = r.string(); }
void read_value(Reader& r, std::uint64_t& v) { v = r.unsigned_integer(); }
void read_value(Reader& r, domain::Timestamp& v) {
  auto t = parse_rfc3339(r.string());
  if (t) v = *t;
  else r.fail();
}
template <class Enum>
void read_enum(Reader& r, Enum& v, std::optional<Enum> (*parse)(std::string_view)) {
  auto parsed = parse(r.string());
  if (parsed) v = *parsed;
  else r.fail();
}
void read_value(Reader& r, domain::Role& v) { read_enum(r, v, domain::parse_role); }
void read_value(Reader& r, domain::Channel& v) { read_enum(r, v, domain::parse_channel); }
void read_value(Reader& r, domain::RejectionCode& v) { read_enum(r, v, domain::parse_rejection_code); }
void read_value(Reader& r, domain::LeakResponse& v) { read_enum(r, v, domain::parse_leak_response); }
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
template <std::size_t N>
void read_bytes(Reader& r, std::array<std::uint8_t, N>& out, bool hex) {
  const std::string text = r.string();
  if (hex) {
    if (text.size() != 2 * N) return r.fail("a secret's bytes of the wrong form or length");
    for (std::size_t i = 0; i < N; ++i) {
      const int hi = hex_value(text[2 * i]), lo = hex_value(text[2 * i + 1]);
      if (hi < 0 || lo < 0) return r.fail("a secret's bytes of the wrong form or length");
      out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
    }
    return;
  }
  const auto bytes = crypto::base64_decode(text);
  if (!bytes || bytes->size() != N) return r.fail("a secret's bytes of the wrong form or length");
  std::copy(bytes->begin(), bytes->end(), out.begin());
}
// Every member is required: a default in place of a missing one would be sealed as if it
// had been recorded (and a default mask is not even of a masked key's form).
void read_value(Reader& r, domain::SealedSecret& v) {
  if (!r.begin_object()) return;
  std::string key;
  unsigned seen = 0;
  while (r.next_key(key)) {
    if (key == "fingerprint"sv) read_bytes(r, v.fingerprint, true), seen |= 1;
    else if (key == "ciphertext"sv) read_bytes(r, v.ciphertext, false), seen |= 2;
    else if (key == "masked"sv) {
      if (!domain::SealedSecret::parse_masked(r.string(), v.mask)) r.fail("a masked key of the wrong form");
      seen |= 4;
    } else r.skip();
  }
  if (seen != 7) r.fail("a secret without its fingerprint, ciphertext or masked key");
}
template <class T>
void read_value(Reader& r, std::vector<T>& v);
// Every described field is required (events have no optional fields; an older schema's
// missing ones are added by its upcaster before this reads them); unknown ones are skipped.
template <HasFields T>
void read_value(Reader& r, T& v) {
  if (!r.begin_object()) return;
  constexpr std::size_t kFields = std::tuple_size_v<std::remove_const_t<decltype(FieldsOf<T>::list)>>;
  static_assert(kFields <= 32);
  std::uint32_t seen = 0;
  std::string key;
  while (r.next_key(key)) {
    bool known = false;
    std::apply(
        [&](const auto&... field) {
          std::size_t index = 0;
          auto try_field = [&](const auto& f) {
            if (!known && key == f.name) {
              read_value(r, v.*(f.member));
              seen |= std::uint32_t{1} << index;
              known = true;
            }
            ++index;
          };
          (try_field(field), ...);
        },
        FieldsOf<T>::list);
    if (!known) r.skip();  // a field this keyledger does not know
  }
  if (seen != (std::uint64_t{1} << kFields) - 1) r.fail("an object without one of its fields");
}
template <class T>
void read_value(Reader& r, std::vector<T>& v) {
  v.clear();
  if (!r.begin_array()) return;
  while (r.next_element()) read_value(r, v.emplace_back());
}

template <class E>
domain::Event read_event(Reader& r) {
  E event{};
  read_value(r, event);
  return event;
}

// A reader of `data` for every event type with a fixed name, built from the Event variant
// itself so that a new event type cannot be forgotten here.
using DataReader = domain::Event (*)(Reader&);
template <std::size_t... I>
std::map<std::string_view, DataReader> make_data_readers(std::index_sequence<I...>) {
  std::map<std::string_view, DataReader> table;
  auto add = [&]<std::size_t N>(std::integral_constant<std::size_t, N>) {
    using E = std::variant_alternative_t<N, domain::Event>;
    if constexpr (!std::is_same_v<E, domain::CommandDenied>) table.emplace(E::type, &read_event<E>);
  };
  (add(std::integral_constant<std::size_t, I>{}), ...);
  return table;
}
const auto& data_readers() {
  static const auto table = make_data_readers(std::make_index_sequence<std::variant_size_v<domain::Event>>{});
  return table;
}

// Upcasts `data` of an older schema version of its type to the current one (on a JSON DOM:
// old events are rare).
std::expected<std::string, std::string> upcast(const std::string& type, int version, int current,
                                               std::string_view data) {
  json j = json::parse(data, nullptr, false);
  if (j.is_discarded()) return std::unexpected("malformed envelope: data is not JSON");
  for (int v = version; v < current; ++v) {
    auto up = upcasters().find({type, v});
    if (up == upcasters().end()) return std::unexpected("no upcaster for " + type + " v" + std::to_string(v));
    up->second(j);
  }
  return j.dump();
}

}  // namespace

// Reads the envelope in one pass without a DOM; `data` is read once `type` is known (keys
// come sorted, so `data` comes first), straight into the event's struct.
std::expected<Envelope, std::string> decode_envelope(std::string_view bytes, DecodeScope scope) {
  const bool whole = scope == DecodeScope::whole;
  Reader r(bytes);
  if (!r.begin_object()) return std::unexpected("not a JSON object");
  // (Every read below leaves a failure in `r`; the checks after the loop report it.)
  Envelope e;
  std::string type, key;
  std::string_view data;
  e.hash_version = 1;  // unless the envelope names a later one
  enum : unsigned {
    kId = 1, kType = 2, kVersion = 4, kDashboard = 8, kStream = 16, kStreamVersion = 32, kSequence = 64,
    kOccurred = 128, kActor = 256, kPrev = 512, kHash = 1024, kData = 2048, kActorType = 4096, kActorId = 8192,
    kAll = 16383
  };
  unsigned seen = 0;
  std::string actor_type;
  while (r.next_key(key)) {
    if (key == "id"sv) (whole ? (void)(e.id = r.string()) : (void)r.skip()), seen |= kId;
    else if (key == "type"sv) type = r.string(), seen |= kType;
    else if (key == "schema_version"sv) {
      const std::int64_t v = r.integer();
      if (v < INT32_MIN || v > INT32_MAX) r.fail();
      e.schema_version = static_cast<int>(v);
      seen |= kVersion;
    } else if (key == "dashboard_id"sv) e.dashboard_id = r.string(), seen |= kDashboard;
    else if (key == "stream"sv) e.stream = r.string(), seen |= kStream;
    else if (key == "stream_version"sv) e.stream_version = r.unsigned_integer(), seen |= kStreamVersion;
    else if (key == "sequence"sv) e.sequence = r.unsigned_integer(), seen |= kSequence;
    else if (key == "occurred_at"sv) read_value(r, e.recorded.occurred_at), seen |= kOccurred;
    else if (key == "actor"sv) {
      seen |= kActor;
      std::string field;
      if (r.begin_object()) {
        while (r.next_key(field)) {
          if (field == "type"sv) actor_type = r.string(), seen |= kActorType;
          else if (field == "id"sv) e.recorded.actor.id = r.string(), seen |= kActorId;
          else if (field == "ip"sv) e.recorded.actor.ip = r.string();
          else r.skip();
        }
      }
    } else if (key == "correlation_id"sv) whole ? (void)(e.correlation_id = r.string()) : (void)r.skip();
    else if (key == "causation_id"sv) whole ? (void)(e.causation_id = r.string()) : (void)r.skip();
    else if (key == "idempotency_key"sv) e.idempotency_key = r.string();
    else if (key == "request_digest"sv) e.request_digest = r.string();
    else if (key == "prev_hash"sv) (whole ? (void)(e.prev_hash = r.string()) : (void)r.skip()), seen |= kPrev;
    else if (key == "hash"sv) e.hash = r.string(), seen |= kHash;
    else if (key == "hash_version"sv) {
      // Absent: version 1. Present: a version after 1 that this keyledger knows.
      const std::int64_t v = r.integer();
      if (v < 2 || v > kHashVersion) r.fail("an unknown hash_version");
      e.hash_version = static_cast<int>(v);
    }
    else if (key == "data"sv) data = r.skip(), seen |= kData;
    else r.skip();
  }
  if (!r.at_end()) {
    return std::unexpected("malformed envelope: " + std::string(r.ok() ? "bytes after the object" : r.why()));
  }
  e.recorded.sequence = e.sequence;
  if ((seen & kAll) != kAll) return std::unexpected("malformed envelope: a required field is missing");
  auto kind = domain::parse_actor_kind(actor_type);
  if (!kind) return std::unexpected("unknown actor type");
  e.recorded.actor.kind = *kind;
  const int current = schema_version_of(type);
  if (e.schema_version > current) {
    return std::unexpected(type + " has schema version " + std::to_string(e.schema_version) +
                           ", newer than this keyledger understands");
  }
  std::string upcast_data;
  if (e.schema_version < current) {
    auto upcasted = upcast(type, e.schema_version, current, data);
    if (!upcasted) return std::unexpected(upcasted.error());
    upcast_data = std::move(*upcasted);
    data = upcast_data;
  }
  Reader d(data);
  if (auto reader = data_readers().find(type); reader != data_readers().end()) {
    e.recorded.event = reader->second(d);
  } else if (type.size() > 6 && type.ends_with("Denied")) {
    domain::CommandDenied denied{type, {}, {}, {}};
    bool has_code = false;
    if (d.begin_object()) {
      while (d.next_key(key)) {
        if (key == "code"sv) read_value(d, denied.code), has_code = true;
        else if (key == "subject"sv) denied.subject = d.string();
        else if (key == "detail"sv) denied.detail = d.string();
        else d.skip();
      }
    }
    if (!has_code) d.fail();
    e.recorded.event = std::move(denied);
  } else {
    return std::unexpected("unknown event type " + type);
  }
  if (!d.at_end()) {
    return std::unexpected("malformed envelope: the data of " + type + " holds " +
                           std::string(d.ok() ? "bytes after its object" : d.why()));
  }
  return e;
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
  if (j.contains("hash_version")) {
    const auto& version = j["hash_version"];
    if (!version.is_number_integer() || version.get<std::int64_t>() < 2 || version.get<std::int64_t>() > kHashVersion) {
      return std::unexpected("the stored event names an unknown hash_version");
    }
    if (j.contains("data")) commit_sensitive_values(j["data"]);
  }
  if (crypto::to_hex(crypto::sha256(j.dump())) != recorded) {
    return std::unexpected("the event's content does not match its hash");
  }
  if (j["prev_hash"] != expected_prev_hash) return std::unexpected("prev_hash does not link to the previous event");
  return recorded;
}

}  // namespace keyledger::eventstore
