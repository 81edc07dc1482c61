//! The processes of `servebench selftest`: the CPUs split between the
//! client and the simulator, and the simulator as a child process.

use std::io::Read;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::CliError;

/// The CPUs of a split: the simulator's core and the client's.
#[derive(Debug, Clone)]
pub(super) struct Pinning {
    pub sim_cpu: usize,
    pub client_cpus: Vec<usize>,
}

/// Split the CPUs this process may use: the last for the simulator, the
/// rest for the client; `None` with fewer than 2.
#[cfg(target_os = "linux")]
pub(super) fn split_cpus() -> Option<Pinning> {
    // SAFETY: sched_getaffinity fills a zeroed set of the size given.
    let set = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) != 0 {
            return None;
        }
        set
    };
    let mut cpus: Vec<usize> = (0..libc::CPU_SETSIZE as usize)
        .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
        .collect();
    let sim_cpu = cpus.pop()?;
    (!cpus.is_empty()).then_some(Pinning {
        sim_cpu,
        client_cpus: cpus,
    })
}

#[cfg(not(target_os = "linux"))]
pub(super) fn split_cpus() -> Option<Pinning> {
    None
}

#[cfg(target_os = "linux")]
fn cpu_set(cpus: impl Iterator<Item = usize>) -> libc::cpu_set_t {
    // SAFETY: cpu_set_t is plain bits; CPU_ZERO/CPU_SET only write into it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_ZERO(&mut set);
        for c in cpus {
            libc::CPU_SET(c, &mut set);
        }
        set
    }
}

/// Pin every thread of this process to the client's CPUs (threads made
/// later inherit it).
#[cfg(target_os = "linux")]
pub(super) fn pin_self(p: &Pinning) -> std::io::Result<()> {
    let set = cpu_set(p.client_cpus.iter().copied());
    for task in std::fs::read_dir("/proc/self/task")? {
        let Some(tid) = task?.file_name().to_str().and_then(|t| t.parse().ok()) else {
            continue;
        };
        // SAFETY: a valid set of the right size for a thread of ours.
        if unsafe { libc::sched_setaffinity(tid, std::mem::size_of_val(&set), &set) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The simulator as a child process, killed when dropped.
pub(super) struct SimChild {
    child: Child,
    port: u16,
    log: Arc<Mutex<String>>,
}

impl SimChild {
    /// Start `servebench sim` on a free port with `settings` and wait until
    /// it accepts connections.
    pub async fn start(settings: &str, pin: Option<Pinning>) -> Result<SimChild, CliError> {
        let err = |reason: String| CliError::Preflight {
            url: "servebench sim (child process)".into(),
            reason,
        };
        let exe = std::env::current_exe().map_err(|e| err(format!("no executable: {e}")))?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| err(format!("no free port: {e}")))?
            .port();
        let mut cmd = Command::new(exe);
        cmd.args(["sim", "--host", "127.0.0.1", "--port", &port.to_string()])
            .env("SERVEBENCH_SIM", settings)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        // The simulator dies with this process, even on a hard exit.
        #[cfg(target_os = "linux")]
        unsafe {
            use std::os::unix::process::CommandExt;
            let set = pin.map(|p| cpu_set(std::iter::once(p.sim_cpu)));
            cmd.pre_exec(move || {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                if let Some(set) = set {
                    if libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().map_err(|e| err(format!("cannot start: {e}")))?;
        let log = Arc::new(Mutex::new(String::new()));
        if let Some(mut stderr) = child.stderr.take() {
            let log = log.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = stderr.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    let mut l = log.lock().unwrap();
                    if l.len() < 16_384 {
                        l.push_str(&String::from_utf8_lossy(&buf[..n]));
                    }
                }
            });
        }
        let mut sim = SimChild { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = sim.child.try_wait() {
                std::thread::sleep(Duration::from_millis(50));
                let log = sim.log.lock().unwrap().trim().to_string();
                return Err(err(format!(
                    "exited ({status}) with settings `{settings}`: {log}"
                )));
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Ok(sim);
            }
            if Instant::now() > deadline {
                return Err(err(format!("not listening on port {port} after 20 s")));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// CPU seconds the simulator has used (user and system), from
    /// `/proc/PID/stat` (Linux; `None` elsewhere or when unreadable).
    pub fn cpu_s(&self) -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).ok()?;
        proc_stat_cpu_ticks(&stat).map(|t| t as f64 / clock_ticks_per_s())
    }
}

/// utime + stime (fields 14 and 15) of a `/proc/PID/stat` line, in clock
/// ticks. The command name (field 2) is in parentheses and may hold spaces
/// or parentheses, so the fields are counted after its last `)`.
fn proc_stat_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // After the name: state is field 3, so utime (14) is the 12th here.
    let mut f = rest.split_ascii_whitespace().skip(11);
    let utime: u64 = f.next()?.parse().ok()?;
    let stime: u64 = f.next()?.parse().ok()?;
    Some(utime + stime)
}

fn clock_ticks_per_s() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    match unsafe { libc::sysconf(libc::_SC_CLK_TCK) } {
        n if n > 0 => n as f64,
        _ => 100.0,
    }
}

impl Drop for SimChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn cpu_ticks_are_fields_14_and_15_whatever_the_name() {
        let line = "4242 (servebench (x) y) S 1 4242 4242 0 -1 4194304 1021 0 0 0 \
                    250 37 0 0 20 0 3 0 123456 1000000 2000 18446744073709551615";
        assert_eq!(super::proc_stat_cpu_ticks(line), Some(287));
        assert_eq!(super::proc_stat_cpu_ticks("garbage"), None);
    }
}
