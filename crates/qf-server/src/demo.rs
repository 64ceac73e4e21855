//! `qf serve --demo`: a demo tenant with an owner, sample data and a sample strategy, and
//! an API key with a ready-to-paste `curl` line. Run again on the same data directory, it
//! reuses the tenant, data and strategy and prints a fresh key.

use anyhow::Context as _;

use qf_jobs::catalog;
use qf_store::{DatasetId, NewDataset, Page, Role};

use crate::admin;
use crate::app::AppState;
use crate::auth::Scope;
use crate::routes::tenant::issue_key;

/// The demo owner's sign-in.
pub const EMAIL: &str = "demo@quantforge.dev";
/// The demo owner's password (it is a demo).
pub const PASSWORD: &str = "quantforge-demo";
/// The sample strategy's code.
const STRATEGY: &str = include_str!("../../../examples/python/sma_cross.py");

/// What the demo made, for the start-up banner.
#[derive(Debug)]
pub struct Demo {
    pub tenant_id: String,
    pub api_key: String,
    pub dataset_id: String,
    pub strategy_id: String,
}

/// Creates (or finds) the demo tenant and issues a key.
pub async fn setup(app: &AppState) -> anyhow::Result<Demo> {
    let store = &app.store;
    let tenant = match store.user_by_email(EMAIL).await? {
        Some((user, _)) => store
            .memberships_of(&user.id)
            .await?
            .into_iter()
            .next()
            .map(|m| m.tenant_id)
            .context("the demo user belongs to no tenant")?,
        None => {
            let t = store.create_tenant("Demo").await?;
            let user = admin::create_user(store, EMAIL, "Demo Owner", PASSWORD).await?;
            store.add_member(&t.id, &user, Role::Owner).await?;
            t.id
        }
    };
    let first = Page {
        limit: 1,
        after: None,
        desc: true,
    };
    let dataset = match store
        .datasets(&tenant, Some("demo-bars"), &first)
        .await?
        .items
        .pop()
    {
        Some(d) => d.id,
        None => {
            let dir = app.config.data_dir.join("tmp");
            std::fs::create_dir_all(&dir)?;
            let path = dir.join(format!("demo-{}.csv", uuid::Uuid::now_v7().simple()));
            let bars = qf_data::sample_bars("DEMO", 200_000, 7);
            qf_data::write_bars(&path, std::slice::from_ref(&bars))?;
            let id = DatasetId::new();
            let bytes = std::fs::metadata(&path)?.len();
            let ingested = catalog::ingest(
                &app.objects,
                tenant.as_str(),
                id.as_str(),
                &path,
                "demo-bars.csv",
            )
            .await;
            let _ = std::fs::remove_file(&path);
            let ingested = ingested.map_err(|e| anyhow::anyhow!("demo data: {e}"))?;
            store
                .create_dataset(
                    &tenant,
                    &NewDataset {
                        id: id.clone(),
                        name: "demo-bars".into(),
                        format: "csv".into(),
                        rows: i64::try_from(ingested.rows).unwrap_or(i64::MAX),
                        bytes: i64::try_from(bytes).unwrap_or(i64::MAX),
                        symbols: ingested.symbols,
                        quality: ingested.quality,
                    },
                )
                .await?;
            id
        }
    };
    let strategy = match store
        .strategies(
            &tenant,
            Some("python"),
            &Page {
                limit: 200,
                after: None,
                desc: false,
            },
        )
        .await?
        .items
        .into_iter()
        .find(|s| s.strategy.name == "sma_cross")
    {
        Some(s) => s.strategy.id,
        None => {
            let (_, info) = qf_jobs::execute::compile_strategy("python", "sma_cross", STRATEGY)
                .map_err(|p| anyhow::anyhow!("demo strategy: {}", p.to_json()))?;
            let sha = crate::auth::sha256_hex(STRATEGY.as_bytes());
            store
                .create_strategy(&tenant, "sma_cross", "python", STRATEGY, &sha, info.params)
                .await?
                .0
                .id
        }
    };
    let scopes = Scope::names(Scope::of_role(Role::Owner));
    let (_, key) = issue_key(store, &tenant, "demo key", Role::Owner, &scopes, None, None)
        .await
        .map_err(|p| anyhow::anyhow!("demo key: {}", p))?;
    Ok(Demo {
        tenant_id: tenant.to_string(),
        api_key: key,
        dataset_id: dataset.to_string(),
        strategy_id: strategy.to_string(),
    })
}

impl Demo {
    /// The start-up banner: the key, the sign-in and curl lines to paste.
    pub fn banner(&self, addr: std::net::SocketAddr) -> String {
        let base = format!("http://{addr}");
        format!(
            "Quantforge demo is running at {base}  (API docs: {base}/v1/docs)\n\
             \n  tenant   {t}\n  API key  {k}   (shown once; owner role)\n  sign in  {EMAIL} / {PASSWORD}\n\
             \nRun a backtest of the sample Python strategy on the sample data:\n\n\
             curl -s -X POST {base}/v1/backtests -H 'Authorization: Bearer {k}' -H 'Content-Type: application/json' \
             -d '{{\"dataset_id\":\"{d}\",\"strategy_id\":\"{s}\",\"params\":{{\"fast\":10,\"slow\":30}},\"cash\":\"100000\",\"size\":\"10\"}}'\n\
             \nthen fetch it (use the id from the answer):\n\n\
             curl -s {base}/v1/backtests/ID -H 'Authorization: Bearer {k}'\n",
            t = self.tenant_id,
            k = self.api_key,
            d = self.dataset_id,
            s = self.strategy_id,
        )
    }
}
