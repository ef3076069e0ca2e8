#include "pinfs/vfs/names.hpp"

#include <gtest/gtest.h>

namespace pinfs::vfs {
namespace {

service::Pin pin(std::string name, std::string cid, std::string id = "") {
  service::Pin p;
  p.name = std::move(name);
  p.cid = std::move(cid);
  p.id = id.empty() ? "id-" + p.cid : std::move(id);
  return p;
}

TEST(NamesRules, names_escape_slash_nul_percent_and_dots) {
  EXPECT_EQ(escape_name("a/b"), "a%2Fb");
  EXPECT_EQ(escape_name(std::string("a\0b", 3)), "a%00b");
  EXPECT_EQ(escape_name("."), "%2E");
  EXPECT_EQ(escape_name(".."), "%2E%2E");
  EXPECT_EQ(escape_name("50%2F"), "50%252F");  // a literal escape sequence is itself escaped
  EXPECT_EQ(escape_name("100%"), "100%");      // a '%' that reads as no escape stays
  EXPECT_EQ(escape_name("plain.txt"), "plain.txt");
}

TEST(NamesRules, names_escape_round_trips) {
  for (std::string name : std::vector<std::string>{"a/b", std::string("x\0y", 3), ".", "..", "%", "%25",
                                                   "%2f/%00", "100% done", "a%%2Fb", "...", "%2E"}) {
    auto shown = escape_name(name);
    EXPECT_EQ(shown.find('/'), std::string::npos) << name;
    EXPECT_EQ(shown.find('\0'), std::string::npos) << name;
    EXPECT_EQ(unescape_name(shown), name) << shown;
  }
}

TEST(NamesRules, names_unnamed_shows_cid) {
  auto names = shown_names({pin("", "bafyone")});
  EXPECT_EQ(names[0], "bafyone");
}

TEST(NamesRules, names_collision_suffix_before_extension) {
  auto names =
      shown_names({pin("report.pdf", "bafkreiaaaaaaaa11111111"), pin("report.pdf", "bafkreibbbbbbbb22222222"),
                   pin("notes", "bafkreicccccccc33333333"), pin("notes", "bafkreidddddddd44444444"),
                   pin("unique.txt", "bafkreieeeeeeee")});
  EXPECT_EQ(names[0], "report~11111111.pdf");
  EXPECT_EQ(names[1], "report~22222222.pdf");
  EXPECT_EQ(names[2], "notes~33333333");
  EXPECT_EQ(names[3], "notes~44444444");
  EXPECT_EQ(names[4], "unique.txt");
}

TEST(NamesRules, names_collision_stable_whatever_the_order) {
  std::vector<service::Pin> pins = {pin("a.txt", "bafk1aaaaaaaa"), pin("a.txt", "bafk2bbbbbbbb"),
                                    pin("b", "bafk3")};
  auto first = shown_names(pins);
  std::vector<service::Pin> reversed(pins.rbegin(), pins.rend());
  auto second = shown_names(reversed);
  for (std::size_t i = 0; i < pins.size(); ++i) EXPECT_EQ(first[i], second[pins.size() - 1 - i]);
}

TEST(NamesRules, names_collision_same_cid_twice_gets_pin_id) {
  auto names =
      shown_names({pin("x.bin", "bafksamecid12345678", "p1"), pin("x.bin", "bafksamecid12345678", "p2")});
  EXPECT_NE(names[0], names[1]);
  EXPECT_EQ(names[0], "x~12345678.bin~p1");
  EXPECT_EQ(names[1], "x~12345678.bin~p2");
}

TEST(NamesRules, names_dotfile_has_no_extension) {
  EXPECT_EQ(insert_suffix(".bashrc", "abc"), ".bashrc~abc");
}

}  // namespace
}  // namespace pinfs::vfs
