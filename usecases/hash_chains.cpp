#include "hash_chains.hpp"

#include "crypto/crypto.hpp"
#include "crypto/merkle.hpp"
#include "projections/audit_trees.hpp"
#include "domain/commands.hpp"

namespace keyledger::usecases {

namespace es = keyledger::eventstore;

std::optional<std::string> ChainCheck::next(std::string_view stored_bytes) {
  auto link = es::check_link(stored_bytes, head_);
  if (!link) return link.error();
  head_ = std::move(*link);
  ++events_;
  return std::nullopt;
}

DashboardChain verify_dashboard_chain(es::EventLog& log, const std::string& dashboard_id,
                                      std::span<const projections::AuditEntry> entries) {
  DashboardChain result;
  for (const auto& entry : entries) {
    const es::LogPosition position{entry.partition, entry.offset};
    if (auto why = result.chain.next(log.read_one(position))) {
      result.broken = ChainBreak{position, dashboard_id, entry.sequence, std::move(*why)};
      break;
    }
  }
  return result;
}

LogChains verify_log_chains(es::EventLog& log, const std::function<void(std::uint64_t, std::uint64_t)>& progress) {
  LogChains result;
  const std::uint64_t total = log.end(0);
  log.read(0, 0, total, [&](const es::StoredRecord& record) {
    if (progress && record.position.offset % 4096 == 0) progress(record.position.offset, total);
    auto envelope = es::decode_envelope(record.bytes);
    const std::string dashboard = envelope ? envelope->dashboard_id : "?";
    ChainCheck& chain = result.dashboards[dashboard];
    std::optional<std::string> why = envelope ? chain.next(record.bytes) : std::optional(envelope.error());
    if (why) {
      result.broken = ChainBreak{record.position, dashboard, chain.events() + 1, std::move(*why)};
      return false;
    }
    ++result.events;
    return true;
  });
  std::erase_if(result.dashboards, [](const auto& entry) { return entry.second.events() == 0; });
  return result;
}

std::optional<ChainBreak> check_checkpoint(es::EventLog& log, const Checkpoint& checkpoint,
                                           const std::string& expected_public_key_hex) {
  auto fault = [&](std::string why) { return ChainBreak{std::nullopt, checkpoint.dashboard_id, checkpoint.sequence, std::move(why)}; };
  if (!expected_public_key_hex.empty() && expected_public_key_hex != checkpoint.public_key_hex) {
    return fault("signed by another key than the one expected");
  }
  const auto public_key = crypto::from_hex(checkpoint.public_key_hex);
  const auto signature = crypto::from_hex(checkpoint.signature_hex);
  const std::string text = domain::checkpoint_text(checkpoint.dashboard_id, checkpoint.sequence, checkpoint.head_hash,
                                                   checkpoint.tree_size, checkpoint.root_hash, checkpoint.signed_at);
  if (!public_key || !signature || !crypto::ed25519_verify(*public_key, text, *signature)) {
    return fault("the checkpoint's signature does not verify");
  }
  ChainCheck chain;
  crypto::merkle::Frontier tree;
  std::optional<ChainBreak> broken;
  if (checkpoint.sequence > 0) {
    log.read(0, 0, log.end(0), [&](const es::StoredRecord& record) {
      auto envelope = es::decode_envelope(record.bytes);
      if (!envelope || envelope->dashboard_id != checkpoint.dashboard_id) return true;
      if (auto why = chain.next(record.bytes)) {
        broken = ChainBreak{record.position, checkpoint.dashboard_id, chain.events() + 1, std::move(*why)};
        return false;
      }
      tree.append(projections::AuditTrees::leaf_of(chain.head()));
      return chain.events() < checkpoint.sequence;
    });
  }
  if (broken) return broken;
  if (chain.events() < checkpoint.sequence) {
    return fault("the log holds only " + std::to_string(chain.events()) + " of the dashboard's events");
  }
  if (chain.head() != checkpoint.head_hash) return fault("the history up to the checkpoint was rewritten: its head hash differs");
  if (!checkpoint.root_hash.empty() &&
      (checkpoint.tree_size != checkpoint.sequence || crypto::merkle::to_hex(tree.root()) != checkpoint.root_hash)) {
    return fault("the history up to the checkpoint was rewritten: its Merkle root differs");
  }
  return std::nullopt;
}

}  // namespace keyledger::usecases
