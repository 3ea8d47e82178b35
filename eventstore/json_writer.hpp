// Canonical JSON, written as it goes: no spaces, object members in the order the caller
// writes them (callers write them sorted), strings escaped exactly as nlohmann::json's dump()
// does (the stored hash chain is over those bytes: `"`, `\`, \b \f \n \r \t, other control
// characters as \u00xx, everything else as is). The event codec seals envelopes with it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace keyledger::eventstore::json_writer {

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  // Continues an object some of whose members are already written elsewhere: the first
  // member written here gets its comma, and end_object() closes that object.
  struct Continuing {};
  Writer(std::string& out, Continuing) : out_(out), first_(false) {}

  void begin_object() { open('{'); }
  void end_object() { close('}'); }
  void begin_array() { open('['); }
  void end_array() { close(']'); }
  // The next member's name, in an object.
  void key(std::string_view name);

  // Throws std::invalid_argument for text that is not valid UTF-8, as dump() does.
  void string(std::string_view text);
  void unsigned_integer(std::uint64_t v);
  void integer(std::int64_t v);
  void boolean(bool v);
  void null();
  // Shortest form that reads back as `v` (std::to_chars); null for NaN and the infinities.
  // Envelopes hold no such number: the server's log lines do.
  void number(double v);

 private:
  void separate();  // a comma before every value but a container's first
  void quoted(std::string_view text);
  void open(char bracket);
  void close(char bracket);

  std::string& out_;
  bool first_ = true;   // nothing written yet in the innermost container
  bool after_key_ = false;
};

}  // namespace keyledger::eventstore::json_writer
