//! The client watching itself: its own CPU time, and the open-file limit it
//! needs for many concurrent streams.

/// CPU time (user + system) used by this process so far, seconds.
pub fn process_cpu_s() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return 0.0;
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Cores this process may run on.
pub fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Errors raising the open-file limit.
#[derive(Debug, thiserror::Error)]
#[error(
    "{wanted} concurrent streams need about {wanted} open files, but this process may open at most \
     {hard} (hard limit of `ulimit -n`); raise it (e.g. `ulimit -n {wanted}` as root, or \
     LimitNOFILE= in a systemd unit) or lower the concurrency"
)]
pub struct NofileError {
    pub wanted: u64,
    pub hard: u64,
}

/// Make sure `wanted` files can be open at once: raise the soft limit up to
/// the hard one if needed. Returns the soft limit now in force.
pub fn ensure_nofile(wanted: u64) -> Result<u64, NofileError> {
    // SAFETY: getrlimit/setrlimit read and write the struct they are given.
    let mut lim: libc::rlimit = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Ok(wanted);
    }
    if lim.rlim_cur >= wanted {
        return Ok(lim.rlim_cur);
    }
    // Above the hard limit: a process with CAP_SYS_RESOURCE (root) may
    // raise it too, up to fs.nr_open.
    let hard = lim.rlim_max.max(wanted);
    let new = libc::rlimit {
        rlim_cur: wanted.max(lim.rlim_cur),
        rlim_max: hard,
    };
    if lim.rlim_max < wanted && unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &new) } != 0 {
        return Err(NofileError {
            wanted,
            hard: lim.rlim_max,
        });
    }
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &new) } != 0 {
        return Err(NofileError {
            wanted,
            hard: lim.rlim_cur,
        });
    }
    Ok(new.rlim_cur)
}

/// The process's hard limit on open files (`ulimit -Hn`), when readable.
pub fn nofile_hard_limit() -> Option<u64> {
    // SAFETY: getrlimit writes the struct it is given.
    let mut lim: libc::rlimit = unsafe { std::mem::zeroed() };
    (unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0).then_some(lim.rlim_max)
}

/// Linux's ephemeral port range (`net.ipv4.ip_local_port_range`): the
/// local ports one source address has for connections to one server
/// address and port. `None` where it cannot be read.
pub fn local_port_range() -> Option<(u32, u32)> {
    let s = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let mut it = s.split_whitespace().map(|v| v.parse::<u32>().ok());
    let (lo, hi) = (it.next()??, it.next()??);
    (lo <= hi).then_some((lo, hi))
}

/// Give the memory the allocator holds but no longer uses back to the
/// system (glibc keeps freed blocks in its arenas; after a long load the
/// requests and streams it freed can be hundreds of MiB of RSS). A no-op
/// where the allocator has no such call.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory of the allocator's own
    // heaps to the system; it touches no live allocation.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_grows_with_work() {
        let a = process_cpu_s();
        let mut x = 0u64;
        for i in 0..30_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert!(x != 1);
        assert!(process_cpu_s() > a);
    }

    #[test]
    fn small_nofile_is_already_fine() {
        assert!(ensure_nofile(64).unwrap() >= 64);
        let e = ensure_nofile(u64::MAX - 1).unwrap_err();
        assert!(e.to_string().contains("ulimit -n"));
    }
}
