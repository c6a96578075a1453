//! A small allocator for the wasm build (std's dlmalloc costs ~8 KB of code; this is a few
//! hundred bytes). Power-of-two size classes from 16 B to 2 GiB, one free list per class,
//! fresh blocks bumped from pages taken with `memory.grow`.
//!
//! Invariants:
//! * wasm32-unknown-unknown without the atomics feature is single-threaded, so plain
//!   `UnsafeCell` state is sound;
//! * a block's class never changes: a freed block goes back to its class's list and is handed
//!   out again only for a layout of the same class, so steady workloads (load/destroy cycles)
//!   reuse memory instead of growing it. Blocks are never split or merged, so memory is the sum
//!   of each class's high-water mark — fine for a widget, wrong for a general-purpose heap;
//! * blocks are 16-byte aligned; a layout needing more is bumped at its block size
//!   (a power of two ≥ its alignment) and never served from a free list;
//! * only a request above 2 GiB, or a `memory.grow` the browser refuses, returns null
//!   (→ `handle_alloc_error`): out of memory, nothing else.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;

const MIN_SHIFT: u32 = 4; // 16 B
const CLASSES: usize = 28; // 16 B ..= 2 GiB
const PAGE: usize = 65536;

/// The size class (index) of a layout, or `None` when too large.
pub fn class(size: usize, align: usize) -> Option<usize> {
    let n = size
        .max(align)
        .max(1 << MIN_SHIFT)
        .checked_next_power_of_two()?;
    let c = (n.trailing_zeros() - MIN_SHIFT) as usize;
    (c < CLASSES).then_some(c)
}

/// Bytes in a block of class `c`.
pub const fn block_size(c: usize) -> usize {
    1 << (c as u32 + MIN_SHIFT)
}

struct State {
    free: [*mut u8; CLASSES],
    bump: usize,
    end: usize,
}

/// The allocator; installed as `#[global_allocator]` on wasm32.
pub struct Natter(UnsafeCell<State>);

// SAFETY: see the module invariants (single-threaded target).
unsafe impl Sync for Natter {}

impl Natter {
    pub const fn new() -> Natter {
        Natter(UnsafeCell::new(State {
            free: [core::ptr::null_mut(); CLASSES],
            bump: 0,
            end: 0,
        }))
    }
}

impl Default for Natter {
    fn default() -> Self {
        Natter::new()
    }
}

#[cfg(target_arch = "wasm32")]
fn grow(pages: usize) -> Option<usize> {
    let prev = core::arch::wasm32::memory_grow(0, pages);
    (prev != usize::MAX).then_some(prev * PAGE)
}

#[cfg(not(target_arch = "wasm32"))]
fn grow(_pages: usize) -> Option<usize> {
    None
}

impl State {
    fn bump(&mut self, size: usize, align: usize) -> *mut u8 {
        let start = (self.bump + align - 1) & !(align - 1);
        let Some(new_end) = start.checked_add(size) else {
            return core::ptr::null_mut();
        };
        if new_end <= self.end && self.end != 0 {
            self.bump = new_end;
            return start as *mut u8;
        }
        // take enough fresh pages for the block plus its alignment padding
        let pages = (size + align).div_ceil(PAGE);
        let Some(old_end) = grow(pages) else {
            return core::ptr::null_mut();
        };
        if old_end != self.end {
            self.bump = old_end; // first use, or someone else grew memory: start after it
        }
        self.end = old_end + pages * PAGE;
        let start = (self.bump + align - 1) & !(align - 1);
        self.bump = start + size;
        start as *mut u8
    }
}

unsafe impl GlobalAlloc for Natter {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let st = unsafe { &mut *self.0.get() };
        let Some(c) = class(l.size(), l.align()) else {
            return core::ptr::null_mut();
        };
        let n = block_size(c);
        if l.align() > 16 {
            return st.bump(n, n);
        }
        let head = st.free[c];
        if !head.is_null() {
            // SAFETY: a free block stores the next free block in its first word.
            st.free[c] = unsafe { *(head as *mut *mut u8) };
            return head;
        }
        st.bump(n, 16)
    }

    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        let st = unsafe { &mut *self.0.get() };
        if let Some(c) = class(l.size(), l.align()) {
            // SAFETY: the block is ours, at least 16 bytes and 16-aligned.
            unsafe { *(p as *mut *mut u8) = st.free[c] };
            st.free[c] = p;
        }
    }

    unsafe fn realloc(&self, p: *mut u8, l: Layout, new_size: usize) -> *mut u8 {
        if class(l.size(), l.align()) == class(new_size, l.align()) {
            return p; // same block size: nothing to move
        }
        // SAFETY: same contract as GlobalAlloc::realloc's default.
        unsafe {
            let new = self.alloc(Layout::from_size_align_unchecked(new_size, l.align()));
            if !new.is_null() {
                core::ptr::copy_nonoverlapping(p, new, l.size().min(new_size));
                self.dealloc(p, l);
            }
            new
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        assert_eq!(class(0, 1), Some(0));
        assert_eq!(class(16, 8), Some(0));
        assert_eq!(class(17, 8), Some(1));
        assert_eq!(class(8, 64), Some(2), "alignment widens the class");
        assert_eq!(block_size(class(1000, 8).unwrap()), 1024);
        assert_eq!(class(16 << 20, 8), Some(20));
        assert_eq!(
            class((16 << 20) + 1, 8),
            Some(21),
            "a 20 MB message still fits a class"
        );
        assert_eq!(class(1 << 31, 8), Some(27));
        assert_eq!(class((1 << 31) + 1, 8), None);
        assert_eq!(class(usize::MAX, 8), None);
    }
}
