// `check` on a corpus of broken packs (tests/packs/broken/<case>/), one
// mistake each: the loader must report that mistake's code at the right
// file:line:col (expect.txt), and must not compile the pack.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "engine/pack_loader.h"

namespace fs = std::filesystem;
using namespace fraud;

TEST(BrokenPacks, EachMistakeIsNamedAtItsPosition) {
  fs::path root = fs::path(FRAUD_SOURCE_DIR) / "tests/packs/broken";
  int cases = 0;
  for (const auto& dir : fs::directory_iterator(root)) {
    std::ifstream in(dir.path() / "expect.txt");
    std::string want;
    std::getline(in, want);
    PackLoadResult r = load_pack_directory(dir.path());
    EXPECT_FALSE(r.ok()) << dir.path();
    std::string got_all;
    bool found = false;
    for (const auto& d : r.diagnostics.items()) {
      if (d.severity != Severity::kError) continue;
      std::string got = fs::path(d.pos.file).filename().string() + ":" + std::to_string(d.pos.line) + ":" +
                        std::to_string(d.pos.col) + " " + d.code;
      got_all += "  " + got + " " + d.message + "\n";
      found |= got == want;
    }
    EXPECT_TRUE(found) << dir.path().filename() << ": want " << want << ", got\n" << got_all;
    ++cases;
  }
  EXPECT_GE(cases, 20);
}

TEST(BrokenPacks, TheUnbrokenBaseCompiles) {
  PackLoadResult r = load_pack_directory(fs::path(FRAUD_SOURCE_DIR) / "tests/packs/good/minimal");
  EXPECT_TRUE(r.ok()) << r.diagnostics.to_text();
}

TEST(CheckCommand, JsonAndExitStatus) {
  std::string bin = FRAUD_BINARY;
  std::string broken = std::string(FRAUD_SOURCE_DIR) + "/tests/packs/broken/unknown_list";
  std::string out_file = ::testing::TempDir() + "/check.json";
  int rc = std::system((bin + " check " + broken + " --format json > " + out_file).c_str());
  EXPECT_EQ(WEXITSTATUS(rc), 1);
  std::ifstream in(out_file);
  std::string json((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(json.find(R"("code":"E308")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("line":7,"col":21)"), std::string::npos) << json;
  rc = std::system((bin + " check " + FRAUD_SOURCE_DIR + "/rules > /dev/null").c_str());
  EXPECT_EQ(WEXITSTATUS(rc), 0);
}
