// Where each record of a Kafka transaction landed (partition, offset, error), from the
// producer's delivery reports: the log learns its positions from them (kafka_log.cpp).
//
// Reports are served on the thread that polls the producer: the log's writer thread
// (commit_transaction flushes and polls), or the one destroying the writer once that thread
// has stopped — never two at once, so nothing here is locked.
//
// A record's report can come after its transaction was given up — an abort, a fence or the
// producer's destruction purges what is still queued, and reports it — so a report names its
// record by (transaction, index), never by an address, and one of an earlier transaction is
// ignored.
#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace keyledger::eventstore {

class DeliveryReports : public RdKafka::DeliveryReportCb {
 public:
  struct Landed {
    std::int32_t partition = -1;
    std::int64_t offset = -1;
    RdKafka::ErrorCode error = RdKafka::ERR__STATE;  // until its report comes
  };

  // Begins a transaction of `count` records; what their reports say is in the span returned,
  // valid until the next call. Reports of the transactions before are ignored from now on.
  std::span<Landed> expect(std::size_t count) {
    ++transaction_;
    landed_.assign(count, Landed{});
    return landed_;
  }

  // What produce() carries (its msg_opaque) for the record at `index` of the transaction
  // begun last.
  void* tag(std::size_t index) const {
    return reinterpret_cast<void*>((std::uintptr_t{transaction_} << 32) | (static_cast<std::uintptr_t>(index) + 1));
  }

  void dr_cb(RdKafka::Message& message) override {
    const auto carried = reinterpret_cast<std::uintptr_t>(message.msg_opaque());
    if (carried == 0 || (carried >> 32) != transaction_) return;  // not ours to place, or given up
    const std::size_t index = (carried & 0xffffffffu) - 1;
    if (index >= landed_.size()) return;
    landed_[index] = Landed{message.partition(), message.offset(), message.err()};
  }

 private:
  static_assert(sizeof(std::uintptr_t) >= 8, "a tag holds a 32-bit transaction and a 32-bit index");
  std::uint32_t transaction_ = 0;
  std::vector<Landed> landed_;
};

}  // namespace keyledger::eventstore
