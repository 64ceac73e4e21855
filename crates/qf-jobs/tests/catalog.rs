//! The catalog on a real local object store in a temporary directory: what goes in comes
//! back bar for bar, a refused upload leaves nothing, and every object sits where the
//! layout says.

use std::sync::Arc;

use futures_util::TryStreamExt as _;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, PutPayload};
use serde_json::json;
use tempfile::TempDir;

use qf_data::{LoadOptions, SourceInfo, inspect_as, load_bars, write_bars};
use qf_jobs::catalog::{self, CatalogError, IngestOptions};

struct Catalog {
    store: Arc<dyn ObjectStore>,
    files: TempDir,
    _root: TempDir,
}

impl Catalog {
    fn new() -> Self {
        let root = TempDir::new().unwrap();
        Catalog {
            store: Arc::new(LocalFileSystem::new_with_prefix(root.path()).unwrap()),
            files: TempDir::new().unwrap(),
            _root: root,
        }
    }

    /// An upload on disk under a temporary name, as the HTTP layer leaves it.
    fn upload(&self, text: &str) -> std::path::PathBuf {
        let p = self.files.path().join(format!("upload-{}.tmp", text.len()));
        std::fs::write(&p, text).unwrap();
        p
    }

    async fn objects(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .store
            .list(None)
            .map_ok(|m| m.location.to_string())
            .try_collect()
            .await
            .unwrap();
        all.sort();
        all
    }
}

/// Two symbols, one with a slash, interleaved, with 2- and 3-decimal prices.
fn multi_csv() -> String {
    let mut s = String::from("timestamp,symbol,open,high,low,close,volume\n");
    for i in 0..300 {
        let ts = 1_700_000_000 + 60 * i;
        let p = 100.0 + (i as f64 * 0.7).sin() * 5.0;
        s.push_str(&format!(
            "{ts},AAA,{p:.2},{:.2},{:.2},{:.2},{}\n",
            p + 1.0,
            p - 1.0,
            p + 0.5,
            10 + i
        ));
        if i % 3 != 0 {
            let q = 20.0 + (i as f64 * 0.3).cos();
            s.push_str(&format!(
                "{ts},BRK/B,{q:.3},{:.3},{:.3},{:.3},1.5\n",
                q + 0.25,
                q - 0.25,
                q
            ));
        }
    }
    s
}

#[tokio::test]
async fn csv_round_trip_gives_the_bars_load_bars_gives() {
    let c = Catalog::new();
    let text = multi_csv();
    let upload = c.upload(&text);
    let ingested = catalog::ingest(&*c.store, "t1", "d1", &upload, "prices.csv")
        .await
        .unwrap();
    assert_eq!(ingested.symbols, ["AAA", "BRK/B"]);
    assert_eq!(ingested.rows, 500);
    assert!(ingested.bytes > 0);

    // The same file under its own name, as `qf backtest --data prices.csv` reads it.
    let named = c.files.path().join("prices.csv");
    std::fs::write(&named, &text).unwrap();
    let want = load_bars(&named, &LoadOptions::default()).unwrap();
    let mut quality = serde_json::to_value(inspect_as(&named, "prices.csv").unwrap()).unwrap();
    quality["file"] = json!("prices.csv");
    assert_eq!(ingested.quality, quality);

    let (series, data) = catalog::load(&*c.store, "t1", "d1", &ingested.symbols)
        .await
        .unwrap();
    assert_eq!(
        series, want.series,
        "bar for bar, ids and precisions included"
    );
    assert_eq!(series[1].instrument.price_precision, 3);
    assert_eq!(data, json!([SourceInfo::of("prices.csv", &want)]));

    assert_eq!(
        c.objects().await,
        [
            "tenants/t1/datasets/d1/dataset.json",
            "tenants/t1/datasets/d1/symbol=AAA/bars.parquet",
            "tenants/t1/datasets/d1/symbol=BRK%2FB/bars.parquet",
        ]
    );
}

#[tokio::test]
async fn symbols_load_alone_or_in_any_order_numbered_from_zero() {
    let c = Catalog::new();
    let upload = c.upload(&multi_csv());
    catalog::ingest(&*c.store, "t1", "d1", &upload, "prices.csv")
        .await
        .unwrap();
    let (one, data) = catalog::load(&*c.store, "t1", "d1", &["BRK/B".to_string()])
        .await
        .unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].instrument.symbol, "BRK/B");
    assert_eq!(one[0].instrument.id.0, 0);
    assert_eq!(data[0]["symbols"], json!(["BRK/B"]));
    assert_eq!(data[0]["rows"], json!(one[0].bars.len()));

    let (two, _) = catalog::load(&*c.store, "t1", "d1", &["BRK/B".into(), "AAA".into()])
        .await
        .unwrap();
    assert_eq!((two[0].instrument.id.0, two[1].instrument.id.0), (0, 1));
    assert_eq!(two[1].instrument.symbol, "AAA");

    let e = catalog::load(&*c.store, "t1", "d1", &["ZZZ".into()])
        .await
        .unwrap_err();
    assert!(matches!(e, CatalogError::NotFound(_)), "{e}");
    // Another tenant's id finds nothing.
    let e = catalog::load(&*c.store, "t2", "d1", &["AAA".into()])
        .await
        .unwrap_err();
    assert!(matches!(e, CatalogError::NotFound(_)), "{e}");
    let e = catalog::load(&*c.store, "t1", "../t2", &["AAA".into()])
        .await
        .unwrap_err();
    assert!(matches!(e, CatalogError::Invalid(_)), "{e}");
}

#[tokio::test]
async fn parquet_uploads_and_options_are_honoured() {
    let c = Catalog::new();
    let bars = qf_data::sample_bars("SPY", 2_000, 5);
    let file = c.files.path().join("in.parquet");
    write_bars(&file, std::slice::from_ref(&bars)).unwrap();
    let ingested = catalog::ingest(&*c.store, "t1", "pq", &file, "spy.parquet")
        .await
        .unwrap();
    assert_eq!(ingested.format, qf_data::FileFormat::Parquet);
    let (series, data) = catalog::load(&*c.store, "t1", "pq", &ingested.symbols)
        .await
        .unwrap();
    assert_eq!(series, vec![bars]);
    assert_eq!(data[0]["format"], "parquet");

    // No symbol column: the symbol is the uploaded name's stem; out-of-order rows are
    // sorted when asked; the size precision is kept for the instruments.
    let upload = c.upload("timestamp,open,high,low,close,volume\n5,10,11,9,10,1\n2,10,11,9,10,1\n");
    let e = catalog::ingest(&*c.store, "t1", "u", &upload, "MSFT.csv")
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("MSFT.csv line 3") && e.to_string().contains("--sort"),
        "{e}"
    );
    let opts = IngestOptions {
        sort: true,
        size_precision: 2,
        ..IngestOptions::default()
    };
    let ok = catalog::ingest_with(&*c.store, "t1", "u", &upload, "MSFT.csv", &opts)
        .await
        .unwrap();
    assert_eq!(ok.symbols, ["MSFT"]);
    let (series, data) = catalog::load(&*c.store, "t1", "u", &ok.symbols)
        .await
        .unwrap();
    assert_eq!(series[0].instrument.size_precision, 2);
    assert_eq!(data[0]["reordered_rows"], 1);
}

#[tokio::test]
async fn a_refused_upload_leaves_nothing_and_says_where() {
    let c = Catalog::new();
    let upload =
        c.upload("timestamp,open,high,low,close,volume\n1,10,11,9,10,5\n2,10,11,9,abc,5\n");
    let e = catalog::ingest(&*c.store, "t1", "bad", &upload, "bars.csv")
        .await
        .unwrap_err();
    assert!(matches!(e, CatalogError::Rejected(_)), "{e}");
    assert_eq!(
        e.to_string(),
        "bars.csv line 3, column close: expected a number, found \"abc\""
    );
    assert!(!e.to_string().contains("upload-"), "no host path in {e}");
    let e = catalog::ingest(&*c.store, "t1", "bad", &c.upload(""), "bars.csv")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("empty"), "{e}");
    assert_eq!(c.objects().await, Vec::<String>::new());
}

#[tokio::test]
async fn a_store_failing_half_way_through_is_cleaned_up() {
    let c = Catalog::new();
    // A directory where the manifest must go: its put fails after both symbols' objects
    // were written.
    let blocker = Path::from("tenants/t1/datasets/d1/dataset.json/x");
    c.store
        .put(&blocker, PutPayload::from_static(b"x"))
        .await
        .unwrap();
    let upload = c.upload(&multi_csv());
    let e = catalog::ingest(&*c.store, "t1", "d1", &upload, "prices.csv")
        .await
        .unwrap_err();
    assert!(matches!(e, CatalogError::Store(_)), "{e}");
    assert_eq!(
        c.objects().await,
        [blocker.to_string()],
        "the symbols' objects are gone again"
    );
}

#[tokio::test]
async fn deleting_a_dataset_removes_every_object_and_only_its_own() {
    let c = Catalog::new();
    let upload = c.upload(&multi_csv());
    catalog::ingest(&*c.store, "t1", "d1", &upload, "a.csv")
        .await
        .unwrap();
    catalog::ingest(&*c.store, "t1", "d2", &upload, "a.csv")
        .await
        .unwrap();
    catalog::delete_dataset(&*c.store, "t1", "d1")
        .await
        .unwrap();
    let left = c.objects().await;
    assert_eq!(left.len(), 3);
    assert!(
        left.iter()
            .all(|p| p.starts_with("tenants/t1/datasets/d2/")),
        "{left:?}"
    );
    catalog::delete_dataset(&*c.store, "t1", "d1")
        .await
        .unwrap();
    let e = catalog::load(&*c.store, "t1", "d1", &["AAA".into()])
        .await
        .unwrap_err();
    assert!(matches!(e, CatalogError::NotFound(_)), "{e}");
}

#[tokio::test]
async fn artifacts_round_trip_per_run() {
    let c = Catalog::new();
    catalog::put_artifacts(
        &*c.store,
        "t1",
        "r1",
        vec![
            ("result.json", b"{}".to_vec()),
            ("trades.csv", b"symbol\n".to_vec()),
        ],
    )
    .await
    .unwrap();
    catalog::put_artifact(&*c.store, "t1", "r1", "result.json", b"{\"a\":1}".to_vec())
        .await
        .unwrap();
    let got = catalog::get_artifact(&*c.store, "t1", "r1", "result.json")
        .await
        .unwrap();
    assert_eq!(got.as_deref(), Some(&b"{\"a\":1}"[..]));
    assert_eq!(
        catalog::get_artifact(&*c.store, "t1", "r1", "report.html")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        catalog::get_artifact(&*c.store, "t2", "r1", "trades.csv")
            .await
            .unwrap(),
        None
    );
    let e = catalog::get_artifact(&*c.store, "t1", "r1", "../d1")
        .await
        .unwrap_err();
    assert!(matches!(e, CatalogError::Invalid(_)), "{e}");
    assert_eq!(
        c.objects().await,
        [
            "tenants/t1/runs/r1/result.json",
            "tenants/t1/runs/r1/trades.csv"
        ]
    );
    catalog::ping(&*c.store).await.unwrap();
}
