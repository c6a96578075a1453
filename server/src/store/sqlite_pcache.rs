//! SQLite's page cache with one needless scan taken out of every commit.
//!
//! When a B-tree page splits anywhere but at the tree's right edge, SQLite puts the sibling
//! pages back in page-number order by swapping two of them through a spare key, the
//! database's lock page (page 262,145 at 4 KiB pages, a page that never holds data). The
//! default page cache remembers every key it was given as its largest, so after such a split
//! the transaction's end (`sqlite3PcacheTruncate` down to the file's size) finds a largest
//! key far above the file and scans the cache's whole hash table, though the page has long
//! moved back off the spare key. Under load that was about 8 % of the store writer's time
//! (8,192 buckets for its 16 MiB cache, at nearly every commit).
//!
//! [`install`] puts a thin layer over the default cache: every method goes to the default,
//! and the layer keeps an upper bound of the keys the cache can hold ([`Bound`]) so that a
//! truncation no page can be affected by is skipped. Installing is process-wide and only
//! possible before SQLite's first use; after that the default cache stays, unchanged.

use std::cell::Cell;
use std::ffi::{c_int, c_uint, c_void};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use rusqlite::ffi;

/// SQLite's default `PENDING_BYTE`: the lock page is the page holding this byte.
const PENDING_BYTE: u32 = 0x4000_0000;

/// An upper bound of the keys a cache holds, from what it was asked to create and move.
///
/// Invariant: every page in the cache has a key ≤ `max`, or is on the spare key with
/// `on_spare > 0`. Both only over-estimate: evictions inside the default cache are not seen,
/// which can make a truncation go through that had nothing to drop (as every truncation did
/// before), never skip one that had.
#[derive(Debug)]
pub(super) struct Bound {
    spare: u32,
    max: Cell<u32>,
    on_spare: Cell<u32>,
}

impl Bound {
    pub(super) fn new(page_size: u32) -> Self {
        Bound {
            spare: PENDING_BYTE / page_size.max(1) + 1,
            max: Cell::new(0),
            on_spare: Cell::new(0),
        }
    }

    /// A fetch that may create a page on `key`.
    pub(super) fn created(&self, key: u32) {
        self.max.set(self.max.get().max(key));
    }

    pub(super) fn rekeyed(&self, old: u32, new: u32) {
        if old == self.spare {
            self.on_spare.set(self.on_spare.get().saturating_sub(1));
        }
        if new == self.spare {
            self.on_spare.set(self.on_spare.get() + 1);
        } else {
            self.created(new);
        }
    }

    /// Whether a truncation to `limit` (dropping every key ≥ `limit`) can drop anything.
    pub(super) fn reaches(&self, limit: u32) -> bool {
        self.max.get() >= limit || (self.on_spare.get() > 0 && self.spare >= limit)
    }

    /// After a truncation to `limit` went through: nothing is left at or above it.
    pub(super) fn truncated(&self, limit: u32) {
        self.max.set(self.max.get().min(limit.saturating_sub(1)));
        if self.spare >= limit {
            self.on_spare.set(0);
        }
    }
}

/// Truncations skipped and passed on, process-wide (for the tests and the curious).
pub(super) static SKIPPED: AtomicU64 = AtomicU64::new(0);
pub(super) static PASSED: AtomicU64 = AtomicU64::new(0);

/// One cache of the layer: the default cache's handle and the bound.
struct Cache {
    inner: *mut ffi::sqlite3_pcache,
    bound: Bound,
}

struct Default(ffi::sqlite3_pcache_methods2);
// SAFETY: the methods table is written once before SQLite starts and only read after; its
// `pArg` is the default cache's own global, which SQLite itself shares between threads.
unsafe impl Sync for Default {}
unsafe impl Send for Default {}

static DEFAULT: OnceLock<Default> = OnceLock::new();
static INSTALLED: OnceLock<bool> = OnceLock::new();

/// Installs the layer if SQLite has not started yet; returns whether it is in place.
/// Every later call returns the first call's answer.
pub(super) fn install() -> bool {
    *INSTALLED.get_or_init(|| {
        // SAFETY: both config calls only read or fill the given struct, and SQLite refuses
        // them (SQLITE_MISUSE) once it has started, in which case nothing changes.
        unsafe {
            let mut default: ffi::sqlite3_pcache_methods2 = std::mem::zeroed();
            if ffi::sqlite3_config(
                ffi::SQLITE_CONFIG_GETPCACHE2,
                &mut default as *mut ffi::sqlite3_pcache_methods2,
            ) != ffi::SQLITE_OK
                || default.xCreate.is_none()
            {
                return false;
            }
            let iversion = default.iVersion;
            if DEFAULT.set(Default(default)).is_err() {
                return false;
            }
            let ours = ffi::sqlite3_pcache_methods2 {
                iVersion: iversion,
                pArg: std::ptr::null_mut(),
                xInit: Some(init),
                xShutdown: Some(shutdown),
                xCreate: Some(create),
                xCachesize: Some(cachesize),
                xPagecount: Some(pagecount),
                xFetch: Some(fetch),
                xUnpin: Some(unpin),
                xRekey: Some(rekey),
                xTruncate: Some(truncate),
                xDestroy: Some(destroy),
                xShrink: Some(shrink),
            };
            ffi::sqlite3_config(
                ffi::SQLITE_CONFIG_PCACHE2,
                &ours as *const ffi::sqlite3_pcache_methods2,
            ) == ffi::SQLITE_OK
        }
    })
}

/// Whether [`install`] put the layer in place.
#[cfg(test)]
pub(super) fn installed() -> bool {
    INSTALLED.get().copied().unwrap_or(false)
}

fn default() -> &'static ffi::sqlite3_pcache_methods2 {
    &DEFAULT
        .get()
        .expect("page cache layer installed without the default")
        .0
}

/// SAFETY (all methods below): SQLite calls them only with handles `create` returned, one
/// caller at a time per cache (a cache belongs to one connection's pager), and each default
/// method exists (the default cache implements them all).
unsafe fn cache<'a>(p: *mut ffi::sqlite3_pcache) -> &'a Cache {
    &*(p as *const Cache)
}

unsafe extern "C" fn init(_: *mut c_void) -> c_int {
    let d = default();
    d.xInit.map_or(ffi::SQLITE_OK, |f| f(d.pArg))
}

unsafe extern "C" fn shutdown(_: *mut c_void) {
    let d = default();
    if let Some(f) = d.xShutdown {
        f(d.pArg)
    }
}

unsafe extern "C" fn create(
    sz_page: c_int,
    sz_extra: c_int,
    purgeable: c_int,
) -> *mut ffi::sqlite3_pcache {
    let inner = (default().xCreate.unwrap())(sz_page, sz_extra, purgeable);
    if inner.is_null() {
        return inner;
    }
    let cache = Box::new(Cache {
        inner,
        bound: Bound::new(sz_page as u32),
    });
    Box::into_raw(cache) as *mut ffi::sqlite3_pcache
}

unsafe extern "C" fn cachesize(p: *mut ffi::sqlite3_pcache, n: c_int) {
    (default().xCachesize.unwrap())(cache(p).inner, n)
}

unsafe extern "C" fn pagecount(p: *mut ffi::sqlite3_pcache) -> c_int {
    (default().xPagecount.unwrap())(cache(p).inner)
}

unsafe extern "C" fn fetch(
    p: *mut ffi::sqlite3_pcache,
    key: c_uint,
    create_flag: c_int,
) -> *mut ffi::sqlite3_pcache_page {
    let c = cache(p);
    if create_flag != 0 {
        c.bound.created(key);
    }
    (default().xFetch.unwrap())(c.inner, key, create_flag)
}

unsafe extern "C" fn unpin(
    p: *mut ffi::sqlite3_pcache,
    page: *mut ffi::sqlite3_pcache_page,
    discard: c_int,
) {
    (default().xUnpin.unwrap())(cache(p).inner, page, discard)
}

unsafe extern "C" fn rekey(
    p: *mut ffi::sqlite3_pcache,
    page: *mut ffi::sqlite3_pcache_page,
    old: c_uint,
    new: c_uint,
) {
    let c = cache(p);
    c.bound.rekeyed(old, new);
    (default().xRekey.unwrap())(c.inner, page, old, new)
}

unsafe extern "C" fn truncate(p: *mut ffi::sqlite3_pcache, limit: c_uint) {
    let c = cache(p);
    if !c.bound.reaches(limit) {
        SKIPPED.fetch_add(1, Ordering::Relaxed);
        return;
    }
    PASSED.fetch_add(1, Ordering::Relaxed);
    (default().xTruncate.unwrap())(c.inner, limit);
    c.bound.truncated(limit);
}

unsafe extern "C" fn destroy(p: *mut ffi::sqlite3_pcache) {
    let c = Box::from_raw(p as *mut Cache);
    (default().xDestroy.unwrap())(c.inner)
}

unsafe extern "C" fn shrink(p: *mut ffi::sqlite3_pcache) {
    if let Some(f) = default().xShrink {
        f(cache(p).inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_moved_through_the_spare_key_and_back_needs_no_truncation() {
        let b = Bound::new(4096);
        assert_eq!(b.spare, 262_145);
        for key in 1..=80 {
            b.created(key);
        }
        b.rekeyed(82, 262_145);
        assert!(b.reaches(81), "a page sits on the spare key");
        b.rekeyed(77, 82);
        b.rekeyed(262_145, 77);
        assert!(!b.reaches(83));
        assert!(b.reaches(82), "page 82 is in the cache");
    }

    #[test]
    fn pages_created_above_the_limit_are_truncated() {
        let b = Bound::new(4096);
        b.created(10);
        b.created(500); // a transaction grew the file and rolled back to 100 pages
        assert!(b.reaches(101));
        b.truncated(101);
        assert!(!b.reaches(101));
        assert!(b.reaches(100));
        b.truncated(0);
        assert!(!b.reaches(1));
    }

    #[test]
    fn a_page_left_on_the_spare_key_keeps_truncations_going_through() {
        let b = Bound::new(1024);
        assert_eq!(b.spare, 1_048_577);
        b.created(5);
        b.rekeyed(5, b.spare);
        assert!(b.reaches(6));
        b.truncated(6);
        assert!(!b.reaches(6));
    }

    const CHILD: &str = "NATTER_PCACHE_CHILD";

    /// SQLite takes the layer only before its first use, and other tests in this binary use
    /// it: the test runs itself again in a process of its own.
    #[test]
    fn commits_that_split_pages_skip_the_scan_and_keep_every_row() {
        if std::env::var_os(CHILD).is_none() {
            let name = "store::sqlite_pcache::tests::commits_that_split_pages_skip_the_scan_and_keep_every_row";
            let out = std::process::Command::new(std::env::current_exe().unwrap())
                .args([name, "--exact", "--nocapture", "--test-threads=1"])
                .env(CHILD, "1")
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && stdout.contains("1 passed"),
                "{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            return;
        }
        assert!(install(), "SQLite was started before the test");
        assert!(installed());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut db = rusqlite::Connection::open(&path).unwrap();
        db.execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE t (k TEXT NOT NULL, seq INTEGER NOT NULL, v TEXT NOT NULL,
                             PRIMARY KEY (k, seq)) WITHOUT ROWID;",
        )
        .unwrap();
        // Rows clustered by 300 keys, written round by round: each round adds to the middle of
        // the tree, so pages split there (the swap through the spare key).
        let key = |i: u64| format!("{:016x}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let value = |k: u64, seq: u64| format!("{k}-{seq}-{}", "x".repeat(150));
        let round = |db: &mut rusqlite::Connection, seq: u64| {
            let tx = db.transaction().unwrap();
            for k in 0..300u64 {
                tx.execute(
                    "INSERT INTO t VALUES (?1, ?2, ?3)",
                    (key(k), seq, value(k, seq)),
                )
                .unwrap();
            }
            tx.commit().unwrap();
        };
        for seq in 0..60u64 {
            round(&mut db, seq);
        }
        // A transaction that grows the file and rolls back: its pages past the end must go.
        let passed = PASSED.load(Ordering::Relaxed);
        {
            let tx = db.transaction().unwrap();
            for i in 0..3_000u64 {
                tx.execute("INSERT INTO t VALUES ('zz', ?1, ?2)", (i, "y".repeat(500)))
                    .unwrap();
            }
            tx.rollback().unwrap();
        }
        assert!(
            PASSED.load(Ordering::Relaxed) > passed,
            "the rollback's truncation was skipped"
        );
        // The file shrinks (VACUUM) and grows again over the page numbers it gave back.
        db.execute("DELETE FROM t WHERE seq % 2 = 1", []).unwrap();
        db.execute_batch("VACUUM").unwrap();
        for seq in 60..80u64 {
            round(&mut db, seq);
        }
        assert!(
            SKIPPED.load(Ordering::Relaxed) > 0,
            "no truncation was skipped (passed on: {})",
            PASSED.load(Ordering::Relaxed)
        );
        drop(db);
        let db = rusqlite::Connection::open(&path).unwrap();
        let check: String = db
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
        let mut rows = db.prepare("SELECT k, seq, v FROM t").unwrap();
        let mut n = 0;
        let mut seen = std::collections::HashSet::new();
        for row in rows
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, u64>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .unwrap()
        {
            let (k, seq, v) = row.unwrap();
            let i = (0..300u64)
                .find(|&i| key(i) == k)
                .expect("a key that was never written");
            assert_eq!(v, value(i, seq));
            assert!(seq >= 60 || seq % 2 == 0, "a deleted row came back");
            assert!(seen.insert((i, seq)));
            n += 1;
        }
        assert_eq!(n, 300 * (30 + 20));
    }
}
