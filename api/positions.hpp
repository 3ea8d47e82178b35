// Read-your-writes across processes (SPEC §10): a command's answer carries
// `Keyledger-Position: <partition>:<offset>[,…]`, the offset of the last record it wrote in
// each partition; a read that sends it back as `Keyledger-Min-Position` is answered once
// this process has applied those offsets — after a bounded wait, else 503 with Retry-After.
// A process applies what it wrote before it answers; what other processes write reaches
// it through the log's follower (kafka_follower.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "eventstore/command_pipeline.hpp"
#include "eventstore/event_log.hpp"
#include "http_message.hpp"
#include "problem.hpp"

namespace keyledger::api {

// partition → offset of the last record written there.
using WrittenPositions = std::map<std::uint32_t, std::uint64_t>;

// The header's value: "0:41" or "0:41,3:7" (partitions in order).
std::string position_header(const WrittenPositions& written);

// Parses `Keyledger-Min-Position`: each partition at most once and within the log's
// partitions. 400 naming the header otherwise.
Expected<WrittenPositions> parse_min_position(const std::string& text, std::uint32_t partitions);

// Waits, at most `limit`, until every position of `wanted` is applied — this process's own
// writes being folded, or (on a Kafka replica) other processes' records arriving; 503 with
// Retry-After (code position_not_applied) if not by then.
Expected<void> await_applied(const WrittenPositions& wanted, const eventstore::CommandPipeline& pipeline,
                             std::chrono::milliseconds limit);

}  // namespace keyledger::api
