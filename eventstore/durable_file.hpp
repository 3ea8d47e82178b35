// Small files that must survive a crash whole or not at all (keyring, snapshots).
#pragma once

#include <string>
#include <string_view>

namespace keyledger::eventstore {

// Writes `contents` to a temporary file beside `path`, fsyncs it, renames it over `path`
// and fsyncs the directory. Returns false on any failure, leaving `path` as it was.
bool write_file_atomically(const std::string& path, std::string_view contents);

// fsync of a directory, so that a create, rename or unlink inside it is durable.
bool sync_directory(const std::string& dir);

}  // namespace keyledger::eventstore
