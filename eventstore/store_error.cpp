#include "store_error.hpp"

namespace keyledger::eventstore {

namespace {
class StoreCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "keyledger.eventstore"; }
  std::string message(int value) const override {
    switch (static_cast<StoreErrc>(value)) {
      case StoreErrc::log_unavailable: return "the event log cannot take writes";
      case StoreErrc::log_locked: return "another keyledger process holds the data directory";
      case StoreErrc::log_corrupt: return "the event log is corrupt";
      case StoreErrc::fenced: return "another writer took over the event log";
      case StoreErrc::keyring_unavailable: return "the keyring cannot provide the data key";
      case StoreErrc::data_key_destroyed: return "the dashboard's data key was destroyed";
      case StoreErrc::bad_master_key: return "the master key is missing or malformed";
      case StoreErrc::chain_broken: return "the hash chain is broken";
      case StoreErrc::decode_failed: return "a stored event could not be decoded";
      case StoreErrc::not_owner: return "another process of the cluster writes this dashboard's partition";
    }
    return "unknown event store error";
  }
};
}  // namespace

const std::error_category& store_category() {
  static const StoreCategory category;
  return category;
}

std::error_code make_error_code(StoreErrc e) { return {static_cast<int>(e), store_category()}; }

}  // namespace keyledger::eventstore
