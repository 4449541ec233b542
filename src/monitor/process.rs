//! The server process's own CPU and resident memory, for the live series and Prometheus.

use std::time::Instant;

/// CPU time used by the whole process so far, in microseconds.
pub fn cpu_micros() -> u64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes the struct we pass and nothing else.
    let ok = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) } == 0;
    if !ok {
        return 0;
    }
    // SAFETY: getrusage succeeded, so the struct is initialised.
    let u = unsafe { usage.assume_init() };
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    micros(u.ru_utime) + micros(u.ru_stime)
}

/// Resident memory in bytes (Linux: now; elsewhere: the peak).
pub fn rss_bytes() -> u64 {
    if let Ok(statm) = std::fs::read_to_string("/proc/self/statm")
        && let Some(pages) = statm
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse::<u64>().ok())
    {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        return pages * page.max(1) as u64;
    }
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: as in cpu_micros.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) } != 0 {
        return 0;
    }
    // SAFETY: getrusage succeeded.
    (unsafe { usage.assume_init() }).ru_maxrss as u64 * 1024
}

/// CPU used by the calling thread so far, in microseconds (the monitor reports its own cost).
pub fn thread_cpu_micros() -> u64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the struct we pass.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) } != 0 {
        return 0;
    }
    t.tv_sec as u64 * 1_000_000 + t.tv_nsec as u64 / 1000
}

/// Turns successive readings of the process's CPU time into a percentage of one core.
pub struct CpuMeter {
    last: (Instant, u64),
}

impl Default for CpuMeter {
    fn default() -> CpuMeter {
        CpuMeter {
            last: (Instant::now(), cpu_micros()),
        }
    }
}

impl CpuMeter {
    pub fn percent(&mut self) -> f64 {
        let now = (Instant::now(), cpu_micros());
        let wall = now.0.duration_since(self.last.0).as_micros().max(1) as f64;
        let used = now.1.saturating_sub(self.last.1) as f64;
        self.last = now;
        100.0 * used / wall
    }
}
