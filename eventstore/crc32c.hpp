// CRC32C (Castagnoli), the checksum of each record batch in the file log.
#pragma once

#include <cstdint>
#include <string_view>

namespace keyledger::eventstore {

std::uint32_t crc32c(std::string_view bytes, std::uint32_t seed = 0);

}  // namespace keyledger::eventstore
