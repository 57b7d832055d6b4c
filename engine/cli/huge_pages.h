// Transparent huge pages for the heap. Feature state is millions of small
// allocations; on machines where a page fault is expensive (virtual machines)
// backing glibc's heap with 2 MB pages cuts the faults about tenfold (a
// one-shot replay of 200,000 events here: 22,000 -> 2,600 faults, 255,000 ->
// 300,000-370,000 events/s). glibc reads its tunables only at start, so the
// process sets `GLIBC_TUNABLES=glibc.malloc.hugetlb=1` and re-executes itself
// once, before doing anything else. Nothing happens when GLIBC_TUNABLES is
// already set (the operator's choice wins) or FRAUDSTREAM_NO_HUGE_PAGES is.
#pragma once

namespace fraud {

// Call first thing in main(); returns only if no re-exec happened.
void use_huge_page_heap(char** argv);

}  // namespace fraud
