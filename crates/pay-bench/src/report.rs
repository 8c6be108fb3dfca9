//! The Markdown report: the machine, the command, and one table per measure. Written to disk after every
//! section so that an interrupted run still leaves what it measured.

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::load::Stats;

/// The report being written.
pub struct Report {
    path: PathBuf,
    text: String,
}

impl Report {
    /// A report at `path`, starting with the machine and the command.
    pub fn new(path: PathBuf, command: &str) -> Report {
        let mut text = String::new();
        let _ = writeln!(text, "# librement-pay benchmarks\n");
        let _ = writeln!(text, "Run {} UTC.\n", chrono::Utc::now().format("%Y-%m-%d %H:%M"));
        let _ = writeln!(text, "## Machine\n");
        let _ = writeln!(text, "- CPUs (nproc): {}", nproc());
        let _ = writeln!(text, "- CPU model: {}", cpu_model());
        let _ = writeln!(text, "- Memory: {}", mem_total());
        let _ = writeln!(text, "- Kernel: {}", first_line("/proc/sys/kernel/osrelease"));
        let _ = writeln!(text, "- Load average at start: {}", first_line("/proc/loadavg"));
        let _ = writeln!(text, "- Git commit: {}", git_rev());
        let _ = writeln!(
            text,
            "- Command: `cargo run -p pay-bench --release -- {command}` (server: release build of \
             `librement-server`; load generator: `pay-bench`, in the same machine; everything on 127.0.0.1)\n"
        );
        Report { path, text }
    }

    /// Appends Markdown and saves.
    pub fn push(&mut self, markdown: &str) {
        self.text.push_str(markdown);
        if !markdown.ends_with('\n') {
            self.text.push('\n');
        }
        self.save();
    }

    /// Writes the report to its file.
    pub fn save(&self) {
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Err(e) = std::fs::write(&self.path, &self.text) {
            eprintln!("cannot write {}: {e}", self.path.display());
        }
    }

    /// Where it is written.
    pub fn path(&self) -> &PathBuf {
        &self.path
    }
}

fn first_line(path: &str) -> String {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.lines().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

fn nproc() -> String {
    std::thread::available_parallelism()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "?".into())
}

fn mem_total() -> String {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .map(|kib| format!("{:.1} GiB", kib as f64 / 1024.0 / 1024.0))
        .unwrap_or_else(|| "?".into())
}

fn git_rev() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "?".into())
}

/// `req/s | p50 | p90 | p99 | errors` cells of a load.
pub fn load_cells(s: &Stats) -> String {
    format!(
        "{:.0} | {:.2} | {:.2} | {:.2} | {}",
        s.rps(),
        s.quantile_ms(0.50),
        s.quantile_ms(0.90),
        s.quantile_ms(0.99),
        s.errors + s.unsent
    )
}

/// KiB as MiB with one decimal, or `?`.
pub fn mib(kib: Option<u64>) -> String {
    kib.map(|k| format!("{:.1}", k as f64 / 1024.0))
        .unwrap_or_else(|| "?".into())
}

/// A ratio `a / b` with `×`, or `n/a`.
pub fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 && a.is_finite() {
        let r = a / b;
        // Latency ratios are often well below 1: keep two significant decimals there.
        if r < 1.0 {
            format!("{r:.2}×")
        } else {
            format!("{r:.1}×")
        }
    } else {
        "n/a".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_guard_against_a_zero_denominator() {
        assert_eq!(ratio(300.0, 3.0), "100.0×");
        assert_eq!(ratio(1.0, 0.0), "n/a");
        assert_eq!(ratio(5.27, 38.65), "0.14×");
    }

    #[test]
    fn memory_is_shown_in_mebibytes() {
        assert_eq!(mib(Some(51_200)), "50.0");
        assert_eq!(mib(None), "?");
    }
}
