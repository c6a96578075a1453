//! A small seeded generator (xorshift64*) for fault schedules: when to kill a server, where to
//! cut a stream. Not for secrets. A failing run prints its seed; `NATTER_SEED=<seed>` replays
//! the same schedule.

/// xorshift64* state.
pub struct Rng(u64);

impl Rng {
    /// Seeded from `NATTER_SEED`, else from the clock; prints the seed (shown when a test fails).
    pub fn from_env(what: &str) -> Rng {
        let seed = crate::env_or("NATTER_SEED", 0u64);
        let seed = if seed != 0 {
            seed
        } else {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        };
        eprintln!("{what}: NATTER_SEED={seed}");
        Rng::new(seed)
    }

    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `lo..hi` (`lo` when the range is empty).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        lo + self.next_u64() % (hi - lo)
    }
}
