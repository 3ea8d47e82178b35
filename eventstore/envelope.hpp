// The versioned JSON envelope of every stored event (SPEC §5) and its codec. Each
// dashboard's events form a SHA-256 chain: `hash` covers the whole envelope but itself,
// including `prev_hash`, so changing any byte of any stored event is detectable.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "domain/events.hpp"

namespace keyledger::eventstore {

// The schema version of each event type's data (docs/events/README.md): 1 for every type
// but AuditCheckpointSigned, 2 since its checkpoints name the Merkle tree they sign
// (tree_size, root_hash). seal_envelope writes it; decode_envelope upcasts older ones.
int schema_version_of(std::string_view type);
inline const std::string kGenesisHash(64, '0');  // prev_hash of a dashboard's first event

// What an event's `hash` covers (docs/events/README.md). 1 (no `hash_version` member): the
// envelope without `hash`, as stored. 2: its committed form, in which every member of `data`
// named `password_hash` or `ciphertext` is replaced by `<name>_sha256`, the hex SHA-256 of
// its text — the form the audit API shows, so that anyone can recompute the hash without
// seeing a password hash or a ciphertext.
inline constexpr int kHashVersion = 2;

struct Envelope {
  std::string id;  // UUIDv7
  int schema_version = 0;            // as read; sealing writes schema_version_of(type())
  std::string dashboard_id;
  std::string stream;               // the aggregate: domain::stream_of(event)
  std::uint64_t stream_version = 0; // 1-based, per stream within the dashboard
  std::uint64_t sequence = 0;       // 1-based position in the dashboard's events
  domain::RecordedEvent recorded;   // the event, its actor and occurred_at
  std::string correlation_id;
  std::string causation_id;
  std::string idempotency_key;      // empty when the request carried none
  std::string request_digest;       // keyed HMAC of the caller and request an idempotency key was used for
  std::string prev_hash;
  std::string hash;
  int hash_version = kHashVersion;  // as read; an old event is sealed again with its own

  std::string_view type() const { return domain::event_type(recorded.event); }
};

// Sets `schema_version` to its type's, computes `hash` from every other field (setting both on
// `envelope`) and returns the canonical JSON bytes that are stored and published.
std::string seal_envelope(Envelope& envelope);

// How much of an envelope to read: all of it, or what folding it into state and the read
// models needs (no event id, correlation, causation or prev_hash: replay skips those).
enum class DecodeScope { whole, fold };

// Parses stored bytes, upcasting older schema versions of the event data. Does not check
// the chain; see check_link.
std::expected<Envelope, std::string> decode_envelope(std::string_view bytes, DecodeScope scope = DecodeScope::whole);

// Checks one stored event as a link of its dashboard's chain: the bytes are canonical, the
// recorded hash is the hash of the content, and prev_hash is `expected_prev_hash`.
// Returns the event's hash, the next link's expected prev_hash.
std::expected<std::string, std::string> check_link(std::string_view bytes,
                                                   std::string_view expected_prev_hash);

// Replaces, in an event's `data` (a JSON DOM), every sensitive value by its digest: the
// committed form of hash version 2.
void commit_sensitive_values(nlohmann::json& data);

// The event's `data` member alone, as JSON text (for schemas and listings).
std::string event_data_json(const domain::Event& event);

}  // namespace keyledger::eventstore
