#include "engine/cli/huge_pages.h"

#include <unistd.h>

#include <cstdlib>

namespace fraud {

void use_huge_page_heap(char** argv) {
  if (std::getenv("GLIBC_TUNABLES") || std::getenv("FRAUDSTREAM_NO_HUGE_PAGES")) return;
  ::setenv("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1", 1);
  ::execv("/proc/self/exe", argv);
  // exec failed (no /proc?): carry on with the normal heap.
  ::unsetenv("GLIBC_TUNABLES");
}

}  // namespace fraud
