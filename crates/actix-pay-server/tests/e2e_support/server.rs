//! The real `librement-server` binary, started on port 0 in a fresh working directory (fresh SQLite).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

/// A running server; killed when dropped.
pub struct Server {
    child: Child,
    dir: tempfile::TempDir,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

/// One row of `gateway_messages`.
#[derive(Debug, QueryableByName)]
pub struct LogRow {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub gateway: String,
    #[diesel(sql_type = Text)]
    pub fields: String,
    #[diesel(sql_type = Text)]
    pub verification: String,
    #[diesel(sql_type = Text)]
    pub flags: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub payment_id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub outcome: Option<String>,
    /// `incoming` (a gateway's message) or `answer` (its answer to a call we made).
    #[diesel(sql_type = Text)]
    pub direction: String,
}

/// One row of `payments`.
#[derive(Debug, QueryableByName)]
pub struct PaymentRow {
    #[diesel(sql_type = Text)]
    pub id: String,
    #[diesel(sql_type = Text)]
    pub state: String,
    #[diesel(sql_type = Text)]
    pub gateway: String,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pub option_index: i32,
    #[diesel(sql_type = BigInt)]
    pub amount_minor: i64,
    #[diesel(sql_type = Nullable<Text>)]
    pub subscription_id: Option<String>,
}

impl Server {
    /// Starts the binary with no configuration at all (every gateway simulated, demo on).
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// Starts the binary with no configuration file and these extra environment variables (`PAY_*`).
    pub fn start_with(env: &[(&str, &str)]) -> Server {
        Server::start_configured(None, env)
    }

    /// Starts the binary with `config` as its configuration file (`--config`), when given, and these extra
    /// environment variables. A file is how `[[webhooks]]` are configured.
    pub fn start_configured(config: Option<&str>, env: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().expect("a working directory");
        let log = std::fs::File::create(dir.path().join("server.log")).expect("a log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_librement-server"));
        if let Some(config) = config {
            std::fs::write(dir.path().join("pay.toml"), config).expect("write the configuration file");
            command.args(["--config", "pay.toml"]);
        }
        let mut child = command
            .current_dir(dir.path())
            .env("PAY_SERVER_BIND", "127.0.0.1:0")
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("the librement-server binary starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        // Reads the start-up lines, then keeps draining so that the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("librement-server listening on ") {
                    let _ = tx.send(addr.trim().to_owned());
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(base) => Server { child, dir, base },
            Err(_) => {
                let _ = child.kill();
                let status = child.wait();
                panic!("librement-server did not print its address within 60 s ({status:?})");
            }
        }
    }

    /// Adds an operator of the console with `librement-server operator add`, on this server's database,
    /// as an operator would (the password on standard input).
    pub fn add_operator(&self, email: &str, role: &str, password: &str) {
        use std::io::Write;
        let mut child = Command::new(env!("CARGO_BIN_EXE_librement-server"))
            .current_dir(self.dir.path())
            .args(["operator", "add", email, "--role", role])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("librement-server operator add starts");
        writeln!(child.stdin.take().expect("piped stdin"), "{password}").expect("the password is written");
        let out = child.wait_with_output().expect("operator add ends");
        assert!(
            out.status.success(),
            "operator add: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// An absolute URL on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// What the server wrote on stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    fn database(&self) -> PathBuf {
        self.dir.path().join("data").join("librement.sqlite3")
    }

    fn connect(&self) -> SqliteConnection {
        let mut conn = SqliteConnection::establish(&self.database().display().to_string())
            .expect("the server's SQLite database opens");
        diesel::sql_query("PRAGMA busy_timeout = 5000")
            .execute(&mut conn)
            .expect("busy timeout set");
        conn
    }

    /// The gateway log rows, oldest first.
    pub fn log_rows(&self) -> Vec<LogRow> {
        diesel::sql_query(
            "SELECT id, gateway, fields, verification, flags, payment_id, outcome, direction FROM gateway_messages \
             ORDER BY id",
        )
        .load(&mut self.connect())
        .expect("gateway_messages reads")
    }

    /// Every payment, oldest first.
    pub fn payments(&self) -> Vec<PaymentRow> {
        diesel::sql_query(
            "SELECT id, state, gateway, option_index, amount_minor, subscription_id FROM payments ORDER BY created_at, id",
        )
        .load(&mut self.connect())
        .expect("payments read")
    }
}

/// A sum read from the database.
#[derive(Debug, QueryableByName)]
struct Sum {
    #[diesel(sql_type = BigInt)]
    total: i64,
}

impl Server {
    /// The Librement ledger balance of `account` (`user:1`, `seller:...`, `guest`, `clearing:cmcic`) in
    /// euro cents: the sum of its entries.
    pub fn ledger_balance(&self, account: &str) -> i64 {
        let rows: Vec<Sum> = diesel::sql_query(
            "SELECT CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) AS total FROM librement_entries \
             WHERE account = ? AND currency = 'EUR'",
        )
        .bind::<Text, _>(account)
        .load(&mut self.connect())
        .expect("librement_entries reads");
        rows.first().map_or(0, |r| r.total)
    }

    /// The Librement user id of `email`.
    pub fn librement_user(&self, email: &str) -> Option<i64> {
        #[derive(QueryableByName)]
        struct Id {
            #[diesel(sql_type = BigInt)]
            id: i64,
        }
        let rows: Vec<Id> = diesel::sql_query("SELECT id FROM librement_users WHERE email = ?")
            .bind::<Text, _>(email)
            .load(&mut self.connect())
            .expect("librement_users reads");
        rows.first().map(|r| r.id)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
