// The embedded log's recovery reader (eventstore/file_log.hpp) on arbitrary bytes as the
// only segment. The first input byte picks how the rest becomes the segment: even, the bytes
// as they are; odd, split into batch bodies (a 16-bit little-endian length before each) that get correct
// frames and CRC32C, so the fuzzer reaches the checks behind the checksum (positions, record
// counts and lengths).
//
// Properties: opening never crashes; a read-only open reads a prefix of batches and reports
// damage only after it; a writable open keeps exactly that prefix (cutting the rest),
// appends after it, and leaves a log that reopens whole.
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "eventstore/file_log.hpp"
#include "eventstore/segment_format.hpp"
#include "fuzz_support.hpp"

namespace es = keyledger::eventstore;
using keyledger::fuzz::fail;

namespace {

std::string directory;

std::string framed(std::string_view input) {
  std::string segment;
  while (!input.empty()) {
    std::size_t length = static_cast<unsigned char>(input[0]);
    if (input.size() > 1) length |= static_cast<std::size_t>(static_cast<unsigned char>(input[1])) << 8;
    input.remove_prefix(std::min<std::size_t>(2, input.size()));
    length = std::min(length, input.size());
    segment += es::segment_format::frame(input.substr(0, length));
    input.remove_prefix(length);
  }
  return segment;
}

struct Record {
  std::uint64_t offset;
  std::string bytes;
};

std::vector<Record> read_all(es::FileLog& log) {
  std::vector<Record> records;
  auto error = log.read(0, 0, log.end(0), [&](const es::StoredRecord& r) {
    records.push_back(Record{r.position.offset, std::string(r.bytes)});
    return true;
  });
  if (error) fail("reading an opened log failed: " + error.message());
  return records;
}

std::unique_ptr<es::FileLog> open(bool read_only) {
  auto log = es::FileLog::open({.directory = directory, .read_only = read_only});
  if (!log) fail(std::string("opening failed: ") + log.error());
  return std::move(*log);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  directory = keyledger::fuzz::scratch_directory("log-recovery");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view input = keyledger::fuzz::as_text(data + 1, size - 1);
  std::string segment = data[0] % 2 ? framed(input) : std::string(input);

  std::filesystem::remove_all(directory + "/log");
  std::filesystem::create_directory(directory + "/log");
  std::string path = directory + "/log/00000000000000000000.seg";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || ::write(fd, segment.data(), segment.size()) != static_cast<ssize_t>(segment.size())) {
    fail("cannot write the segment");
  }
  ::close(fd);

  std::vector<Record> kept;
  {
    auto reader = open(true);
    kept = read_all(*reader);
    // The format's pure recovery and the log agree on what a segment holds.
    if (es::segment_format::recover(segment, 0).next_base != kept.size()) {
      fail("the pure recovery and a read-only open disagree on the records kept");
    }
    if (kept.size() != reader->end(0)) fail("a read-only log read a different number of records than it ends at");
    for (std::size_t i = 0; i < kept.size(); ++i) {
      if (kept[i].offset != i) fail("records out of position");
    }
  }
  {
    auto writer = open(false);
    if (writer->end(0) != kept.size()) fail("recovery kept a different prefix than a read-only open reads");
    auto records = read_all(*writer);
    for (std::size_t i = 0; i < kept.size(); ++i) {
      if (records[i].bytes != kept[i].bytes) fail("recovery changed a kept record");
    }
    es::AppendRecord record{.dashboard_id = "d", .event_id = "e", .event_type = "t", .occurred_at = "", .bytes = "after"};
    auto appended = writer->append(std::span(&record, 1));
    if (!appended) fail("cannot append after recovery: " + appended.error().message());
    if (appended->offset != kept.size()) fail("the append did not land where the recovered log ended");
  }
  auto reopened = open(true);
  if (!reopened->damage().empty()) fail("a recovered log reopens damaged: " + reopened->damage());
  auto all = read_all(*reopened);
  if (all.size() != kept.size() + 1 || all.back().bytes != "after") fail("the append is not read back after the kept prefix");
  return 0;
}
