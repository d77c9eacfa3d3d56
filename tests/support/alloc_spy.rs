//! A spying global allocator: finds secrets left in freed heap memory (STYLE.md rule 3, SPEC
//! §1 (g) "every secret is wiped when dropped").
//!
//! Including this module in a test crate installs [`Spy`] as the `#[global_allocator]`:
//!
//! ```ignore
//! #[path = "support/alloc_spy.rs"]
//! mod alloc_spy;
//!
//! let findings = alloc_spy::watch(&[("d1''", &d1pp_bytes), ("p2", &p2_bytes)], || {
//!     // ... code that handles those secrets ...
//! });
//! assert!(findings.is_empty(), "{findings:#?}");
//! ```
//!
//! While [`watch`] runs its closure, every block that the *calling thread* frees (`dealloc`)
//! or moves away from (`realloc`) is scanned, before it goes back to the system allocator,
//! for any [`WINDOW`]-byte window of a registered secret. A hit is a [`Finding`]: a copy of
//! (a part of) the secret that the program let go without wiping. Secrets are registered as
//! byte strings; register every form the code may hold, e.g. big-endian bytes and the
//! little-endian limbs of a big integer (see `tests/freed_memory.rs`).
//!
//! `realloc` is always done as allocate + copy + free, and the whole old block is scanned:
//! whether the system allocator would have grown a block in place is its own choice, and a
//! shrink in place frees the tail unwiped, so every reallocation of a secret buffer counts.
//!
//! The allocator itself never allocates: the windows are sorted into a vector (with a
//! 2-byte prefix bitmap) by [`watch`] before scanning starts, and findings go into a fixed
//! array ([`MAX_FINDINGS`]). Other threads (the test harness runs tests in parallel) are
//! never scanned; [`watch`] calls are serialised.
//!
//! Blocks allocated by a watched thread are zeroed first, so bytes that an earlier owner left
//! in a recycled block are not mistaken for a copy made by the watched code.
//!
//! Limits: only the heap is watched (stack copies and registers are not), and a secret must be
//! at least [`WINDOW`] bytes long; windows with fewer than 8 distinct byte values (e.g. the
//! zero high limbs of a widened integer) are skipped so that wiped memory never matches.

// A global allocator is `unsafe` by nature; this test-support module is a documented exception
// to the crate's `unsafe_code` lint, like tests/ct.rs.
#![allow(unsafe_code)]
#![allow(dead_code)] // each test crate uses part of the API

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::{Mutex, MutexGuard, PoisonError};

use zeroize::Zeroize;

/// Length of the windows searched for: any 16 consecutive bytes of a registered secret.
pub const WINDOW: usize = 16;

/// Most findings kept per [`watch`] (more are counted and reported on stderr).
pub const MAX_FINDINGS: usize = 64;

/// How the block was let go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// `dealloc`: the block was freed.
    Dealloc,
    /// `realloc`: the contents moved to a new block and the old one was freed.
    Realloc,
}

/// A window of a registered secret found in a freed block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finding {
    /// The label the secret was registered with.
    pub secret: &'static str,
    /// How the block was let go.
    pub event: Event,
    /// Size of the freed block in bytes.
    pub block_len: usize,
    /// Offset of the window in the freed block.
    pub offset_in_block: usize,
    /// Offset of the window in the secret.
    pub offset_in_secret: usize,
}

/// One window of a registered secret.
#[derive(Clone, Copy)]
struct Window {
    bytes: [u8; WINDOW],
    secret: &'static str,
    offset: usize,
}

struct State {
    /// Sorted by `bytes`.
    windows: Vec<Window>,
    /// Bit `(b0 << 8) | b1` set iff some window starts with bytes b0, b1.
    prefix: [u64; 1024],
    findings: [Option<Finding>; MAX_FINDINGS],
    count: usize,
}

static STATE: Mutex<State> = Mutex::new(State {
    windows: Vec::new(),
    prefix: [0; 1024],
    findings: [None; MAX_FINDINGS],
    count: 0,
});

/// Serialises [`watch`] calls (tests run on several threads).
static SESSION: Mutex<()> = Mutex::new(());

thread_local! {
    /// Whether this thread's frees are scanned. Const-initialised and without a destructor, so
    /// reading it never allocates.
    static WATCHED: Cell<bool> = const { Cell::new(false) };
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn watched() -> bool {
    WATCHED.try_with(Cell::get).unwrap_or(false)
}

/// Scans `len` bytes at `ptr` (a block about to be freed) and records the first hit of each
/// secret.
///
/// # Safety
/// `ptr` must be valid for reads of `len` bytes.
unsafe fn scan(ptr: *const u8, len: usize, event: Event) {
    if len < WINDOW {
        return;
    }
    let mut state = lock(&STATE);
    if state.windows.is_empty() {
        return;
    }
    let mut last: Option<&'static str> = None;
    for i in 0..=len - WINDOW {
        // Volatile reads: the bytes may never have been written (spare capacity); the compiler
        // must not reason about their values.
        // SAFETY: i + 1 < len, within the block (caller's contract).
        let (b0, b1) = unsafe {
            (
                core::ptr::read_volatile(ptr.add(i)),
                core::ptr::read_volatile(ptr.add(i + 1)),
            )
        };
        let key = (usize::from(b0) << 8) | usize::from(b1);
        if state.prefix[key >> 6] & (1u64 << (key & 63)) == 0 {
            continue;
        }
        let mut w = [0u8; WINDOW];
        for (k, byte) in w.iter_mut().enumerate() {
            // SAFETY: i + k < i + WINDOW <= len.
            *byte = unsafe { core::ptr::read_volatile(ptr.add(i + k)) };
        }
        let Ok(at) = state.windows.binary_search_by(|x| x.bytes.cmp(&w)) else {
            continue;
        };
        let hit = state.windows[at];
        if last == Some(hit.secret) {
            continue; // one finding per secret and block
        }
        last = Some(hit.secret);
        let n = state.count;
        if n < MAX_FINDINGS {
            state.findings[n] = Some(Finding {
                secret: hit.secret,
                event,
                block_len: len,
                offset_in_block: i,
                offset_in_secret: hit.offset,
            });
        }
        state.count = n + 1;
    }
}

/// The spying allocator: the system allocator, plus a scan of every block freed or moved
/// away from by a thread inside [`watch`].
pub struct Spy;

// SAFETY: every method forwards to `System` with the same layout contract; the scans only read
// blocks that are still allocated, and never allocate (no reentrancy).
unsafe impl GlobalAlloc for Spy {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if watched() {
            // Zeroed, so that bytes a previous owner left in the block (unwiped secrets from
            // before the watch) cannot be mistaken for a copy made by the watched code.
            // SAFETY: forwarded contract.
            return unsafe { System.alloc_zeroed(layout) };
        }
        // SAFETY: forwarded contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if watched() {
            // SAFETY: the block is allocated with `layout.size()` bytes until the next line.
            unsafe { scan(ptr, layout.size(), Event::Dealloc) };
        }
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !watched() {
            // SAFETY: forwarded contract.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        // SAFETY: the caller guarantees new_size > 0 and that it does not overflow when
        // rounded to the alignment, so this layout is valid.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: valid non-zero-size layout. Zeroed for the reason given in `alloc`.
        let new = unsafe { System.alloc_zeroed(new_layout) };
        if new.is_null() {
            return new; // the old block stays allocated, as realloc requires
        }
        // SAFETY: both blocks are valid for min(old, new) bytes and distinct; the old block is
        // scanned while still allocated, then freed with its own layout.
        unsafe {
            core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
            scan(ptr, layout.size(), Event::Realloc);
            System.dealloc(ptr, layout);
        }
        new
    }
}

#[global_allocator]
static GLOBAL: Spy = Spy;

/// Resets the thread's watch flag even if the closure panics.
struct Unwatch;

impl Drop for Unwatch {
    fn drop(&mut self) {
        WATCHED.with(|w| w.set(false));
    }
}

/// Runs `f` with every block this thread frees or reallocates scanned for any [`WINDOW`]-byte
/// window of the `secrets` (label, bytes), and returns what was found, in order (at most
/// [`MAX_FINDINGS`]). Empty means no freed block held a copy of any secret.
///
/// Panics if a secret is shorter than [`WINDOW`] bytes or has no usable window.
pub fn watch(secrets: &[(&'static str, &[u8])], f: impl FnOnce()) -> Vec<Finding> {
    let _session = lock(&SESSION);
    // Everything that allocates happens before the scanning starts.
    let mut windows = Vec::new();
    for &(label, bytes) in secrets {
        assert!(
            bytes.len() >= WINDOW,
            "secret {label}: {} bytes, at least {WINDOW} needed",
            bytes.len()
        );
        let before = windows.len();
        for (offset, w) in bytes.windows(WINDOW).enumerate() {
            let mut distinct = [false; 256];
            w.iter().for_each(|&b| distinct[usize::from(b)] = true);
            if distinct.iter().filter(|&&d| d).count() < 8 {
                continue;
            }
            let mut b = [0u8; WINDOW];
            b.copy_from_slice(w);
            windows.push(Window {
                bytes: b,
                secret: label,
                offset,
            });
        }
        assert!(windows.len() > before, "secret {label}: no usable window");
    }
    windows.sort_by_key(|w| w.bytes);
    let mut prefix = [0u64; 1024];
    for w in &windows {
        let key = (usize::from(w.bytes[0]) << 8) | usize::from(w.bytes[1]);
        prefix[key >> 6] |= 1u64 << (key & 63);
    }
    {
        let mut state = lock(&STATE);
        // The old vector is empty (taken back below), so replacing it frees nothing.
        state.windows = windows;
        state.prefix = prefix;
        state.findings = [None; MAX_FINDINGS];
        state.count = 0;
    }

    {
        WATCHED.with(|w| w.set(true));
        let _unwatch = Unwatch;
        f();
    }

    let (mut windows, findings, count) = {
        let mut state = lock(&STATE);
        let windows = core::mem::take(&mut state.windows);
        (windows, state.findings, state.count)
    };
    // Our own copy of the secrets: wiped, so that it cannot turn up in a later watch.
    for w in &mut windows {
        w.bytes.zeroize();
    }
    drop(windows);
    if count > MAX_FINDINGS {
        eprintln!("alloc_spy: {count} findings, the first {MAX_FINDINGS} kept");
    }
    findings.iter().flatten().copied().collect()
}
