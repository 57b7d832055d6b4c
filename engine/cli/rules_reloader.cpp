#include "engine/cli/rules_reloader.h"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <chrono>

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
    int wd = inotify_add_watch(inotify_fd_, dir_.c_str(),
                               IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | IN_ATTRIB |
                                   IN_DELETE_SELF | IN_MOVE_SELF);
    if (wd < 0) spdlog::warn("cannot watch {} (reload with SIGHUP only)", dir_);
  } else {
    spdlog::warn("inotify unavailable (reload with SIGHUP only)");
  }
  thread_ = std::thread([this] { loop(); });
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
  char buf[8192];
  while (!stop_.load()) {
    if (inotify_fd_ >= 0) {
      pollfd p{inotify_fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) > 0) {
        while (::read(inotify_fd_, buf, sizeof buf) > 0) {
        }
        pending = true;
        last_change = clock::now();
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
