#include "engine/cli/rules_reloader.h"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "engine/pack_loader.h"

namespace fraud {

RulesReloader::RulesReloader(std::string dir, std::string current_version, OnLoaded on_loaded, OnFailed on_failed,
                             int quiet_ms)
    : dir_(std::move(dir)),
      version_(std::move(current_version)),
      on_loaded_(std::move(on_loaded)),
      on_failed_(std::move(on_failed)),
      quiet_ms_(quiet_ms) {
  inotify_fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd_ >= 0) {
    follow_target();
    if (dir_wd_ < 0) spdlog::warn("cannot watch {} (reload with SIGHUP only)", dir_);
    // The parent: a repointed symlink named dir_ shows up there.
    std::filesystem::path self = std::filesystem::path(dir_).lexically_normal();
    if (!self.has_filename()) self = self.parent_path();  // "rules/" names rules
    std::filesystem::path parent = self.parent_path();
    if (parent.empty()) parent = ".";
    parent_wd_ = inotify_add_watch(inotify_fd_, parent.c_str(), IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM);
    name_ = self.filename().string();
  } else {
    spdlog::warn("inotify unavailable (reload with SIGHUP only)");
  }
  thread_ = std::thread([this] { loop(); });
}

bool RulesReloader::follow_target() {
  std::error_code ec;
  std::string target = std::filesystem::canonical(dir_, ec).string();
  if (ec || target == target_) return false;
  if (dir_wd_ >= 0) inotify_rm_watch(inotify_fd_, dir_wd_);
  dir_wd_ = inotify_add_watch(
      inotify_fd_, target.c_str(),
      IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF);
  bool changed = !target_.empty();
  if (changed) spdlog::info("rules directory {} now points to {}", dir_, target);
  target_ = std::move(target);
  return changed;
}

bool RulesReloader::drain_events(char* buf, size_t size) {
  bool relevant = false;
  ssize_t n;
  while ((n = ::read(inotify_fd_, buf, size)) > 0) {
    for (ssize_t at = 0; at + static_cast<ssize_t>(sizeof(inotify_event)) <= n;) {
      const auto* e = reinterpret_cast<const inotify_event*>(buf + at);
      // The parent directory sees every sibling; only our own name matters there.
      if (e->wd != parent_wd_ || (e->len > 0 && name_ == e->name)) relevant = true;
      at += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
    }
  }
  return relevant;
}

RulesReloader::~RulesReloader() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  if (inotify_fd_ >= 0) ::close(inotify_fd_);
}

void RulesReloader::loop() {
  using clock = std::chrono::steady_clock;
  bool pending = false;
  clock::time_point last_change{};
  alignas(inotify_event) char buf[8192];
  while (!stop_.load()) {
    if (inotify_fd_ >= 0) {
      pollfd p{inotify_fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) > 0) {
        if (drain_events(buf, sizeof buf)) {
          follow_target();
          pending = true;
          last_change = clock::now();
        }
      }
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (requested_.exchange(false)) {
      pending = true;
      last_change = clock::now() - std::chrono::milliseconds(quiet_ms_);  // SIGHUP: no need to wait
    }
    if (pending && clock::now() - last_change >= std::chrono::milliseconds(quiet_ms_)) {
      pending = false;
      reload();
    }
  }
}

void RulesReloader::reload() {
  PackLoadResult pack = load_pack_directory(dir_);
  if (!pack.ok()) {
    spdlog::error("rule pack {} does not compile; keeping version {}:", dir_, version_.substr(0, 12));
    for (const auto& d : pack.diagnostics.items()) {
      if (d.severity != Severity::kError) continue;
      spdlog::error("  {}:{}:{}: error[{}]: {}", d.pos.file, d.pos.line, d.pos.col, d.code, d.message);
    }
    on_failed_(pack.diagnostics);
    return;
  }
  if (pack.rules->version == version_) return;  // touched, not changed
  spdlog::info("rule pack reloaded: {} -> {} ({} rules)", version_.substr(0, 12), pack.rules->version.substr(0, 12),
               pack.rules->rules.size());
  version_ = pack.rules->version;
  on_loaded_(pack.rules);
}

}  // namespace fraud
