//! Headless Chromium from the distribution, driven through one shared chromedriver.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Where Chromium and chromedriver are, or why the browser tests cannot run.
pub struct Binaries {
    chromium: PathBuf,
    chromedriver: PathBuf,
}

/// The binaries when both are installed (`E2E_CHROMIUM` / `E2E_CHROMEDRIVER` override the paths). When they
/// are missing: outside CI, one line on stderr and `None` (the test passes); under CI (`CI` set), a panic.
pub fn binaries(test: &str) -> Option<Binaries> {
    let chromium = std::env::var_os("E2E_CHROMIUM").map_or_else(|| PathBuf::from(CHROMIUM), PathBuf::from);
    let chromedriver = std::env::var_os("E2E_CHROMEDRIVER").map_or_else(|| PathBuf::from(CHROMEDRIVER), PathBuf::from);
    let missing: Vec<String> = [&chromium, &chromedriver]
        .iter()
        .filter(|p| !p.is_file())
        .map(|p| p.display().to_string())
        .collect();
    if missing.is_empty() {
        return Some(Binaries { chromium, chromedriver });
    }
    let need = format!(
        "browser tests need {} (apt-get install chromium chromium-driver)",
        missing.join(" and ")
    );
    if std::env::var_os("CI").is_some() {
        panic!("{test}: {need}; CI is set, so the end-to-end tests must run");
    }
    let line = format!("{test}: skipped, {need}");
    eprintln!("{line}");
    None
}

/// The shared chromedriver and how many sessions use it: started by the first session, stopped when the
/// last one ends, so that tests running in parallel share one process.
struct Shared {
    child: Option<Child>,
    url: String,
    users: usize,
}

static DRIVER: Mutex<Shared> = Mutex::new(Shared {
    child: None,
    url: String::new(),
    users: 0,
});

fn driver() -> MutexGuard<'static, Shared> {
    DRIVER.lock().unwrap_or_else(|p| p.into_inner())
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free local port");
    listener.local_addr().expect("its address").port()
}

/// Takes a share of chromedriver (starting it when nobody holds one) and returns its URL.
fn acquire(chromedriver: &Path) -> String {
    let mut shared = driver();
    if shared.child.is_none() {
        let port = free_port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromedriver.display()));
        shared.child = Some(child);
        shared.url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen on port {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    shared.users += 1;
    shared.url.clone()
}

fn release() {
    let mut shared = driver();
    shared.users = shared.users.saturating_sub(1);
    if shared.users == 0
        && let Some(mut child) = shared.child.take()
    {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// One browser: a WebDriver session on a fresh Chromium profile.
pub struct Browser {
    /// The WebDriver client.
    pub client: Client,
    _profile: tempfile::TempDir,
    released: bool,
}

impl Browser {
    /// Starts Chromium (headless, fresh profile) through the shared chromedriver.
    pub async fn start(binaries: &Binaries) -> Browser {
        let url = acquire(&binaries.chromedriver);
        let profile = tempfile::tempdir().expect("a profile directory");
        let args = [
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--no-first-run".to_owned(),
            "--window-size=1100,800".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".to_owned(),
            serde_json::json!({ "binary": binaries.chromium, "args": args }),
        );
        let connected = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&url)
            .await;
        match connected {
            Ok(client) => Browser {
                client,
                _profile: profile,
                released: false,
            },
            Err(e) => {
                release();
                panic!("cannot open a Chromium session through {url}: {e}");
            }
        }
    }

    /// Ends the session and gives back the share of chromedriver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        self.released = true;
        release();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // A test that panicked before `close`: chromedriver ends the session when it stops.
        if !self.released {
            release();
        }
    }
}
