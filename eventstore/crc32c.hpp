// CRC32C (Castagnoli), the checksum of each record batch in the file log, of sealed-segment
// indexes and of snapshots. Uses the CPU's CRC32 instruction (SSE 4.2) where there is one.
#pragma once

#include <cstdint>
#include <string_view>

namespace keyledger::eventstore {

// `seed` continues an earlier checksum: crc32c(b, crc32c(a)) == crc32c(a + b).
std::uint32_t crc32c(std::string_view bytes, std::uint32_t seed = 0);
// The table-driven computation alone, for checking the hardware one against it.
std::uint32_t crc32c_portable(std::string_view bytes, std::uint32_t seed = 0);

}  // namespace keyledger::eventstore
