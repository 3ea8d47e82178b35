// A JSON pull reader over bytes in memory: no DOM, no allocation beyond the strings it
// returns. The event codec reads stored envelopes with it (they are canonical JSON, but any
// JSON of RFC 8259 is read, and anything else refused). Like binary::Reader, a failure is
// sticky: reads after it return empty values, and ok() says whether all went well.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace keyledger::eventstore::json_reader {

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  // Objects: begin_object(), then while next_key(key) { read the value }, which also
  // consumes the closing brace. Arrays likewise with begin_array() / next_element().
  bool begin_object();
  bool next_key(std::string& key);
  bool begin_array();
  bool next_element();

  // Values. A string whose bytes are not valid UTF-8 is refused, as is an integer with a
  // fraction, an exponent or more than 64 bits.
  std::string string();
  // A string of plain printable ASCII (no escape), as a view into the input; anything else
  // fails the read (callers with a slower way for such strings use string()).
  std::string_view plain_string();
  std::uint64_t unsigned_integer();
  std::int64_t integer();
  bool boolean();
  bool null();  // true (and consumed) when the next value is null
  // Skips one value of any kind (numbers must still be 64-bit integers), returning the bytes
  // it spanned.
  std::string_view skip();

  // True once the whole input is consumed (only whitespace left).
  bool at_end();
  bool ok() const { return ok_; }
  // Why reading failed, in a few words ("a number that is not a 64-bit integer", ...).
  std::string_view why() const { return why_; }
  void fail(std::string_view why = "a value of another type than expected") {
    if (ok_) why_ = why;
    ok_ = false;
  }

 private:
  bool open(char bracket);
  bool more(char closing);
  void whitespace();
  bool consume(char c);
  bool literal(std::string_view word);
  void skip_number();
  void skip_string();

  std::string_view in_;
  std::size_t at_ = 0;
  bool ok_ = true;
  std::string_view why_;
  bool first_ = false;  // no member or element read yet in the innermost container
  int depth_ = 0;
};

}  // namespace keyledger::eventstore::json_reader
