//! Child processes of a run (our server, the bare actix handler): start, learn the port, peak memory, stop.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// A child process that prints `... listening on http://ADDR` when ready; killed when dropped.
pub struct Process {
    child: Child,
    /// The address it bound.
    pub addr: SocketAddr,
}

impl Process {
    /// Starts `command` and waits (at most 30 s) for its `listening on http://` line.
    pub fn start(name: &str, mut command: Command) -> Result<Process> {
        command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(Stdio::null());
        let mut child = command.spawn().with_context(|| format!("start {name}"))?;
        let stdout = child.stdout.take().context("no stdout")?;
        let stderr = child.stderr.take().context("no stderr")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let _ = tx.send(rest.trim().to_owned());
                }
            }
        });
        // The server logs each request at info level on stderr; drained so that it never blocks.
        let stderr_lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let keep = stderr_lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(mut v) = keep.lock()
                    && v.len() < 20
                {
                    v.push(line);
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(addr) => Ok(Process {
                addr: addr
                    .parse()
                    .with_context(|| format!("{name} printed a bad address {addr:?}"))?,
                child,
            }),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                let seen = stderr_lines.lock().map(|v| v.join("\n")).unwrap_or_default();
                bail!("{name} did not say where it listens within 30 s; stderr:\n{seen}")
            }
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Peak resident set size so far, in KiB (`VmHWM`).
    pub fn peak_rss_kib(&self) -> Option<u64> {
        peak_rss_kib(self.pid())
    }

    /// CPU time used so far (user + system), in seconds.
    pub fn cpu_seconds(&self) -> Option<f64> {
        cpu_seconds(self.pid())
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `VmHWM` of a process, in KiB.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// User + system CPU seconds of a process (`/proc/PID/stat` fields 14 and 15, at 100 ticks/s).
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; fields are counted after its closing parenthesis.
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// The release binary of the server, built if needed (`cargo build --release -p actix-pay-server`).
pub fn server_binary(workspace: &Path) -> Result<std::path::PathBuf> {
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "build",
            "--release",
            "-p",
            "actix-pay-server",
            "--bin",
            "librement-server",
        ])
        .current_dir(workspace)
        .status()
        .context("run cargo build")?;
    if !status.success() {
        bail!("cargo build --release -p actix-pay-server failed");
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| workspace.join("target"));
    let bin = target.join("release").join("librement-server");
    if !bin.exists() {
        bail!("{} not found after the build", bin.display());
    }
    Ok(bin)
}
