// The man pages document every option the programs show in --help (issue 13 item 4), and mount.fuse.pinfs
// accepts every `pinfs mount` flag as a mount option. When someone adds an option, these tests name the
// option, the --help it came from and the page (or helper) it is missing from.
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <sstream>

#include "../support/mount_fixture.hpp"

namespace pinfs::testing {
namespace {

const std::string kManSources = std::string(PINFS_SOURCE_DIR) + "/docs/man";
const std::string kManBuilt = std::string(PINFS_BINARY_DIR) + "/docs/man";

std::string help_of(const std::vector<std::string>& command) {
  auto r = run_process(command, hermetic_env());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

// Options as --help lists them: the flags that start an indented line ("  -f,--foreground  …",
// "  --listen HOST:PORT  …", "  -h, --help  …"); options only mentioned in prose are not counted.
std::vector<std::string> options_in_help(const std::string& help) {
  static const std::regex line_start(R"(^\s+(--?[A-Za-z0-9][^\s,]*(?:,\s*--?[^\s,]+)*))");
  static const std::regex flag(R"(--?[A-Za-z0-9][A-Za-z0-9-]*)");
  std::vector<std::string> out;
  std::istringstream lines(help);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (!std::regex_search(line, m, line_start)) continue;
    const std::string flags = m[1].str();
    for (auto it = std::sregex_iterator(flags.begin(), flags.end(), flag); it != std::sregex_iterator(); ++it)
      out.push_back(it->str());
  }
  return out;
}

// The parser above, checked on help text of both styles (CLI11's and the emulator's own).
TEST(ManPages, HelpParserFindsEveryStyleOfOptionLine) {
  const auto found = options_in_help(
      "Usage: x [OPTIONS]\n  -h,--help   Print\n  --cid-version INT:{0,1}=1  v\n  -o TEXT ...  fuse\n"
      "  --threads UINT:UINT in [1 - 256]\n                    Max --not-this\n  -h, --help  show\n"
      "  --listen HOST:PORT  address; see --not-this-either\nPINFS_JWT --nor-this\n");
  EXPECT_EQ(found, (std::vector<std::string>{"-h", "--help", "--cid-version", "-o", "--threads", "-h",
                                             "--help", "--listen"}));
}

// `pinfs --help`'s subcommands, first name of each ("unmount, umount" -> unmount).
std::vector<std::string> subcommands(const std::string& help) {
  std::vector<std::string> out;
  std::istringstream lines(help);
  bool in_section = false;
  static const std::regex entry(R"(^\s+([a-z][a-z0-9-]*))");
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("Subcommands:", 0) == 0) {
      in_section = true;
      continue;
    }
    std::smatch m;
    if (in_section && std::regex_search(line, m, entry)) out.push_back(m[1].str());
  }
  return out;
}

// The text of a page from the line starting with `heading` to the next heading of the same or a higher
// level; empty if there is no such heading.
std::string section(const std::string& page, const std::string& heading) {
  const std::size_t level = heading.find_first_not_of('#');
  std::istringstream lines(page);
  std::string out;
  bool inside = false;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(heading, 0) == 0) {
      inside = true;
      continue;
    }
    if (inside && line.rfind("#", 0) == 0 && line.find_first_not_of('#') <= level) break;
    if (inside) out += line + "\n";
  }
  return out;
}

// man's output for a pipe still has overstrikes (X\bX for bold, _\bX for underline).
std::string plain(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\b') {
      if (!out.empty()) out.pop_back();
      continue;
    }
    out += c;
  }
  return out;
}

// scdoc writes a documented option in bold at the start of its definition: *--cache-dir* or *-o*.
bool documents(const std::string& text, const std::string& option) {
  return text.find("*" + option + "*") != std::string::npos;
}

TEST(ManPages, EveryPinfsOptionIsInPinfs1UnderItsCommand) {
  const std::string page = slurp(kManSources + "/pinfs.1.scd");
  ASSERT_FALSE(page.empty()) << kManSources << "/pinfs.1.scd is missing";
  const std::string top_help = help_of({pinfs_binary(), "--help"});
  const std::string global = section(page, "# GLOBAL OPTIONS");
  ASSERT_FALSE(global.empty()) << "pinfs(1) has no GLOBAL OPTIONS section";
  for (const auto& option : options_in_help(top_help))
    EXPECT_TRUE(documents(global, option))
        << "pinfs(1) (docs/man/pinfs.1.scd) does not document " << option
        << ", shown by `pinfs --help`: add *" << option << "* under # GLOBAL OPTIONS";

  const auto commands = subcommands(top_help);
  ASSERT_GE(commands.size(), 4u) << "no subcommands found in:\n" << top_help;
  for (const auto& command : commands) {
    const std::string text = section(page, "## pinfs " + command);
    EXPECT_FALSE(text.empty()) << "pinfs(1) (docs/man/pinfs.1.scd) has no `## pinfs " << command
                               << "` section for the subcommand shown by `pinfs --help`";
    const auto options = options_in_help(help_of({pinfs_binary(), command, "--help"}));
    EXPECT_GE(options.size(), 3u) << "too few options parsed from `pinfs " << command << " --help`";
    for (const auto& option : options) {
      // -h/--help is documented once, under GLOBAL OPTIONS, as taken by every command.
      if ((option == "-h" || option == "--help") && documents(global, option)) continue;
      EXPECT_TRUE(documents(text, option))
          << "pinfs(1) (docs/man/pinfs.1.scd) does not document " << option << ", shown by `pinfs " << command
          << " --help`: add *" << option << "* under `## pinfs " << command << "`";
    }
  }
}

TEST(ManPages, EveryEmulatorOptionIsInPinfsEmulator1) {
  const std::string page = slurp(kManSources + "/pinfs-emulator.1.scd");
  ASSERT_FALSE(page.empty());
  const std::string options_text = section(page, "# OPTIONS");
  const auto options =
      options_in_help(help_of({std::string(PINFS_BINARY_DIR) + "/pinfs-emulator", "--help"}));
  ASSERT_GE(options.size(), 6u) << "too few options parsed from `pinfs-emulator --help`";
  for (const auto& option : options)
    EXPECT_TRUE(documents(options_text, option))
        << "pinfs-emulator(1) (docs/man/pinfs-emulator.1.scd) does not document " << option
        << ", shown by `pinfs-emulator --help`: add *" << option << "* under # OPTIONS";
}

// Each `pinfs mount` flag has a mount option: fstab can say everything the command line can. The helper
// runs with PINFS pointing at a script that prints its arguments, so nothing is mounted.
TEST(ManPages, EveryMountFlagIsAMountHelperOptionInMountFusePinfs8) {
  const std::string page = slurp(kManSources + "/mount.fuse.pinfs.8.scd");
  ASSERT_FALSE(page.empty());
  const std::string options_text = section(page, "# OPTIONS");
  const std::string root = make_temp_dir("pinfs-helper-");
  const std::string echo = root + "/pinfs";
  {
    std::ofstream out(echo);
    out << "#!/bin/sh\nprintf '%s\\n' \"$@\"\n";
  }
  ::chmod(echo.c_str(), 0755);
  const std::string helper = std::string(PINFS_SOURCE_DIR) + "/packaging/mount.fuse.pinfs";
  // Not mount options: the profile is fstab's first field, the helper must return once mounted (mount(8)
  // waits for it), -o is what every unknown option becomes, --help is for people.
  const std::set<std::string> not_options = {"--profile", "--foreground", "-f", "-o", "-h", "--help"};
  const auto help = help_of({pinfs_binary(), "mount", "--help"});
  static const std::regex takes_value(R"(^\s+(?:-[A-Za-z],)?(--[a-z0-9-]+) [A-Z])");
  std::set<std::string> with_value;
  {
    std::istringstream lines(help);
    for (std::string line; std::getline(lines, line);) {
      std::smatch m;
      if (std::regex_search(line, m, takes_value)) with_value.insert(m[1].str());
    }
  }
  for (const auto& flag : options_in_help(help)) {
    if (not_options.contains(flag) || flag.rfind("--", 0) != 0) continue;
    std::string key = flag.substr(2);
    for (auto& c : key)
      if (c == '-') c = '_';
    const bool valued = with_value.contains(flag);
    const std::string option = valued ? key + "=7" : key;
    auto r = run_process({"/bin/sh", helper, "none", root + "/mnt", "-o", option},
                         hermetic_env({"PINFS=" + echo}));
    EXPECT_EQ(r.exit_code, 0) << "mount.fuse.pinfs refuses -o " << option << " (from `pinfs mount " << flag
                              << "`): " << r.err;
    const std::string expected = valued ? "\n" + flag + "\n7\n" : "\n" + flag + "\n";
    EXPECT_NE(("\n" + r.out).find(expected), std::string::npos)
        << "packaging/mount.fuse.pinfs does not turn -o " << option << " into `pinfs mount " << flag
        << "` (it passed: " << r.out << "); add " << key << " to its case list";
    EXPECT_TRUE(documents(options_text, key))
        << "mount.fuse.pinfs(8) (docs/man/mount.fuse.pinfs.8.scd) does not document the mount option " << key
        << " (`pinfs mount " << flag << "`): add *" << key << "* under # OPTIONS";
  }
  std::error_code ec;
  std::filesystem::remove_all(root, ec);
}

// The pages the build made (scdoc, gzip -9n) render without a groff warning, as lintian checks.
TEST(ManPages, BuiltPagesRenderWithoutWarnings) {
  for (const char* page : {"man1/pinfs.1.gz", "man1/pinfs-emulator.1.gz", "man8/mount.fuse.pinfs.8.gz"}) {
    const std::string path = kManBuilt + "/" + page;
    ASSERT_TRUE(std::filesystem::exists(path)) << path << " was not built (is scdoc installed?)";
    auto r = run_process({"man", "--warnings", "-E", "UTF-8", "-l", path}, hermetic_env({"MANWIDTH=80"}));
    EXPECT_EQ(r.exit_code, 0) << page << ": " << r.err;
    EXPECT_EQ(r.err, "") << page << " renders with warnings";
    EXPECT_NE(plain(r.out).find("\nNAME\n"), std::string::npos) << r.out;
  }
}

}  // namespace
}  // namespace pinfs::testing
