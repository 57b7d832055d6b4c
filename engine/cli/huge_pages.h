// Transparent huge pages for the heap. Feature state is millions of small
// allocations; on machines where a page fault is expensive (virtual machines)
// backing glibc's heap with 2 MB pages cuts the faults about tenfold (a
// one-shot replay of 200,000 events here: 22,000 -> 2,600 faults, 255,000 ->
// 300,000-370,000 events/s). glibc reads its tunables only at start, so the
// process sets `GLIBC_TUNABLES=glibc.malloc.hugetlb=1` and re-executes itself
// once, before doing anything else. Nothing happens when GLIBC_TUNABLES is
// already set (the operator's choice wins) or FRAUDSTREAM_NO_HUGE_PAGES is.
//
// Only the one-shot commands (replay, diff) use it. A long-running engine
// frees and reallocates states all day, and with 2 MB pages the heap's
// holes stay resident: in 400 s soaks at 20,000 events/s (bench_e2e --only
// soak --soak 400, 2026-11-29) RSS went 351 -> 398 -> 413 MB at 123/307/375 s
// with huge pages and 345 -> 378 -> 386 at 123/308/370 s without, while the
// `full` drain ran as fast without them (three alternating pairs:
// 78,670/78,509, 73,948/77,553, 77,225/83,779 events/s).
#pragma once

namespace fraud {

// Call before anything starts a thread; returns only if no re-exec happened.
void use_huge_page_heap(char** argv);

}  // namespace fraud
