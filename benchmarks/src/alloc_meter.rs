//! Heap high-water mark of an in-process call, for the peak-memory column of Rust rows.
//!
//! Process max RSS (getrusage) only ever grows, so after the first large row it says nothing about
//! the next one. Instead the binary's global allocator counts live heap bytes and their peak;
//! [`measure`] resets the peak, runs the call and reports the peak above the bytes live before it.
//! Counting is two relaxed atomic operations per allocation; the hot loops of the handcoded rows
//! do not allocate, and the forwarding keeps `System`'s realloc and calloc fast paths.

#![allow(unsafe_code)] // Implementing `GlobalAlloc` is unsafe by definition; every method only forwards to `System`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// The counting allocator installed as the global allocator of every binary linking this crate.
pub struct CountingAllocator;

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn grew(by: usize) {
    let live = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

fn shrank(by: usize) {
    LIVE.fetch_sub(by, Ordering::Relaxed);
}

// SAFETY: every method forwards the caller's arguments unchanged to `System`, which upholds the
// `GlobalAlloc` contract; the bookkeeping touches only atomics and never allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged; the caller guarantees a non-zero-size layout.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`; keeps calloc's lazily zeroed pages for large buffers.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by this allocator (hence by `System`) with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged; `System.realloc` may grow in place.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                shrank(layout.size() - new_size);
            }
        }
        new
    }
}

/// Heap bytes currently live.
#[must_use]
pub fn live_bytes() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// Serializes [`measure`]: each call resets the one process-wide peak, so two at once (tests run
/// in parallel) would cut each other's short.
static MEASURING: Mutex<()> = Mutex::new(());

/// Runs `f` and returns its result with the heap high-water mark it reached above the bytes that
/// were live when it started. Other threads' allocations during the call count too, so call it
/// while nothing else runs; concurrent calls wait for each other.
pub fn measure<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let _exclusive = MEASURING.lock().unwrap_or_else(PoisonError::into_inner);
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let out = f();
    let peak = PEAK.load(Ordering::Relaxed);
    (out, peak.saturating_sub(before) as u64)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sees_a_temporary_buffer() {
        let ((), peak) = super::measure(|| {
            let v = vec![1u8; 1 << 20];
            std::hint::black_box(&v);
        });
        // Other tests run beside this one and may free a little while it measures.
        assert!(peak >= (1 << 20) - (64 << 10), "{peak}");
    }
}
