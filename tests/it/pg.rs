//! A throwaway PostgreSQL database per test.
//!
//! The server: `LOKET_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`).
//! When it is unreachable the test fails and says how to start it; scripts/test.sh starts an
//! installed but stopped server.

use sqlx::Executor;

pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A fresh database `loket_test_<uuid>`, dropped `WITH (FORCE)` when this value is dropped
/// (also when the test panics), so sessions still open do not keep it alive.
pub struct TempPg {
    /// The URL of the new database.
    pub url: String,
    pub name: String,
    admin_url: String,
}

pub async fn temp_postgres() -> TempPg {
    let admin_url =
        std::env::var("LOKET_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.into());
    sqlx::any::install_default_drivers();
    let admin = match sqlx::AnyPool::connect(&admin_url).await {
        Ok(p) => p,
        Err(e) => panic!(
            "PostgreSQL is not reachable at {admin_url} ({e}); install and start it \
             (scripts/test.sh starts an installed one) or set LOKET_TEST_POSTGRES_URL"
        ),
    };
    let name = format!("loket_test_{}", uuid::Uuid::new_v4().simple());
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE {name} on {admin_url}: {e}"));
    admin.close().await;
    let url = match admin_url.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => panic!("LOKET_TEST_POSTGRES_URL {admin_url:?} has no database part"),
    };
    TempPg {
        url,
        name,
        admin_url,
    }
}

impl Drop for TempPg {
    fn drop(&mut self) {
        // Drop runs inside a tokio runtime (or during a panic): do the async work on a
        // thread of its own with a runtime of its own.
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let result = async {
                    let admin = sqlx::AnyPool::connect(&admin_url).await?;
                    admin
                        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                        .await?;
                    admin.close().await;
                    Ok::<_, sqlx::Error>(())
                }
                .await;
                if let Err(e) = result {
                    eprintln!("could not drop the test database {name}: {e}");
                }
            })
        });
        let _ = done.join();
    }
}
