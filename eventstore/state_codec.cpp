#include "state_codec.hpp"

#include <cstring>

namespace keyledger::eventstore {

namespace {

using domain::Timestamp;

void put_time(binary::Writer& out, Timestamp t) { out.i64(t.time_since_epoch().count()); }
Timestamp get_time(binary::Reader& in) { return Timestamp{std::chrono::milliseconds{in.i64()}}; }

void put_optional_time(binary::Writer& out, const std::optional<Timestamp>& t) {
  out.boolean(t.has_value());
  if (t) put_time(out, *t);
}
std::optional<Timestamp> get_optional_time(binary::Reader& in) {
  if (!in.boolean()) return std::nullopt;
  return get_time(in);
}

template <class Enum>
Enum get_enum(binary::Reader& in, Enum last) {
  const auto v = in.u8();
  if (v > static_cast<std::uint8_t>(last)) in.fail();
  return static_cast<Enum>(v);
}

void put_strings(binary::Writer& out, const auto& strings) {
  out.varint(strings.size());
  for (const auto& s : strings) out.bytes(s);
}
std::vector<std::string> get_strings(binary::Reader& in) {
  std::vector<std::string> out(in.count());
  for (auto& s : out) s = in.string();
  return out;
}

template <std::size_t N, class T>
void put_array(binary::Writer& out, const std::array<T, N>& a) {
  out.raw(std::string_view(reinterpret_cast<const char*>(a.data()), N));
}
template <std::size_t N, class T>
void get_array(binary::Reader& in, std::array<T, N>& a) {
  const auto bytes = in.raw(N);
  if (bytes.size() == N) std::memcpy(a.data(), bytes.data(), N);
}

void put_key(binary::Writer& out, std::string_view id, const domain::ApiKey& k) {
  out.bytes(id);
  out.u8(static_cast<std::uint8_t>(k.channel));
  out.boolean(k.revoked);
  out.u32(k.permissions);
  out.varint(k.version);
  out.bytes(k.name);
  put_array(out, k.fingerprint);
  put_array(out, k.mask);
  out.varint(k.secret_sequence);
  out.boolean(k.has_previous);
  if (k.has_previous) {
    put_array(out, k.previous);
    put_time(out, k.previous_valid_until);
  }
  put_time(out, k.created_at);
  put_time(out, k.secret_issued_at);
  put_time(out, k.revoked_at);
  out.varint(k.uses);
  put_optional_time(out, k.last_used_at);
  put_strings(out, k.ip_allowlist);
}
std::string get_key(binary::Reader& in, domain::ApiKey& k) {
  std::string id = in.string();
  k.channel = get_enum(in, domain::Channel::rcs);
  k.revoked = in.boolean();
  const std::uint32_t permissions = in.u32();
  if (permissions > 0xffff) in.fail();
  k.permissions = static_cast<std::uint16_t>(permissions);
  k.version = static_cast<std::uint32_t>(in.varint());
  k.name = in.string();
  get_array(in, k.fingerprint);
  get_array(in, k.mask);
  k.secret_sequence = in.varint();
  k.has_previous = in.boolean();
  if (k.has_previous) {
    get_array(in, k.previous);
    k.previous_valid_until = get_time(in);
  }
  k.created_at = get_time(in);
  k.secret_issued_at = get_time(in);
  k.revoked_at = get_time(in);
  k.uses = in.varint();
  k.last_used_at = get_optional_time(in);
  k.ip_allowlist = get_strings(in);
  return id;
}

}  // namespace

void encode_state(binary::Writer& out, const domain::DashboardState& s) {
  out.boolean(s.exists);
  out.boolean(s.closed);
  out.bytes(s.id);
  out.bytes(s.name);
  put_time(out, s.created_at);
  out.varint(s.users.size());
  for (const auto& [email, u] : s.users) {
    out.bytes(u.email);
    out.u8(static_cast<std::uint8_t>(u.role));
    out.bytes(u.password_hash);
    out.varint(u.recent_failures.size());
    for (auto t : u.recent_failures) put_time(out, t);
    put_optional_time(out, u.locked_until);
  }
  out.varint(s.keys.size());
  for (const auto& [id, key] : s.keys) put_key(out, id, key);
  out.varint(s.numbers.size());
  for (const auto& [number, n] : s.numbers) {
    out.bytes(n.number);
    out.bytes(n.key_id);
    put_time(out, n.registered_at);
  }
  out.bytes(s.rcs_key_id);
  put_strings(out, s.rcs_bots);
  out.boolean(s.last_checkpoint.has_value());
  if (const auto& c = s.last_checkpoint) {
    out.varint(c->sequence);
    out.bytes(c->head_hash);
    out.varint(c->tree_size);
    out.bytes(c->root_hash);
    out.bytes(c->signed_at);
    out.bytes(c->public_key);
    out.bytes(c->signature);
  }
  out.bytes(s.data_key_master);
}

bool decode_state(binary::Reader& in, domain::DashboardState& s) {
  s = {};
  s.exists = in.boolean();
  s.closed = in.boolean();
  s.id = in.string();
  s.name = in.string();
  s.created_at = get_time(in);
  for (auto n = in.count(); n > 0 && in.ok(); --n) {
    domain::User u;
    u.email = in.string();
    u.role = get_enum(in, domain::Role::viewer);
    u.password_hash = in.string();
    for (auto f = in.count(); f > 0 && in.ok(); --f) u.recent_failures.push_back(get_time(in));
    u.locked_until = get_optional_time(in);
    s.users.emplace(u.email, std::move(u));
  }
  auto hint = s.keys.end();
  for (auto n = in.count(); n > 0 && in.ok(); --n) {
    domain::ApiKey key;
    std::string id = get_key(in, key);
    hint = s.keys.emplace_hint(hint, std::move(id), std::move(key));  // written in order: O(1) inserts
  }
  for (auto n = in.count(); n > 0 && in.ok(); --n) {
    domain::SmsNumber number;
    number.number = in.string();
    number.key_id = in.string();
    number.registered_at = get_time(in);
    s.numbers.emplace(number.number, std::move(number));
  }
  s.rcs_key_id = in.string();
  for (auto& bot : get_strings(in)) s.rcs_bots.insert(std::move(bot));
  if (in.boolean()) {
    domain::AuditCheckpointSigned c;
    c.sequence = in.varint();
    c.head_hash = in.string();
    c.tree_size = in.varint();
    c.root_hash = in.string();
    c.signed_at = in.string();
    c.public_key = in.string();
    c.signature = in.string();
    s.last_checkpoint = std::move(c);
  }
  s.data_key_master = in.string();
  return in.ok();
}

}  // namespace keyledger::eventstore
