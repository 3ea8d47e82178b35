// What the audit API shows of a stored event (SPEC §5, §11): the listing, the export and the
// live event stream all show it this one way.
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

namespace keyledger::api {

// Everything, except material that is safe in the log but needless to readers (password
// hashes, sealed ciphertexts). From hash version 2 on that is the committed form, which the
// event's hash covers (each such value replaced by its SHA-256), so a reader can recompute
// the hash; before, they were only left out.
nlohmann::json audit_view(std::string_view stored);
// The same as JSON text, the dump() of audit_view(stored) — for the event streams, which
// send every event to every reader: a stored event of hash version 2 is already canonical
// JSON, so its sensitive members are replaced in the text, without building a DOM.
std::string audit_view_text(std::string_view stored);

}  // namespace keyledger::api
