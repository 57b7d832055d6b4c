// RulesReloader: hot reload of the rule pack under a running engine.
//
// Watches the pack directory with inotify (file writes, creates, deletes,
// renames - which covers a Kubernetes ConfigMap's `..data` symlink swap), and
// the directory's parent too, so a rules path that is itself a symlink
// repointed to another release (`current -> release-N`, `ln -sfn`) is
// followed: the watch moves to the new target and the pack reloads; and
// reloads on SIGHUP (request_reload()). Changes are debounced (`quiet_ms` of
// silence), then the whole new pack is compiled. A pack that compiles and
// differs from the running one is handed to `on_loaded` (the engine swaps it
// between batches); a broken pack is logged with every file:line:col error,
// counted, and the running pack stays.
//
// Thread safety: owns one thread; request_reload() is async-signal-safe.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "engine/diagnostics.h"
#include "engine/rule_set.h"

namespace fraud {

class RulesReloader {
 public:
  using OnLoaded = std::function<void(std::shared_ptr<const RuleSet>)>;
  using OnFailed = std::function<void(const Diagnostics&)>;

  RulesReloader(std::string dir, std::string current_version, OnLoaded on_loaded, OnFailed on_failed,
                int quiet_ms = 300);
  ~RulesReloader();
  RulesReloader(const RulesReloader&) = delete;
  RulesReloader& operator=(const RulesReloader&) = delete;

  void request_reload() { requested_.store(true); }

 private:
  void loop();
  void reload();
  // Watches what dir_ resolves to now; true if that changed since last time.
  bool follow_target();
  // Reads every queued inotify event; true if one concerns the pack (any event
  // on the pack directory, or one naming it in the parent).
  bool drain_events(char* buf, size_t size);

  std::string dir_;
  std::string version_;
  OnLoaded on_loaded_;
  OnFailed on_failed_;
  int quiet_ms_;
  int inotify_fd_ = -1;
  int dir_wd_ = -1;
  int parent_wd_ = -1;
  std::string name_;    // dir_'s last component, as the parent's events name it
  std::string target_;  // dir_ resolved (symlinks followed) when last watched
  std::atomic<bool> requested_{false};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace fraud
