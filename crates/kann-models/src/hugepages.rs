//! A global allocator that asks Linux to back large blocks with transparent huge pages.
//!
//! A training step allocates fresh buffers of hundreds of MiB (the input projections
//! `[B·T, G·H]`, the saved gates, their gradients). With 4 KiB pages each first touch of such a
//! buffer costs one page fault per 4 KiB; in the T = 1000 GRU step the kernel's page-fault path
//! took about 15% of all CPU time (measured with `perf`). With `MADV_HUGEPAGE` the kernel maps
//! 2 MiB pages where it can, 512× fewer faults. This is what glibc itself does under
//! `GLIBC_TUNABLES=glibc.malloc.hugetlb=1`, and what PyTorch does under
//! `THP_MEM_ALLOC_ENABLE=1`.
//!
//! Binaries opt in:
//! ```ignore
//! #[global_allocator]
//! static ALLOC: kann_models::hugepages::HugePageAlloc = kann_models::hugepages::HugePageAlloc;
//! ```
//! Elsewhere than Linux it is the system allocator unchanged.

use std::alloc::{GlobalAlloc, Layout, System};

/// The system allocator, plus `madvise(MADV_HUGEPAGE)` on every block of at least
/// [`HUGE_PAGE_THRESHOLD`] bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct HugePageAlloc;

/// Blocks at least this large are advised (smaller ones would not fill a 2 MiB page).
pub const HUGE_PAGE_THRESHOLD: usize = 8 << 20;

// SAFETY: every method forwards to `System` with the same arguments and returns its result;
// `advise` only changes how the kernel backs the pages of a block, never its contents or size.
unsafe impl GlobalAlloc for HugePageAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which `System` shares.
        let ptr = unsafe { System.alloc(layout) };
        advise(ptr, layout.size());
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as in `alloc`.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        advise(ptr, layout.size());
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` through this allocator with this `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as in `dealloc`; `new_size` is valid per the caller's contract.
        let ptr = unsafe { System.realloc(ptr, layout, new_size) };
        advise(ptr, new_size);
        ptr
    }
}

/// Largest block glibc serves from its heap instead of a fresh `mmap` (its maximum, 32 MiB).
pub const MMAP_THRESHOLD: usize = 32 << 20;

/// Makes glibc keep freed memory for reuse instead of returning it to the kernel after every
/// large `free` (call once at the start of `main`; a no-op off glibc).
///
/// By default glibc serves blocks above a threshold (adjusted at run time, at most 32 MiB) with a
/// fresh `mmap` and unmaps them on `free`, and trims the heap top back to the kernel: each
/// evaluation batch then faults in and zeroes its buffers anew. `perf` of `train ecg`'s
/// evaluation showed the kernel zeroing pages (`clear_page_erms`) in 28% of all cycles. With the
/// threshold pinned at its maximum and trimming off, buffers below 32 MiB are recycled.
pub fn retain_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only changes glibc's tuning parameters; called before other threads
    // allocate, with values glibc accepts (it rejects, and ignores, out-of-range ones).
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD as libc::c_int);
        libc::mallopt(libc::M_TRIM_THRESHOLD, libc::c_int::MAX);
    }
}

/// Advises the whole 4 KiB pages inside `[ptr, ptr + size)` for huge pages (Linux only).
#[allow(unused_variables)]
fn advise(ptr: *mut u8, size: usize) {
    #[cfg(target_os = "linux")]
    if !ptr.is_null() && size >= HUGE_PAGE_THRESHOLD {
        const PAGE: usize = 4096;
        let start = (ptr as usize).next_multiple_of(PAGE);
        let end = (ptr as usize + size) / PAGE * PAGE;
        if end > start {
            // SAFETY: `[start, end)` lies inside the block the system allocator just returned
            // to us; MADV_HUGEPAGE is advisory and keeps the contents. A failure (e.g. THP
            // disabled) leaves ordinary pages, so the result is ignored.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_and_small_blocks_keep_their_contents() {
        let a = HugePageAlloc;
        for size in [64, HUGE_PAGE_THRESHOLD + 123] {
            let layout = Layout::from_size_align(size, 64).unwrap();
            // SAFETY: non-zero size; the block is written within bounds and freed with the
            // layout it was allocated with (after a realloc, with the new size).
            unsafe {
                let p = a.alloc_zeroed(layout);
                assert!(!p.is_null());
                assert!((0..size).step_by(4099).all(|i| *p.add(i) == 0));
                p.add(size - 1).write(7);
                let q = a.realloc(p, layout, 2 * size);
                assert_eq!(*q.add(size - 1), 7);
                a.dealloc(q, Layout::from_size_align(2 * size, 64).unwrap());
            }
        }
    }
}
