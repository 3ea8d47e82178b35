// A Kafka replica's record cache (SPEC §10's bounded memory): one partition's records on
// local disk, read back by offset range as written, from a file no one else can find and
// that goes with the process.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <span>
#include <vector>
#include <map>
#include <string>

#include "eventstore/record_cache.hpp"
#include "support/temp_dir.hpp"

namespace es = keyledger::eventstore;

namespace {
// The records [from, to) holds, as a read hands them over.
std::map<std::uint64_t, std::string> read(const es::RecordCache& cache, std::uint64_t from, std::uint64_t to) {
  std::map<std::uint64_t, std::string> got;
  REQUIRE(cache.read(from, to, [&](std::uint64_t offset, std::string_view bytes) {
    got.emplace(offset, bytes);
    return true;
  }));
  return got;
}
}  // namespace

TEST_CASE("record cache: every offset range reads back exactly the records appended in it, byte for byte, from a file that leaves nothing in its directory") {
  keyledger::testing::TempDir dir;
  auto cache = es::RecordCache::create(dir.path());
  REQUIRE(cache);
  std::map<std::uint64_t, std::string> records;
  std::uint64_t offset = 5;
  for (int i = 0; i < 1000; ++i) {
    // Sizes from empty to past the 64 KiB a read takes at once, every byte value, and gaps
    // in the offsets (Kafka's transaction markers).
    std::string bytes(static_cast<std::size_t>(i == 500 ? 200'000 : (i * 37) % 9000), '\0');
    for (std::size_t j = 0; j < bytes.size(); ++j) bytes[j] = static_cast<char>((i + j) % 256);
    REQUIRE((*cache)->append(offset, bytes));
    records.emplace(offset, std::move(bytes));
    offset += 1 + static_cast<std::uint64_t>(i % 3 == 0);
  }
  REQUIRE(read(**cache, 0, offset) == records);
  for (std::uint64_t from : {0ull, 5ull, 6ull, 7ull, 300ull, 301ull, 700ull, 1300ull}) {
    for (std::uint64_t to : {from, from + 1, from + 2, from + 64, from + 65, from + 700, offset + 10}) {
      std::map<std::uint64_t, std::string> expected(records.lower_bound(from), records.lower_bound(to));
      INFO("[" << from << ", " << to << ")");
      REQUIRE(read(**cache, from, to) == expected);
    }
  }
  // A visitor that stops is given nothing more.
  int visited = 0;
  REQUIRE((*cache)->read(0, offset, [&](std::uint64_t, std::string_view) { return ++visited < 3; }));
  REQUIRE(visited == 3);
  REQUIRE(std::filesystem::is_empty(dir.path()));
}

TEST_CASE("record cache: records appended together (a committed transaction's, with one write) are the same file and read back the same as records appended one by one") {
  keyledger::testing::TempDir dir;
  const std::string one_by_one = dir.path() + "/single.records", together = dir.path() + "/batched.records";
  // Offsets with gaps (transaction markers), sizes from empty to a few KiB.
  std::map<std::uint64_t, std::string> expected;
  for (std::uint64_t i = 0, offset = 3; i < 700; ++i, offset += 1 + i % 2) {
    expected.emplace(offset, std::string(static_cast<std::size_t>((i * 53) % 3000), static_cast<char>('a' + i % 26)));
  }
  std::vector<es::RecordCache::Record> records;
  for (const auto& [offset, bytes] : expected) records.push_back({offset, bytes});
  {
    auto single = es::RecordCache::open(one_by_one);
    auto batched = es::RecordCache::open(together);
    REQUIRE(single);
    REQUIRE(batched);
    for (const auto& r : records) REQUIRE((*single)->append(r.offset, r.bytes));
    // Batches of 1, 2, 3, … records: index entries (one every kIndexEvery records) fall
    // inside batches and at their edges.
    std::span<const es::RecordCache::Record> rest(records);
    for (std::size_t n = 1; !rest.empty(); ++n) {
      const std::size_t take = std::min(n, rest.size());
      REQUIRE((*batched)->append(rest.first(take)));
      rest = rest.subspan(take);
    }
    REQUIRE((*batched)->append(std::span<const es::RecordCache::Record>()));  // nothing to keep: nothing written
    REQUIRE((*batched)->records() == records.size());
    REQUIRE((*batched)->last_offset() == records.back().offset);
    REQUIRE(read(**batched, 0, 10'000) == expected);
    for (std::uint64_t from : {0ull, 3ull, 4ull, 200ull, 201ull, 700ull}) {
      INFO("from " << from);
      REQUIRE(read(**batched, from, from + 130) == read(**single, from, from + 130));
    }
  }
  auto file = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  REQUIRE(file(together) == file(one_by_one));
  REQUIRE(read(**es::RecordCache::open(together), 0, 10'000) == expected);
}

TEST_CASE("record cache: a directory that cannot hold it is refused with a sentence naming it") {
  auto cache = es::RecordCache::create("/nonexistent/keyledger-cache");
  REQUIRE(!cache);
  REQUIRE(cache.error().find("/nonexistent/keyledger-cache") != std::string::npos);
}

TEST_CASE("record cache: a kept cache opened again holds what it held, and one cut short or damaged keeps its good prefix and is continued after it") {
  keyledger::testing::TempDir dir;
  const std::string path = dir.path() + "/p0.records";
  std::map<std::uint64_t, std::string> records;
  {
    auto cache = es::RecordCache::open(path);
    REQUIRE(cache);
    REQUIRE(!(*cache)->last_offset());
    for (std::uint64_t offset = 10; offset < 10 + 3 * 300; offset += 3) {
      std::string bytes(static_cast<std::size_t>(offset % 700), static_cast<char>(offset % 256));
      REQUIRE((*cache)->append(offset, bytes));
      records.emplace(offset, std::move(bytes));
    }
  }
  const auto whole = std::filesystem::file_size(path);
  {
    std::uint64_t dropped = 1;
    auto cache = es::RecordCache::open(path, &dropped);
    REQUIRE(cache);
    REQUIRE(dropped == 0);
    REQUIRE((*cache)->records() == 300);
    REQUIRE((*cache)->last_offset() == 10 + 3 * 299);
    REQUIRE(read(**cache, 0, 10'000) == records);
    REQUIRE(read(**cache, 400, 500) == std::map<std::uint64_t, std::string>(records.lower_bound(400), records.lower_bound(500)));
  }
  // A torn last frame (a crash mid-append): the frames before it stay, and appends go on
  // after them.
  std::filesystem::resize_file(path, whole - 5);
  {
    std::uint64_t dropped = 0;
    auto cache = es::RecordCache::open(path, &dropped);
    REQUIRE(cache);
    REQUIRE(dropped > 0);
    REQUIRE((*cache)->records() == 299);
    records.erase(std::prev(records.end()));
    REQUIRE(read(**cache, 0, 10'000) == records);
    REQUIRE((*cache)->append(5000, "after the cut"));
    records.emplace(5000, "after the cut");
  }
  REQUIRE(read(**es::RecordCache::open(path), 0, 10'000) == records);
  // A byte changed in the middle (or a page the disk never got): everything from that frame
  // on is cut off, since a later frame cannot be told apart from garbage that looks like one.
  {
    std::FILE* f = std::fopen(path.c_str(), "r+b");
    REQUIRE(f);
    REQUIRE(std::fseek(f, static_cast<long>(whole / 2), SEEK_SET) == 0);
    const int byte = std::fgetc(f);
    REQUIRE(std::fseek(f, static_cast<long>(whole / 2), SEEK_SET) == 0);
    std::fputc(byte ^ 0x5a, f);
    std::fclose(f);
  }
  auto cache = es::RecordCache::open(path);
  REQUIRE(cache);
  REQUIRE((*cache)->records() > 100);
  REQUIRE((*cache)->records() < 200);
  const auto kept = read(**cache, 0, 10'000);
  REQUIRE(kept == std::map<std::uint64_t, std::string>(records.begin(), records.upper_bound(*(*cache)->last_offset())));
  REQUIRE(std::filesystem::file_size(path) < whole / 2 + 1);
}

TEST_CASE("record cache: a kept cache's file that cannot be made is refused with a sentence naming it") {
  auto cache = es::RecordCache::open("/nonexistent/keyledger-cache/p0.records");
  REQUIRE(!cache);
  REQUIRE(cache.error().find("/nonexistent/keyledger-cache/p0.records") != std::string::npos);
}
