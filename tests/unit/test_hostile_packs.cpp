// Packs, list files and test files written to hurt: deep nesting, long
// chains, macros of macros, YAML alias bombs, devices and FIFOs where files
// should be. Each must be a load error with file:line:col, in bounded time
// and memory, never a crash or a hang.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "engine/cli/rule_tests.h"
#include "engine/pack_loader.h"
#include "pack_fixture.h"

namespace fs = std::filesystem;
using namespace fraud;
using fraud::testing::compile_errors;
using fraud::testing::compile_ok;

namespace {

// The first error's "line:col code message".
std::string first_error(const Diagnostics& d) {
  for (const auto& x : d.items()) {
    if (x.severity == Severity::kError) {
      return std::to_string(x.pos.line) + ":" + std::to_string(x.pos.col) + " " + x.code + " " + x.message;
    }
  }
  return "(no error)";
}

std::string rule_with(const std::string& when, const std::string& reason = "r") {
  return "rules:\n  - name: r\n    when: '" + when + "'\n    score: 1\n    reason: '" + reason + "'\n";
}

fs::path fresh_dir(const std::string& name) {
  fs::path d = fs::path(::testing::TempDir()) / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

}  // namespace

TEST(HostilePacks, DeeplyNestedParenthesesAreAnErrorNotACrash) {
  std::string when = std::string(6000, '(') + "amount > 1" + std::string(6000, ')');
  std::string e = first_error(compile_errors(rule_with(when)));
  EXPECT_NE(e.find("E301"), std::string::npos) << e;
  EXPECT_NE(e.find("nests deeper than 100"), std::string::npos) << e;
  EXPECT_EQ(e.rfind("3:", 0), 0u) << "line of the `when`: " << e;
}

TEST(HostilePacks, LongChainsOfTermsAreAnErrorNotACrash) {
  std::string when = "amount > 1";
  for (int i = 0; i < 15800; ++i) when += " and a";  // ~95 KB: over the size limit
  EXPECT_NE(first_error(compile_errors(rule_with(when))).find("the limit is 65536"), std::string::npos);
  when = "a";
  for (int i = 0; i < 10000; ++i) when += " or a";  // 50 KB, 10,000 deep
  std::string e = first_error(compile_errors(rule_with(when)));
  EXPECT_NE(e.find("more than 500 operations deep"), std::string::npos) << e.substr(0, 200);
  std::string nots;
  for (int i = 0; i < 5000; ++i) nots += "not ";
  EXPECT_NE(first_error(compile_errors(rule_with(nots + "true"))).find("nests deeper"), std::string::npos);
  std::string negs(5000, '-');
  EXPECT_NE(first_error(compile_errors(rule_with("amount > " + negs + "1"))).find("nests deeper"), std::string::npos);
}

TEST(HostilePacks, AHugeExpressionIsAnError) {
  std::string when = "amount > 1 or device_id == \"" + std::string(100000, 'x') + "\"";
  EXPECT_NE(first_error(compile_errors(rule_with(when))).find("the limit is 65536"), std::string::npos);
}

TEST(HostilePacks, DeepPlaceholdersInAReasonAreAnError) {
  std::string reason = "{" + std::string(6000, '(') + "amount" + std::string(6000, ')') + "}";
  std::string e = first_error(compile_errors(rule_with("amount > 1", reason)));
  EXPECT_NE(e.find("nests deeper"), std::string::npos) << e.substr(0, 200);
}

TEST(HostilePacks, MacrosNestAtMost64Deep) {
  std::string yaml = "macros:\n  - name: m0\n    condition: amount > 1\n";
  for (int i = 1; i <= 100; ++i) {
    yaml += "  - name: m" + std::to_string(i) + "\n    condition: m" + std::to_string(i - 1) + " and amount > 0\n";
  }
  yaml += rule_with("m100");
  std::string e = first_error(compile_errors(yaml));
  EXPECT_NE(e.find("E311"), std::string::npos) << e.substr(0, 300);
  EXPECT_NE(e.find("more than 64 levels"), std::string::npos) << e.substr(0, 300);
}

TEST(HostilePacks, MacrosThatDoubleAtEachLevelAreAnError) {
  // m40 would visit 2^40 operations per event if evaluated.
  std::string yaml = "macros:\n  - name: m0\n    condition: amount > 1\n";
  for (int i = 1; i <= 40; ++i) {
    std::string p = "m" + std::to_string(i - 1);
    yaml += "  - name: m" + std::to_string(i) + "\n    condition: " + p + " and " + p + "\n";
  }
  yaml += rule_with("m40");
  std::string e = first_error(compile_errors(yaml));
  EXPECT_NE(e.find("expands to"), std::string::npos) << e;
  EXPECT_NE(e.find("the limit is 100000"), std::string::npos) << e;
}

TEST(HostilePacks, AYamlAliasBombIsAnError) {
  std::string yaml = "x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (int i = 1; i <= 9; ++i) {
    std::string p = "*a" + std::to_string(i - 1);
    yaml += "x" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + p;
    for (int j = 0; j < 9; ++j) yaml += ", " + p;
    yaml += "]\n";
  }
  std::string e = first_error(compile_errors(yaml + "lists:\n  - name: l\n    items: *a9\n"));
  EXPECT_NE(e.find("E001"), std::string::npos) << e;
  EXPECT_NE(e.find("expands to more than"), std::string::npos) << e;
}

TEST(HostilePacks, ListFilesMustBeRegularFilesOfBoundedSize) {
  fs::path dir = fresh_dir("hostile-lists");
  std::ofstream(dir / "pack.yaml")
      << "lists:\n  - name: zeros\n    file: zeros.txt\n  - name: pipe\n    file: pipe.txt\n"
      << rule_with("device_id in zeros or device_id in pipe");
  fs::create_symlink("/dev/zero", dir / "zeros.txt");
  ASSERT_EQ(::mkfifo((dir / "pipe.txt").c_str(), 0644), 0);
  PackLoadResult r = load_pack_directory(dir);  // must return: no read of /dev/zero, no wait on the FIFO
  ASSERT_FALSE(r.ok());
  std::string all = r.diagnostics.to_text();
  EXPECT_NE(all.find("cannot read list file 'zeros.txt': not a regular file"), std::string::npos) << all;
  EXPECT_NE(all.find("cannot read list file 'pipe.txt': not a regular file"), std::string::npos) << all;
  EXPECT_NE(all.find("pack.yaml:3:11"), std::string::npos) << "file:line:col of the `file:` key\n" << all;
}

TEST(HostilePacks, RuleFilesThatAreNotRegularFilesAreErrors) {
  fs::path dir = fresh_dir("hostile-rule-files");
  std::ofstream(dir / "a.yaml") << rule_with("amount > 1");
  ASSERT_EQ(::mkfifo((dir / "b.yaml").c_str(), 0644), 0);
  PackLoadResult r = load_pack_directory(dir);  // a FIFO named *.yaml: skipped or an error, never a hang
  EXPECT_TRUE(r.ok()) << r.diagnostics.to_text();
}

TEST(HostilePacks, ATestFileAliasBombFailsFast) {
  fs::path dir = fresh_dir("hostile-tests");
  std::ofstream(dir / "pack.yaml") << rule_with("amount > 1");
  fs::create_directories(dir / "tests");
  std::string yaml = "x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (int i = 1; i <= 9; ++i) {
    std::string p = "*a" + std::to_string(i - 1);
    yaml += "x" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + p;
    for (int j = 0; j < 9; ++j) yaml += ", " + p;
    yaml += "]\n";
  }
  std::ofstream(dir / "tests" / "bomb.yaml") << yaml << "cases: *a9\n";
  PackLoadResult pack = load_pack_directory(dir);
  ASSERT_TRUE(pack.ok()) << pack.diagnostics.to_text();
  RuleTestReport report = run_rule_tests(*pack.rules, dir / "tests");
  EXPECT_GE(report.errors, 1) << report.output;
  EXPECT_NE(report.output.find("expands to more than"), std::string::npos) << report.output;
}

TEST(HostilePacks, AWindowOfTooManyBucketsIsAnError) {
  std::string e = first_error(compile_errors(
      "features:\n  - name: f\n    agg: count\n    by: device_id\n    window: 10000d\n    resolution: 1s\n"));
  EXPECT_NE(e.find("E407"), std::string::npos) << e;
  EXPECT_EQ(e.rfind("5:13", 0), 0u) << e;
  compile_ok("features:\n  - name: f\n    agg: count\n    by: device_id\n    window: 7d\n    resolution: 1m\n");
}
