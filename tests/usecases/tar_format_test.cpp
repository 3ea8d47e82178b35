// The backup archive's byte format: what the writer makes, the system's own tar reads, and
// the reader refuses every kind of damage, naming the archive offset.
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <variant>

#include "support/temp_dir.hpp"
#include "usecases/tar_format.hpp"

namespace tar = keyledger::usecases::tar;

namespace {

std::string archive_of(const std::vector<std::pair<std::string, std::string>>& files) {
  std::string out;
  for (const auto& [name, data] : files) {
    out += tar::file_header(name, data.size(), 1'700'000'000);
    out += data;
    out += tar::padding(data.size());
  }
  out += tar::end_of_archive();
  return out;
}

// Every member, or the reader's first complaint.
std::variant<std::vector<std::pair<std::string, std::string>>, std::string> read_all(const std::string& bytes) {
  std::istringstream in(bytes);
  tar::Reader reader(in);
  std::vector<std::pair<std::string, std::string>> files;
  while (true) {
    auto member = reader.next();
    if (!member) return member.error();
    if (!*member) return files;
    std::string data;
    if (auto r = reader.read_data([&](std::string_view d) { data.append(d); }); !r) return r.error();
    files.emplace_back((*member)->name, data);
  }
}

std::string complaint(const std::string& bytes) {
  auto result = read_all(bytes);
  REQUIRE(std::holds_alternative<std::string>(result));
  return std::get<std::string>(result);
}

}  // namespace

const std::vector<std::pair<std::string, std::string>> kFiles{
    {"keyring.json", "{\"version\":2}"},
    {"log/00000000000000000000.seg", std::string(3000, 'x') + "end"},
    {"empty", ""},
    {"snapshots/00000000000000000007.snap", std::string(512, 's')},
};

TEST_CASE("tar: an archive the writer made reads back member by member, and the system's tar lists and extracts it") {
  const std::string bytes = archive_of(kFiles);
  REQUIRE(bytes.size() % 512 == 0);
  auto result = read_all(bytes);
  REQUIRE(std::holds_alternative<std::vector<std::pair<std::string, std::string>>>(result));
  REQUIRE(std::get<0>(result) == kFiles);

  keyledger::testing::TempDir dir;
  std::ofstream(dir / "a.tar", std::ios::binary) << bytes;
  const std::string command = "tar -xf '" + (dir / "a.tar") + "' -C '" + dir.path() + "' 2>&1";
  REQUIRE(std::system(command.c_str()) == 0);
  for (const auto& [name, data] : kFiles) {
    std::ifstream in(dir / name, std::ios::binary);
    REQUIRE(std::string(std::istreambuf_iterator<char>(in), {}) == data);
  }
}

TEST_CASE("tar: damage is refused with the archive offset where it is") {
  const std::string good = archive_of(kFiles);
  SECTION("a flipped byte in a header fails its checksum") {
    std::string bad = good;
    bad[5] ^= 1;
    REQUIRE(complaint(bad) == "the member header at archive offset 0 fails its checksum");
  }
  SECTION("a non-zero byte in padding") {
    std::string bad = good;
    bad[512 + 20] = 'p';  // keyring.json's 13 bytes, then zeros
    REQUIRE(complaint(bad) == "a non-zero byte at archive offset 532, in the padding after keyring.json");
  }
  SECTION("cut short inside data, and without its end blocks") {
    REQUIRE(complaint(good.substr(0, 1024 + 700)).find("cut short") != std::string::npos);
    REQUIRE(complaint(good.substr(0, good.size() - 1024)).find("cut short") != std::string::npos);
    REQUIRE(complaint(good.substr(0, good.size() - 100)).find("cut short") != std::string::npos);
  }
  SECTION("bytes after the end") {
    REQUIRE(complaint(good + std::string(512, '\0') + "x") ==
            "a non-zero byte at archive offset " + std::to_string(good.size() + 512) + ", after the archive's end");
  }
  SECTION("names that leave the archive, and what is not a regular file") {
    REQUIRE(complaint(archive_of({{"../escape", "x"}})).find("a name outside the archive") != std::string::npos);
    REQUIRE(complaint(archive_of({{"/etc/passwd", "x"}})).find("a name outside the archive") != std::string::npos);
    REQUIRE(complaint(archive_of({{"log//x", "x"}})).find("a name outside the archive") != std::string::npos);
    std::string link = tar::file_header("link", 0, 0);
    link[156] = '2';  // a symbolic link; the checksum made right again
    unsigned sum = 0;
    for (int i = 0; i < 512; ++i) sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(link[static_cast<std::size_t>(i)]);
    std::snprintf(link.data() + 148, 8, "%06o", sum);
    REQUIRE(complaint(link + std::string(tar::end_of_archive())).find("not a regular file") != std::string::npos);
  }
}
