#include "engine/bounded_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace fraud {

FileText read_bounded_file(const std::filesystem::path& path, std::size_t max_bytes) {
  FileText out;
  // O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    out.error = std::string("cannot open it: ") + std::strerror(errno);
    return out;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    out.error = "not a regular file";
    return out;
  }
  if (static_cast<std::size_t>(st.st_size) > max_bytes) {
    ::close(fd);
    out.error = "is " + std::to_string(st.st_size) + " bytes; the limit is " + std::to_string(max_bytes);
    return out;
  }
  out.text.resize(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (true) {
    if (got == out.text.size()) {
      if (out.text.size() > max_bytes) break;
      out.text.resize(std::min(max_bytes + 1, out.text.size() + 4096));  // the file grew while read
    }
    ssize_t n = ::read(fd, out.text.data() + got, out.text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      out.error = std::string("cannot read it: ") + std::strerror(errno);
      out.text.clear();
      return out;
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (got > max_bytes) {
    out.error = "is more than " + std::to_string(max_bytes) + " bytes";
    out.text.clear();
    return out;
  }
  out.text.resize(got);
  out.ok = true;
  return out;
}

}  // namespace fraud
