//! Transparent huge pages for large, freshly allocated bar buffers.
//!
//! A million bars is 48 MB. On a virtual machine, faulting that in 4 KiB pages costs about
//! as much as decoding the Parquet file itself (measured: 23 ms of a 60 ms load). Linux's
//! default `madvise` mode for transparent huge pages backs a range with 2 MiB pages only when
//! asked, so we ask for the buffers big enough to benefit.

/// Buffers smaller than this are left alone: fewer than two huge pages gain nothing.
const MIN_BYTES: usize = 4 << 20;
const HUGE_PAGE: usize = 2 << 20;

/// Advises the kernel to back `v`'s spare capacity with huge pages; a no-op elsewhere.
#[cfg(target_os = "linux")]
pub(crate) fn advise<T>(v: &mut Vec<T>) {
    let bytes = v.capacity() * std::mem::size_of::<T>();
    if bytes < MIN_BYTES {
        return;
    }
    let start = v.as_mut_ptr() as usize;
    let first = start.next_multiple_of(HUGE_PAGE);
    let end = (start + bytes) / HUGE_PAGE * HUGE_PAGE;
    if end > first {
        // SAFETY: [first, end) lies inside this Vec's own allocation, and MADV_HUGEPAGE only
        // changes how the kernel backs those pages, never their contents or validity. A
        // failure (e.g. THP disabled) leaves ordinary pages, so the result is ignored.
        unsafe {
            libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE);
        }
    }
}

/// Advises the kernel to back `v`'s spare capacity with huge pages; a no-op elsewhere.
#[cfg(not(target_os = "linux"))]
pub(crate) fn advise<T>(_v: &mut Vec<T>) {}
