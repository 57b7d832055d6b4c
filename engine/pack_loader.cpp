#include "engine/pack_loader.h"

#include <algorithm>

#include "engine/bounded_file.h"
#include "engine/pack/pack_compiler.h"

namespace fraud {

using pack::PackCompiler;

PackLoadResult compile_pack(const std::vector<SourceFile>& files, const ListFileReader& read_list_file,
                            const PackLoadOptions& options) {
  PackLoadResult result;
  PackCompiler compiler(files, read_list_file, options, result.diagnostics);
  std::shared_ptr<RuleSet> rs = compiler.run();
  result.diagnostics.sort();
  if (rs && !result.diagnostics.has_errors()) result.rules = std::move(rs);
  return result;
}

PackLoadResult load_pack_directory(const std::filesystem::path& dir, const PackLoadOptions& options) {
  namespace fs = std::filesystem;
  std::vector<SourceFile> files;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    PackLoadResult r;
    r.diagnostics.error("E002", {dir.string(), 0, 0}, "not a directory: " + dir.string());
    return r;
  }
  std::vector<fs::path> paths;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    if (!(name.ends_with(".yaml") || name.ends_with(".yml"))) continue;
    if (!fs::is_regular_file(entry.path(), ec)) continue;  // follows ConfigMap symlinks
    paths.push_back(entry.path());
  }
  std::sort(paths.begin(), paths.end(),
            [](const fs::path& a, const fs::path& b) { return a.filename() < b.filename(); });
  PackLoadResult failed;
  if (paths.size() > kMaxPackFiles) {
    failed.diagnostics.error(
        "E002", {dir.string(), 0, 0},
        std::to_string(paths.size()) + " rule files; the limit is " + std::to_string(kMaxPackFiles));
    return failed;
  }
  for (const auto& p : paths) {
    FileText text = read_bounded_file(p, kMaxPackFileBytes);
    if (!text.ok) {
      failed.diagnostics.error("E002", {p.string(), 1, 1}, "cannot read file: " + text.error);
      continue;
    }
    files.push_back({p.string(), std::move(text.text)});
  }
  if (failed.diagnostics.has_errors()) return failed;
  if (files.empty()) {
    PackLoadResult r;
    r.diagnostics.error("E002", {dir.string(), 0, 0}, "no *.yaml rule files in " + dir.string());
    return r;
  }
  ListFileReader reader = [dir](const std::string& name) { return read_bounded_file(dir / name, kMaxListFileBytes); };
  return compile_pack(files, reader, options);
}

}  // namespace fraud
