// RulesReloader on a rules path that is a symlink repointed to another
// release (`current -> release-2`, as `ln -sfn` does): the watcher follows it
// and the new pack is loaded; a broken release is reported and not loaded;
// files coming and going beside the pack directory are not its changes.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "engine/cli/rules_reloader.h"
#include "engine/pack_loader.h"

namespace fs = std::filesystem;
using namespace fraud;

namespace {

bool wait_for(const std::function<bool()>& cond) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

fs::path release(const fs::path& root, const std::string& name, const std::string& score) {
  fs::path d = root / name;
  fs::create_directories(d);
  std::ofstream(d / "rules.yaml") << "rules:\n  - name: r\n    when: amount > 1\n    score: " << score
                                  << "\n    reason: big\n";
  return d;
}

// Replaces the symlink `link` atomically, as `ln -sfn target link` does.
void repoint(const fs::path& link, const fs::path& target) {
  fs::path tmp = link.string() + ".tmp";
  fs::remove(tmp);
  fs::create_directory_symlink(target, tmp);
  fs::rename(tmp, link);
}

}  // namespace

TEST(RulesReloader, FollowsARepointedReleaseSymlink) {
  fs::path root = fs::path(::testing::TempDir()) / "releases";
  fs::remove_all(root);
  fs::create_directories(root);
  fs::path r1 = release(root, "release-1", "10");
  fs::path current = root / "current";
  fs::create_directory_symlink(r1, current);
  PackLoadResult first = load_pack_directory(current);
  ASSERT_TRUE(first.ok());

  std::mutex mu;
  std::vector<std::string> loaded;
  std::atomic<int> failed{0};
  RulesReloader reloader(
      current.string() + "/", first.rules->version,  // a trailing slash still names `current`
      [&](std::shared_ptr<const RuleSet> rs) {
        std::lock_guard lock(mu);
        loaded.push_back(rs->version);
      },
      [&](const Diagnostics&) { failed.fetch_add(1); }, 50);

  fs::path r2 = release(root, "release-2", "20");
  repoint(current, r2);
  ASSERT_TRUE(wait_for([&] {
    std::lock_guard lock(mu);
    return !loaded.empty();
  })) << "the repointed symlink was not noticed";
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(loaded.back(), load_pack_directory(r2).rules->version);
  }
  // Edits inside the new target are watched too.
  std::ofstream(r2 / "rules.yaml") << "rules:\n  - name: r\n    when: amount >\n";
  EXPECT_TRUE(wait_for([&] { return failed.load() >= 1; })) << "an edit in the new release was not seen";
  std::lock_guard lock(mu);
  EXPECT_EQ(loaded.size(), 1u) << "a broken release is never loaded";
}

TEST(RulesReloader, SiblingsOfThePackDirectoryAreNotItsChanges) {
  fs::path root = fs::path(::testing::TempDir()) / "siblings";
  fs::remove_all(root);
  fs::create_directories(root);
  fs::path pack = release(root, "pack", "10");
  // A second name for the pack's file, outside the pack directory: writes
  // through it raise no event on the pack directory.
  fs::create_hard_link(pack / "rules.yaml", root / "alias.yaml");
  PackLoadResult first = load_pack_directory(pack);
  ASSERT_TRUE(first.ok());
  std::atomic<int> loaded{0}, failed{0};
  RulesReloader reloader(
      pack.string(), first.rules->version, [&](std::shared_ptr<const RuleSet>) { loaded.fetch_add(1); },
      [&](const Diagnostics&) { failed.fetch_add(1); }, 50);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  { std::ofstream(root / "alias.yaml") << "rules:\n  - name: r\n    when: amount >\n"; }
  // Unrelated files come and go beside the pack (as in /tmp or /etc).
  for (int i = 0; i < 10; ++i) {
    fs::path noise = root / ("noise-" + std::to_string(i));
    std::ofstream(noise) << "x";
    fs::remove(noise);
    std::this_thread::sleep_for(std::chrono::milliseconds(40));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(failed.load(), 0) << "a sibling's event reloaded the pack";
  reloader.request_reload();
  EXPECT_TRUE(wait_for([&] { return failed.load() == 1; })) << "request_reload() did not reload";
  EXPECT_EQ(loaded.load(), 0);
}

TEST(RulesReloader, ABrokenModelFileNeverReplacesTheRunningPack) {
  fs::path pack = fs::path(::testing::TempDir()) / "model-pack";
  fs::remove_all(pack);
  fs::create_directories(pack);
  fs::copy_file(std::string(FRAUD_SOURCE_DIR) + "/tests/data/models/logistic.json", pack / "m.json");
  std::ofstream(pack / "rules.yaml") << "models:\n  - name: m\n    file: m.json\n    inputs: [a, b, c, d]\n"
                                        "rules:\n  - name: r\n    when: m > 0.5\n    reason: risky\n";
  PackLoadResult first = load_pack_directory(pack);
  ASSERT_TRUE(first.ok()) << first.diagnostics.to_text();
  std::atomic<int> loaded{0};
  std::mutex mu;
  std::vector<std::string> errors;
  RulesReloader reloader(
      pack.string(), first.rules->version, [&](std::shared_ptr<const RuleSet>) { loaded.fetch_add(1); },
      [&](const Diagnostics& d) {
        std::lock_guard lock(mu);
        for (const auto& item : d.items()) errors.push_back(item.code);
      },
      50);
  // A deploy that truncated the model file.
  { std::ofstream(pack / "m.json") << "{\"learner\": {\"gradient_booster\""; }
  ASSERT_TRUE(wait_for([&] {
    std::lock_guard lock(mu);
    return !errors.empty();
  })) << "the broken model was not reported";
  EXPECT_EQ(loaded.load(), 0) << "a pack with a broken model was loaded";
  std::lock_guard lock(mu);
  EXPECT_EQ(errors[0], "E602");
}
