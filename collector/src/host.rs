//! Host statistics from `/proc` and `statvfs`: CPU, memory, load and disk.

use std::path::{Path, PathBuf};

use crate::families::Out;

/// CPU times as `/proc/stat`'s first line gives them, in clock ticks.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct CpuTimes {
    busy: f64,
    total: f64,
}

/// Reads the host; remembers the last CPU times to report a utilisation between passes.
#[derive(Debug)]
pub struct HostReader {
    proc_root: PathBuf,
    disk_paths: Vec<PathBuf>,
    last_cpu: Option<CpuTimes>,
}

/// The `USER_HZ` every Linux reports `/proc/stat` in.
const TICKS_PER_SECOND: f64 = 100.0;

impl HostReader {
    /// A reader of `/proc` and of the given file systems.
    pub fn new(disk_paths: Vec<PathBuf>) -> Self {
        Self::with_root(Path::new("/proc"), disk_paths)
    }

    /// A reader of another `/proc` (tests).
    pub fn with_root(proc_root: &Path, disk_paths: Vec<PathBuf>) -> Self {
        Self {
            proc_root: proc_root.to_owned(),
            disk_paths,
            last_cpu: None,
        }
    }

    /// Adds the host's samples to `out`; a file that cannot be read is skipped with a reason.
    pub fn collect(&mut self, out: &mut Out) {
        match std::fs::read_to_string(self.proc_root.join("stat")) {
            Ok(text) => self.cpu(&text, out),
            Err(e) => out.skip("host", &format!("/proc/stat unreadable: {e}")),
        }
        match std::fs::read_to_string(self.proc_root.join("meminfo")) {
            Ok(text) => memory(&text, out),
            Err(e) => out.skip("host", &format!("/proc/meminfo unreadable: {e}")),
        }
        match std::fs::read_to_string(self.proc_root.join("loadavg")) {
            Ok(text) => load(&text, out),
            Err(e) => out.skip("host", &format!("/proc/loadavg unreadable: {e}")),
        }
        for path in &self.disk_paths {
            match rustix::fs::statvfs(path) {
                Ok(s) => {
                    let block = s.f_frsize as f64;
                    let size = s.f_blocks as f64 * block;
                    let free = s.f_bavail as f64 * block;
                    let used = (s.f_blocks - s.f_bfree) as f64 * block;
                    let label = [("path", path.display().to_string())];
                    out.gauge("node_filesystem_size_bytes", &label, size);
                    out.gauge("node_filesystem_free_bytes", &label, free);
                    out.gauge("node_filesystem_used_bytes", &label, used);
                }
                Err(e) => out.skip(
                    "host",
                    &format!("file system {} unreadable: {e}", path.display()),
                ),
            }
        }
    }

    fn cpu(&mut self, text: &str, out: &mut Out) {
        let Some(line) = text.lines().find(|l| l.starts_with("cpu ")) else {
            return;
        };
        let v: Vec<f64> = line
            .split_whitespace()
            .skip(1)
            .filter_map(|f| f.parse().ok())
            .collect();
        if v.len() < 4 {
            return;
        }
        let modes = [
            "user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal",
        ];
        for (mode, ticks) in modes.iter().zip(&v) {
            out.counter(
                "node_cpu_seconds_total",
                &[("mode", (*mode).to_owned())],
                ticks / TICKS_PER_SECOND,
            );
        }
        // Guest time is already counted in user and nice.
        let total: f64 = v.iter().take(8).sum();
        let idle = v[3] + v.get(4).copied().unwrap_or(0.0);
        let now = CpuTimes {
            busy: total - idle,
            total,
        };
        if let Some(last) = self.last_cpu {
            let dt = now.total - last.total;
            if dt > 0.0 {
                out.gauge(
                    "node_cpu_percent",
                    &[],
                    ((now.busy - last.busy) / dt * 100.0).clamp(0.0, 100.0),
                );
            }
        }
        self.last_cpu = Some(now);
    }
}

fn memory(text: &str, out: &mut Out) {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|rest| rest.split_whitespace().next()?.parse::<f64>().ok())
            .map(|kib| kib * 1024.0)
    };
    for (metric, key) in [
        ("node_memory_total_bytes", "MemTotal"),
        ("node_memory_free_bytes", "MemFree"),
        ("node_memory_available_bytes", "MemAvailable"),
        ("node_memory_cached_bytes", "Cached"),
        ("node_memory_buffers_bytes", "Buffers"),
        ("node_swap_total_bytes", "SwapTotal"),
        ("node_swap_free_bytes", "SwapFree"),
    ] {
        if let Some(v) = field(key) {
            out.gauge(metric, &[], v);
        }
    }
}

fn load(text: &str, out: &mut Out) {
    let mut fields = text.split_whitespace();
    for metric in ["node_load1", "node_load5", "node_load15"] {
        if let Some(v) = fields.next().and_then(|f| f.parse().ok()) {
            out.gauge(metric, &[], v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_proc_folder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let stat = |user: u64, idle: u64| {
            format!("cpu  {user} 0 100 {idle} 0 0 0 0 0 0\ncpu0 1 2 3 4\nintr 5\n")
        };
        std::fs::write(dir.path().join("stat"), stat(100, 800)).expect("w");
        std::fs::write(
            dir.path().join("meminfo"),
            "MemTotal:       16000 kB\nMemFree:  4000 kB\nMemAvailable: 8000 kB\nCached: 2000 kB\n",
        )
        .expect("w");
        std::fs::write(dir.path().join("loadavg"), "0.50 0.25 0.10 1/100 42\n").expect("w");
        let mut reader = HostReader::with_root(dir.path(), vec![PathBuf::from("/")]);
        let mut out = Out::default();
        reader.collect(&mut out);
        let get = |out: &Out, m: &str| {
            out.samples
                .iter()
                .find(|s| s.metric == m)
                .map(|s| s.value)
                .unwrap_or(f64::NAN)
        };
        assert_eq!(get(&out, "node_memory_total_bytes"), 16000.0 * 1024.0);
        assert_eq!(get(&out, "node_load5"), 0.25);
        assert!(get(&out, "node_filesystem_size_bytes") > 0.0);
        assert!(out.samples.iter().all(|s| s.metric != "node_cpu_percent"));
        // 100 more busy ticks and 300 more idle ones: 25 % busy.
        std::fs::write(dir.path().join("stat"), stat(200, 1100)).expect("w");
        let mut out = Out::default();
        reader.collect(&mut out);
        assert!((get(&out, "node_cpu_percent") - 25.0).abs() < 1e-9);
    }
}
