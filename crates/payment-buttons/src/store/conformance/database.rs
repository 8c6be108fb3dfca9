//! Throw-away databases for tests, and [`DieselStore`] under the conformance scenarios.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use diesel::{Connection, PgConnection, RunQueryDsl};

use super::{LogView, StoreUnderTest};
use crate::diesel::{DatabaseUrl, DieselStore, StoreOptions};
use crate::store::MessageId;

/// The variable naming a PostgreSQL server for tests (`postgres://user@host/db`): each test database is
/// created on it and dropped afterwards. Unset: PostgreSQL is not tested.
pub const TEST_DATABASE_URL: &str = "TEST_DATABASE_URL";

/// A database made for one test and removed when dropped: a SQLite file in a new temporary directory, or
/// a PostgreSQL database created on the server [`TEST_DATABASE_URL`] names.
#[derive(Debug)]
pub struct TestDatabase {
    url: String,
    backend: &'static str,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    SqliteDir(PathBuf),
    Postgres { admin_url: String, name: String },
}

fn unique_name() -> String {
    use rand::Rng;
    format!("pb_test_{:016x}", rand::rng().random::<u64>())
}

impl TestDatabase {
    /// A SQLite file that does not exist yet, in a directory that does not exist yet (opening a store
    /// creates both).
    pub fn sqlite() -> Self {
        let dir = std::env::temp_dir().join(unique_name());
        TestDatabase {
            url: format!("sqlite://{}/data/pay.sqlite3", dir.display()),
            backend: "sqlite",
            cleanup: Cleanup::SqliteDir(dir),
        }
    }

    /// A new, empty PostgreSQL database, or `None` when [`TEST_DATABASE_URL`] is not set.
    ///
    /// # Panics
    /// When the variable is set but the server cannot be reached or refuses to create a database: a test
    /// configured for PostgreSQL must not pass without it.
    pub fn postgres() -> Option<Self> {
        let admin_url = std::env::var(TEST_DATABASE_URL).ok().filter(|u| !u.is_empty())?;
        let name = unique_name();
        let mut admin = PgConnection::establish(&admin_url).expect("connect to TEST_DATABASE_URL");
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .expect("create a test database");
        let mut url = url::Url::parse(&admin_url).expect("TEST_DATABASE_URL is a URL");
        url.set_path(&name);
        Some(TestDatabase {
            url: url.to_string(),
            backend: "postgresql",
            cleanup: Cleanup::Postgres { admin_url, name },
        })
    }

    /// A SQLite database, and a PostgreSQL one when [`TEST_DATABASE_URL`] is set (saying so when it is
    /// not): one of each backend to run a scenario on.
    pub fn every_backend() -> Vec<Self> {
        let mut all = vec![Self::sqlite()];
        match Self::postgres() {
            Some(pg) => all.push(pg),
            None => eprintln!("{TEST_DATABASE_URL} is not set: PostgreSQL not tested"),
        }
        all
    }

    /// Its URL, for [`DieselStore::open`].
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `sqlite` or `postgresql`, for assertion messages.
    pub fn backend(&self) -> &'static str {
        self.backend
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::SqliteDir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Postgres { admin_url, name } => {
                if let Ok(mut conn) = PgConnection::establish(admin_url) {
                    // FORCE ends the stores' pooled connections, which may still be open.
                    let _ =
                        diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut conn);
                }
            }
        }
    }
}

/// A store opened on a [`TestDatabase`] of its own, for tests that run one scenario on each backend
/// ([`on_every_backend`]). The database goes with the value.
pub struct OnDatabase<S> {
    /// The store, migrated.
    pub store: S,
    /// Its URL.
    pub url: String,
    /// `sqlite` or `postgresql`, for assertion messages.
    pub backend: &'static str,
    database: TestDatabase,
}

impl<S> OnDatabase<S> {
    /// The database under the store.
    pub fn database(&self) -> &TestDatabase {
        &self.database
    }
}

impl<S> Drop for OnDatabase<S> {
    // Empty, but it makes a scenario's `async move` block capture the value whole, database included,
    // instead of only the fields it reads (which would drop the database at once).
    fn drop(&mut self) {}
}

/// Runs `scenario` on a store `open`ed on a fresh SQLite database, then on a fresh PostgreSQL one when
/// [`TEST_DATABASE_URL`] is set (saying so when it is not).
pub async fn on_every_backend<S, O, OpenFut, F, Fut>(open: O, scenario: F)
where
    O: Fn(String) -> OpenFut,
    OpenFut: std::future::Future<Output = S>,
    F: Fn(OnDatabase<S>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let with_store = |database: TestDatabase| {
        let url = database.url().to_owned();
        let store = open(url.clone());
        async move {
            OnDatabase {
                store: store.await,
                url,
                backend: database.backend(),
                database,
            }
        }
    };
    for database in TestDatabase::every_backend() {
        scenario(with_store(database).await).await;
    }
}

/// Which database a [`DieselSubject`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// [`DieselStore`] under test, each scenario on a database of its own, opened with the given options
/// (an application's migrations and hook).
pub struct DieselSubject {
    backend: Backend,
    options: StoreOptions,
    databases: Mutex<Vec<TestDatabase>>,
}

impl std::fmt::Debug for DieselSubject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DieselSubject")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl DieselSubject {
    /// On SQLite files.
    pub fn sqlite(options: StoreOptions) -> Self {
        Self::new(Backend::Sqlite, options)
    }

    /// On PostgreSQL, when [`TEST_DATABASE_URL`] is set (otherwise not available: the scenarios say so
    /// and pass).
    pub fn postgres(options: StoreOptions) -> Self {
        Self::new(Backend::Postgres, options)
    }

    fn new(backend: Backend, options: StoreOptions) -> Self {
        DieselSubject {
            backend,
            options,
            databases: Mutex::new(Vec::new()),
        }
    }

    async fn open(&self, url: DatabaseUrl) -> Arc<DieselStore> {
        let options = self.options.clone();
        let store = tokio::task::spawn_blocking(move || options.open_blocking(&url))
            .await
            .expect("the opening task")
            .expect("open the store");
        Arc::new(store)
    }
}

#[async_trait::async_trait]
impl StoreUnderTest for DieselSubject {
    type Store = DieselStore;

    fn available(&self) -> bool {
        self.backend == Backend::Sqlite || std::env::var(TEST_DATABASE_URL).is_ok_and(|u| !u.is_empty())
    }

    async fn empty(&self) -> Arc<DieselStore> {
        let db = match self.backend {
            Backend::Sqlite => TestDatabase::sqlite(),
            Backend::Postgres => TestDatabase::postgres().expect("TEST_DATABASE_URL is set"),
        };
        let url = DatabaseUrl::parse(db.url()).expect("a valid test URL");
        // Dropped with the subject, at the end of the scenario.
        self.databases.lock().expect("not poisoned").push(db);
        self.open(url).await
    }

    async fn restart(&self, store: Arc<DieselStore>) -> Arc<DieselStore> {
        let url = store.url().clone();
        drop(store);
        self.open(url).await
    }

    async fn another_instance(&self, store: &Arc<DieselStore>) -> Arc<DieselStore> {
        self.open(store.url().clone()).await
    }

    async fn log_row(&self, store: &DieselStore, id: MessageId) -> Option<LogView> {
        let row = store.message(id).await.expect("read the log")?;
        Some(LogView {
            body: row.body,
            verification: row.verification,
            flags: row.flags,
            payment_id: row.payment_id,
            outcome: row.outcome,
        })
    }
}
