// The event decoder (eventstore/envelope.hpp) on arbitrary bytes, as a consumer of the log
// or the topic might meet them. Properties: decoding and checking a link never crash; what
// decodes seals to canonical bytes that decode and seal again to the same bytes; what
// check_link accepts is canonical. check_link vouches for the chain, not for the schema:
// anyone can hash well-formed JSON that is no event (the fuzzer does, by learning the hash
// it is compared with), so readers that need an event decode as well (verify_log_chains).
#include <cstdint>

#include <nlohmann/json.hpp>

#include "eventstore/envelope.hpp"
#include "fuzz_support.hpp"

namespace es = keyledger::eventstore;
using keyledger::fuzz::fail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes = keyledger::fuzz::as_text(data, size);
  auto link = es::check_link(bytes, es::kGenesisHash);
  auto decoded = es::decode_envelope(bytes);
  if (!decoded) {
    if (link && nlohmann::json::parse(bytes).dump() != bytes) fail("check_link accepted non-canonical bytes");
    return 0;
  }
  es::Envelope copy = *decoded;
  std::string sealed = es::seal_envelope(copy);
  auto again = es::decode_envelope(sealed);
  if (!again) fail("a decoded envelope sealed to bytes that do not decode: " + again.error());
  std::string resealed = es::seal_envelope(*again);
  if (resealed != sealed) fail("sealing is not stable:\n" + sealed + "\n" + resealed);
  if (!es::check_link(sealed, copy.prev_hash)) fail("a freshly sealed envelope is not a valid link: " + sealed);
  if (link && bytes != sealed) fail("check_link accepted non-canonical bytes");
  return 0;
}
