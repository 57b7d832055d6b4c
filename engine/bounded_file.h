// Reading the files a pack, a test suite or a config names, with bounds: only
// regular files (a FIFO, a device such as /dev/zero, a directory or a socket
// is an error, and opening one never blocks), at most `max_bytes` read.
// Symlinks are followed (Kubernetes ConfigMap mounts are symlinks).
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>

namespace fraud {

inline constexpr std::size_t kMaxPackFileBytes = 16u << 20;  // one rule, test or config file
inline constexpr std::size_t kMaxListFileBytes = 64u << 20;  // one list or model file
inline constexpr std::size_t kMaxPackFiles = 1000;           // rule files in a pack directory

struct FileText {
  bool ok = false;
  std::string text;   // the file's bytes when ok
  std::string error;  // why not, when !ok ("not a regular file", "is N bytes; the limit is M", ...)
  FileText() = default;
  // From an optional text (callers that only know present/absent).
  FileText(std::optional<std::string> t) : ok(t.has_value()), text(t ? std::move(*t) : std::string()) {  // NOLINT
    if (!ok) error = "cannot read it";
  }
};

FileText read_bounded_file(const std::filesystem::path& path, std::size_t max_bytes);

}  // namespace fraud
