#include <catch2/catch.hpp>

#include <functional>
#include <set>

#include <nlohmann/json.hpp>

#include "crypto/crypto.hpp"
#include "domain/commands.hpp"
#include "eventstore/envelope.hpp"
#include "eventstore/rfc3339.hpp"
#include "eventstore/segment_format.hpp"

#include <fstream>

namespace es = keyledger::eventstore;
namespace crypto = keyledger::crypto;
namespace kd = keyledger::domain;

namespace {

const kd::Timestamp kAt = *es::parse_rfc3339("2026-11-28T10:20:30.456Z");

// Sealed material with every byte set (a fingerprint, a ciphertext and the mask "kle_…abcd").
kd::SealedSecret secret() {
  kd::SealedSecret s;
  for (std::size_t i = 0; i < s.fingerprint.size(); ++i) s.fingerprint[i] = static_cast<std::uint8_t>(i * 7 + 1);
  for (std::size_t i = 0; i < s.ciphertext.size(); ++i) s.ciphertext[i] = static_cast<std::uint8_t>(255 - i);
  REQUIRE(kd::SealedSecret::parse_masked("kle_…abcd", s.mask));
  return s;
}

// One instance of every event type, with every field set.
std::vector<kd::Event> one_of_each() {
  kd::SealedSecret s = secret();
  return {kd::DashboardCreated{"d1", "Acmé"}, kd::DashboardClosed{"contract ended"},
          kd::UserAdded{"a@b.c", kd::Role::developer, "scrypt$15$8$1$c2FsdA==$aGFzaA=="},
          kd::UserRemoved{"a@b.c"}, kd::UserLoggedIn{"a@b.c"},
          kd::UserLoginFailed{"a@b.c", kd::RejectionCode::password_incorrect}, kd::UserLockedOut{"a@b.c", kAt},
          kd::EmailKeyGenerated{"k1", "n", {"mail.send"}, {"10.0.0.0/8"}, s},
          kd::EmailKeyRestrictionsChanged{"k1", "m", {"all"}, {}}, kd::EmailKeyRotated{"k1", s, kAt},
          kd::EmailKeyRevoked{"k1"}, kd::EmailKeyRevealed{"k1"}, kd::WhatsAppKeyGenerated{"w1", "n", s},
          kd::WhatsAppKeyRotated{"w1", s, kAt}, kd::WhatsAppKeyRevoked{"w1"}, kd::WhatsAppKeyRevealed{"w1"},
          kd::SmsNumberRegistered{"+14155550100"}, kd::SmsKeyAssigned{"+14155550100", "s1", s},
          kd::SmsKeyViewed{"+14155550100", "s1"}, kd::SmsKeyRotated{"+14155550100", "s1", s},
          kd::SmsNumberDeregistered{"+14155550100", "s1"}, kd::RcsKeyProvisioned{"r1", s},
          kd::RcsKeyRevealed{"r1"}, kd::RcsKeyReissued{"r1", "incident", s}, kd::RcsBotRegistered{"b1"},
          kd::RcsBotRemoved{"b1"},
          kd::KeyLeakReported{"k1", kd::Channel::email, "https://x", "github", kd::LeakResponse::revoked},
          kd::AuditCheckpointSigned{12, std::string(64, 'a'), 12, std::string(64, 'b'), "2026-11-28T10:20:30.456Z", "ab",
                                    "cd"},
          kd::KeyUsageRecorded{{{"k1", 42, kAt}}}, kd::DataKeyRewrapped{"0123456789abcdef", "fedcba9876543210"},
          kd::CommandDenied{"WhatsAppKeyGenerationDenied", kd::RejectionCode::whatsapp_key_limit_reached, "w4",
                            "limit"}};
}

es::Envelope envelope_of(kd::Event event, std::string prev_hash = es::kGenesisHash) {
  es::Envelope e;
  e.id = crypto::uuid_v7(1764325230456);
  e.dashboard_id = "d1";
  e.stream = kd::stream_of(event);
  e.stream_version = 3;
  e.sequence = 7;
  e.recorded = kd::RecordedEvent{std::move(event), {kd::ActorKind::user, "a@b.c", "203.0.113.9"}, kAt};
  e.correlation_id = "req-1";
  e.causation_id = "req-1";
  e.prev_hash = std::move(prev_hash);
  return e;
}

}  // namespace

TEST_CASE("envelope: every event type survives sealing and decoding unchanged") {
  auto events = one_of_each();
  REQUIRE(events.size() == std::variant_size_v<kd::Event>);
  for (auto& event : events) {
    INFO(kd::event_type(event));
    auto envelope = envelope_of(event);
    std::string bytes = es::seal_envelope(envelope);
    auto decoded = es::decode_envelope(bytes);
    REQUIRE(decoded.has_value());
    REQUIRE(decoded->recorded.event == event);
    REQUIRE(decoded->type() == kd::event_type(event));
    REQUIRE(decoded->recorded.actor == envelope.recorded.actor);
    REQUIRE(decoded->recorded.occurred_at == kAt);
    REQUIRE(decoded->hash == envelope.hash);
    REQUIRE(decoded->sequence == 7);
  }
}

TEST_CASE("envelope: the JSON has the fields of SPEC §5") {
  auto envelope = envelope_of(kd::EmailKeyRevoked{"k1"});
  envelope.idempotency_key = "idem-1";
  envelope.request_digest = "digest";
  auto j = nlohmann::json::parse(es::seal_envelope(envelope));
  for (auto field : {"id", "type", "schema_version", "dashboard_id", "stream", "stream_version", "sequence",
                     "occurred_at", "actor", "correlation_id", "causation_id", "idempotency_key", "prev_hash", "hash",
                     "data"}) {
    INFO(field);
    REQUIRE(j.contains(field));
  }
  REQUIRE(j["type"] == "EmailKeyRevoked");
  REQUIRE(j["occurred_at"] == "2026-11-28T10:20:30.456Z");
  REQUIRE(j["actor"] == nlohmann::json{{"type", "user"}, {"id", "a@b.c"}, {"ip", "203.0.113.9"}});
  REQUIRE(j["stream"] == "key:k1");
  REQUIRE(j["data"] == nlohmann::json{{"key_id", "k1"}});
}

TEST_CASE("envelope: changing any byte of a stored event breaks the chain detectably") {
  auto first = envelope_of(kd::DashboardCreated{"d1", "Acme"});
  std::string first_bytes = es::seal_envelope(first);
  auto second = envelope_of(kd::EmailKeyGenerated{"k1", "n", {"all"}, {}, secret()}, first.hash);
  std::string bytes = es::seal_envelope(second);
  REQUIRE(es::check_link(first_bytes, es::kGenesisHash).value() == first.hash);
  REQUIRE(es::check_link(bytes, first.hash).value() == second.hash);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    for (char replacement : {'0', 'x', ' '}) {
      if (bytes[i] == replacement) continue;
      std::string tampered = bytes;
      tampered[i] = replacement;
      INFO("byte " << i << " set to '" << replacement << "': " << tampered);
      REQUIRE_FALSE(es::check_link(tampered, first.hash).has_value());
    }
  }
  // An event removed or reordered breaks the link too.
  REQUIRE_FALSE(es::check_link(bytes, es::kGenesisHash).has_value());
}

TEST_CASE("envelope: a schema version newer than this build is refused, not guessed at") {
  auto envelope = envelope_of(kd::EmailKeyRevoked{"k1"});
  auto j = nlohmann::json::parse(es::seal_envelope(envelope));
  j["schema_version"] = es::schema_version_of(envelope.type()) + 1;
  auto decoded = es::decode_envelope(j.dump());
  REQUIRE_FALSE(decoded.has_value());
  REQUIRE(decoded.error().find("newer") != std::string::npos);
}

namespace {
// `envelope` as a keyledger of schema version 1 stored it: `data` as `to_v1` leaves it,
// sealed with schema_version 1 (the hash covers every byte but itself, as it always did).
std::string stored_as_v1(es::Envelope envelope, const std::function<void(nlohmann::json&)>& to_v1) {
  auto j = nlohmann::json::parse(es::seal_envelope(envelope));
  j["schema_version"] = 1;
  to_v1(j["data"]);
  j.erase("hash");
  j["hash"] = crypto::to_hex(crypto::sha256(j.dump()));
  return j.dump();
}
}  // namespace

TEST_CASE("envelope: a checkpoint is of schema version 2, every other type of 1") {
  for (const auto& event : one_of_each()) {
    auto envelope = envelope_of(event);
    const auto stored = nlohmann::json::parse(es::seal_envelope(envelope));
    INFO(envelope.type());
    REQUIRE(stored["schema_version"] == (std::holds_alternative<kd::AuditCheckpointSigned>(event) ? 2 : 1));
  }
}

TEST_CASE("envelope: a checkpoint of schema version 1 still links and decodes, with no tree") {
  auto checkpoint = envelope_of(kd::AuditCheckpointSigned{12, std::string(64, 'a'), 12, std::string(64, 'b'),
                                                          "2026-11-28T10:20:30.456Z", "ab", "cd"});
  const std::string v1 = stored_as_v1(checkpoint, [](nlohmann::json& data) {
    data.erase("tree_size");
    data.erase("root_hash");
  });
  REQUIRE(es::check_link(v1, es::kGenesisHash).has_value());
  auto decoded = es::decode_envelope(v1);
  REQUIRE(decoded.has_value());
  REQUIRE(decoded->schema_version == 1);
  const auto& c = std::get<kd::AuditCheckpointSigned>(decoded->recorded.event);
  REQUIRE(c == kd::AuditCheckpointSigned{12, std::string(64, 'a'), 0, "", "2026-11-28T10:20:30.456Z", "ab", "cd"});
  // Its signed text is v1's, as it was signed.
  REQUIRE(kd::checkpoint_text("d1", c.sequence, c.head_hash, c.tree_size, c.root_hash, c.signed_at) ==
          "keyledger audit checkpoint v1\ndashboard d1\nsequence 12\nhead " + std::string(64, 'a') +
              "\nsigned_at 2026-11-28T10:20:30.456Z\n");
  // A version that never existed is refused.
  auto j = nlohmann::json::parse(v1);
  j["schema_version"] = 0;
  REQUIRE_FALSE(es::decode_envelope(j.dump()).has_value());
}

TEST_CASE("envelope: hash version 2 covers password hashes and ciphertexts through their digests") {
  for (const auto& event : one_of_each()) {
    auto envelope = envelope_of(event);
    const std::string stored = es::seal_envelope(envelope);
    INFO(stored);
    auto j = nlohmann::json::parse(stored);
    REQUIRE(j["hash_version"] == 2);
    REQUIRE(es::check_link(stored, es::kGenesisHash).value() == envelope.hash);
    // The hash is over the committed form: what the audit API shows, recomputable from it.
    j.erase("hash");
    es::commit_sensitive_values(j["data"]);
    REQUIRE(crypto::to_hex(crypto::sha256(j.dump())) == envelope.hash);
    REQUIRE(j.dump().find("\"ciphertext\"") == std::string::npos);
    REQUIRE(j.dump().find("\"password_hash\"") == std::string::npos);
    // The stored bytes keep the values themselves (state is folded from them), and changing
    // one changes its digest, so the link breaks.
    auto decoded = es::decode_envelope(stored);
    REQUIRE(decoded.has_value());
    REQUIRE(decoded->recorded.event == event);
    REQUIRE(decoded->hash_version == 2);
    for (const std::string field : {"\"password_hash\":\"", "\"ciphertext\":\""}) {
      auto at = stored.find(field);
      if (at == std::string::npos) continue;
      std::string tampered = stored;
      tampered[at + field.size()] = tampered[at + field.size()] == 'A' ? 'B' : 'A';
      REQUIRE_FALSE(es::check_link(tampered, es::kGenesisHash).has_value());
    }
  }
  // A hash version this keyledger does not know is refused by both readers.
  auto envelope = envelope_of(kd::EmailKeyRevoked{"k1"});
  auto j = nlohmann::json::parse(es::seal_envelope(envelope));
  j["hash_version"] = 3;
  REQUIRE_FALSE(es::decode_envelope(j.dump()).has_value());
  REQUIRE_FALSE(es::check_link(j.dump(), es::kGenesisHash).has_value());
}

TEST_CASE("envelope: an event of hash version 1 (no hash_version) is sealed again as it was stored") {
  auto envelope = envelope_of(kd::UserAdded{"a@b.c", kd::Role::developer, "scrypt$15$8$1$c2FsdA==$aGFzaA=="});
  envelope.hash_version = 1;
  const std::string stored = es::seal_envelope(envelope);
  REQUIRE(stored.find("hash_version") == std::string::npos);
  auto j = nlohmann::json::parse(stored);
  j.erase("hash");
  REQUIRE(crypto::to_hex(crypto::sha256(j.dump())) == envelope.hash);  // the whole envelope, as stored
  REQUIRE(es::check_link(stored, es::kGenesisHash).has_value());
  auto decoded = es::decode_envelope(stored);
  REQUIRE(decoded->hash_version == 1);
  REQUIRE(es::seal_envelope(*decoded) == stored);
}

TEST_CASE("envelope: a v2 checkpoint's signed text names the tree's size and root (SPEC §11)") {
  REQUIRE(kd::checkpoint_text("d1", 5, std::string(64, 'a'), 5, std::string(64, 'b'), "2026-11-28T10:20:30.456Z") ==
          "keyledger audit checkpoint v2\ndashboard d1\nsequence 5\nhead " + std::string(64, 'a') + "\ntree_size 5\nroot " +
              std::string(64, 'b') + "\nsigned_at 2026-11-28T10:20:30.456Z\n");
}

TEST_CASE("envelope: malformed stored bytes are reported, not crashed on") {
  for (std::string bad : {"", "{", "[]", R"({"id":"x"})", R"({"type":"Nope"})"}) {
    REQUIRE_FALSE(es::decode_envelope(bad).has_value());
  }
}

// Found by fuzz/event_decoder_fuzz: a number too large for its field (here 3.3e21 as a
// stream_version) is parsed as a floating-point value, and converting it to an integer was
// undefined behaviour. Every number in an envelope is an integer, so anything else is refused.
TEST_CASE("envelope: a number that is not an integer is refused wherever it is") {
  es::Envelope sample = envelope_of(kd::KeyUsageRecorded{{{"k1", 42, kAt}}});
  std::string sealed = es::seal_envelope(sample);
  REQUIRE(es::decode_envelope(sealed).has_value());
  for (auto [field, value] : {std::pair{"\"stream_version\":", "3333333333333333333333"},
                              std::pair{"\"sequence\":", "1.5"}, std::pair{"\"schema_version\":", "1e0"},
                              std::pair{"\"uses\":", "1e300"}}) {
    INFO(field << value);
    std::string bad = sealed;
    auto at = bad.find(field);
    REQUIRE(at != std::string::npos);
    auto start = at + std::string(field).size();
    bad.replace(start, bad.find_first_of(",}", start) - start, value);
    auto decoded = es::decode_envelope(bad);
    REQUIRE_FALSE(decoded.has_value());
    CHECK(decoded.error().find("integer") != std::string::npos);
  }
}

// Found by fuzz/event_decoder_fuzz in a clean-clone run: a WhatsAppKeyGenerated whose
// "secret" was renamed decoded with a default secret in its place, which then sealed to
// bytes that do not decode. Every field of an event's data is required, at every depth.
TEST_CASE("envelope: data without any one of its fields is refused") {
  for (auto& event : one_of_each()) {
    if (std::holds_alternative<kd::CommandDenied>(event)) continue;  // its subject and detail are optional
    es::Envelope sample = envelope_of(event);
    const std::string sealed = es::seal_envelope(sample);
    REQUIRE(es::decode_envelope(sealed).has_value());
    const std::size_t data_at = sealed.find("\"data\":");
    // Every member name of the data object, and of objects nested in it.
    std::set<std::string> names;
    std::function<void(const nlohmann::json&)> collect = [&](const nlohmann::json& j) {
      if (j.is_array()) {
        for (auto& e : j) collect(e);
      } else if (j.is_object()) {
        for (auto& [name, value] : j.items()) names.insert(name), collect(value);
      }
    };
    collect(nlohmann::json::parse(sealed)["data"]);
    REQUIRE_FALSE(names.empty());
    for (auto& name : names) {
      INFO(kd::event_type(event) << " without " << name);
      std::string bad = sealed;
      const std::size_t at = bad.find("\"" + name + "\":", data_at);
      REQUIRE(at != std::string::npos);
      bad.insert(at + 1 + name.size(), "_unknown");
      auto decoded = es::decode_envelope(bad);
      REQUIRE_FALSE(decoded.has_value());
      CHECK(decoded.error().find("without") != std::string::npos);
    }
  }
}

TEST_CASE("envelope: check_link vouches for the chain, not the schema: a well-hashed non-event links but does not decode") {
  // What libFuzzer found: anyone can give well-formed JSON its own hash. Such bytes are a
  // valid link, so every reader that needs an event decodes as well (verify_log_chains does).
  auto envelope = envelope_of(kd::EmailKeyRevoked{"k1"});
  auto j = nlohmann::json::parse(es::seal_envelope(envelope));
  j["sequence"] = "one";
  j.erase("hash");
  es::commit_sensitive_values(j["data"]);
  const std::string hash = crypto::to_hex(crypto::sha256(j.dump()));
  j["hash"] = hash;
  REQUIRE(es::check_link(j.dump(), es::kGenesisHash).value() == hash);
  auto decoded = es::decode_envelope(j.dump());
  REQUIRE_FALSE(decoded.has_value());
  INFO(decoded.error());
  REQUIRE(decoded.error().starts_with("malformed envelope"));
}

TEST_CASE("UUIDv7 ids carry their millisecond and version, and sort by time") {
  std::string a = crypto::uuid_v7(1764325230456);
  std::string b = crypto::uuid_v7(1764325230457);
  REQUIRE(a.size() == 36);
  REQUIRE(a[14] == '7');
  REQUIRE(std::string("89ab").find(a[19]) != std::string::npos);
  REQUIRE(a.substr(0, 13) == "019ac9fa-8778");
  REQUIRE(a < b);
  // Within one millisecond, across many refills of the per-thread random pool: all distinct.
  std::set<std::string> seen;
  for (int i = 0; i < 100000; ++i) REQUIRE(seen.insert(crypto::uuid_v7(1764325230456)).second);
}

TEST_CASE("RFC 3339 times round-trip with milliseconds") {
  REQUIRE(es::format_rfc3339(kAt) == "2026-11-28T10:20:30.456Z");
  using namespace std::chrono;
  REQUIRE(es::format_rfc3339(kd::Timestamp{}) == "1970-01-01T00:00:00.000Z");
  REQUIRE(es::format_rfc3339(kd::Timestamp{sys_days{year{9999} / 12 / 31}.time_since_epoch() + hours{23} + minutes{59} +
                                           seconds{59} + milliseconds{999}}) == "9999-12-31T23:59:59.999Z");
  REQUIRE(es::format_rfc3339(kd::Timestamp{sys_days{year{10000} / 1 / 1}.time_since_epoch() + milliseconds{7}}) ==
          "10000-01-01T00:00:00.007Z");
  REQUIRE(es::format_rfc3339(kd::Timestamp{sys_days{year{1} / 2 / 3}.time_since_epoch() + hours{4} + minutes{5} +
                                           seconds{6} + milliseconds{78}}) == "0001-02-03T04:05:06.078Z");
  // Every millisecond-precise time reads back as itself.
  for (std::int64_t ms : {std::int64_t{0}, std::int64_t{951782400001}, std::int64_t{1764325230456}, std::int64_t{4102444799999}}) {
    const kd::Timestamp t{milliseconds{ms}};
    REQUIRE(es::parse_rfc3339(es::format_rfc3339(t)) == t);
  }
  REQUIRE(es::parse_rfc3339("2026-11-28T10:20:30Z").has_value());
  REQUIRE_FALSE(es::parse_rfc3339("2026-11-28 10:20:30Z").has_value());
  REQUIRE_FALSE(es::parse_rfc3339("2026-02-30T10:20:30.000Z").has_value());
}

TEST_CASE("envelope: text with every kind of JSON escape and non-ASCII survives sealing and decoding") {
  const std::string tricky = std::string("quote\" back\\ slash/ tab\t nl\n cr\r bs\b ff\f ctrl\x01\x1f ") +
                             "é ünï 漢字 😀 " + std::string(1, '\0') + " end";
  auto e = envelope_of(kd::DashboardCreated{"d1", tricky});
  std::string sealed = es::seal_envelope(e);
  auto decoded = es::decode_envelope(sealed);
  REQUIRE(decoded.has_value());
  REQUIRE(std::get<kd::DashboardCreated>(decoded->recorded.event).name == tricky);
  REQUIRE(es::check_link(sealed, es::kGenesisHash).has_value());
  // Escapes nlohmann does not write are read too: \/ and \u with a surrogate pair.
  std::string escaped = sealed;
  const std::string plain = nlohmann::json(tricky).dump();
  const std::string written = R"("quote\" back\\ slash\/ tab\t nl\n cr\r bs\b ff\f ctrl\u0001\u001f )"
                              R"(\u00e9 \u00fcn\u00ef \u6f22\u5b57 \ud83d\ude00 \u0000 end")";
  escaped.replace(escaped.find(plain), plain.size(), written);
  decoded = es::decode_envelope(escaped);
  REQUIRE(decoded.has_value());
  REQUIRE(std::get<kd::DashboardCreated>(decoded->recorded.event).name == tricky);
}

TEST_CASE("envelope: malformed text is refused: bad UTF-8, lone surrogates, bad escapes, control characters") {
  const std::string sealed = es::seal_envelope(*std::make_unique<es::Envelope>(envelope_of(kd::DashboardCreated{"d1", "NAME"})));
  for (std::string bad : {std::string("\xc3\x28"), std::string("\xed\xa0\x80"), std::string("\xf8\x88\x80\x80\x80"),
                          std::string("\\ud83d"), std::string("\\ude00x"), std::string("\\x41"), std::string("a\x01"),
                          std::string("\xe0\x80\xaf")}) {
    INFO(bad);
    std::string damaged = sealed;
    damaged.replace(damaged.find("NAME"), 4, bad);
    REQUIRE_FALSE(es::decode_envelope(damaged).has_value());
  }
}

TEST_CASE("envelope: sealing writes byte for byte what nlohmann's dump writes of the same envelope") {
  // The hash chain is over these bytes: the streaming writer must not change one of them.
  auto events = one_of_each();
  events.push_back(kd::DashboardCreated{"d1", std::string("\x01\x1f\x7f quote\" back\\ ü 😀 \t\n", 24)});
  for (bool with_idempotency : {false, true}) {
    for (auto& event : events) {
      INFO(kd::event_type(event) << " with idempotency key: " << with_idempotency);
      auto envelope = envelope_of(event);
      if (with_idempotency) {
        envelope.idempotency_key = "idem-\"1\"";
        envelope.request_digest = std::string(64, 'f');
      }
      const std::string sealed = es::seal_envelope(envelope);
      auto document = nlohmann::json::parse(sealed);
      REQUIRE(document.dump() == sealed);
      document.erase("hash");
      es::commit_sensitive_values(document["data"]);  // hash version 2: over the committed form
      REQUIRE(crypto::to_hex(crypto::sha256(document.dump())) == envelope.hash);
      REQUIRE(nlohmann::json::parse(es::event_data_json(event)).dump() == es::event_data_json(event));
    }
  }
}

TEST_CASE("envelope: the README tour's stored events seal again to the very bytes stored") {
  // A segment the README tour wrote with the codec of 2026-11-28 (nlohmann's DOM): decoding
  // each event and sealing it again must give the stored bytes, or the hash chain would fork.
  std::ifstream in(std::string(KEYLEDGER_SOURCE_DIR) + "/fuzz/corpus/log_recovery/readme-tour-segment", std::ios::binary);
  // (The fuzzer's seed: its first byte picks the harness's mode; the segment follows.)
  const std::string segment = std::string(std::istreambuf_iterator<char>(in), {}).substr(1);
  auto recovered = es::segment_format::recover(segment, 0);
  REQUIRE_FALSE(recovered.damage.has_value());
  std::size_t events = 0;
  std::set<std::string> types;
  for (const auto& batch : recovered.batches) {
    const std::string_view body = std::string_view(segment).substr(batch.offset + es::segment_format::kFrameHeader, batch.length);
    es::segment_format::for_each_record(body, [&](std::uint32_t, std::string_view stored) {
      auto decoded = es::decode_envelope(stored);
      REQUIRE(decoded.has_value());
      es::Envelope again = *decoded;
      REQUIRE(es::seal_envelope(again) == stored);
      REQUIRE(again.hash == decoded->hash);
      types.insert(std::string(decoded->type()));
      ++events;
      return true;
    });
  }
  REQUIRE(events == 14);
  REQUIRE(types.size() == 14);  // fourteen event types, refusals among them
}
