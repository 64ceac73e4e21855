//! The catalog on the object store: tenants' market data as Parquet, one object per
//! symbol, and the files each run produced.
//!
//! ```text
//! tenants/{tenant}/datasets/{dataset}/dataset.json                 where the bars came from
//! tenants/{tenant}/datasets/{dataset}/symbol={SYMBOL}/bars.parquet one symbol's bars
//! tenants/{tenant}/runs/{run}/{result.json,trades.parquet,equity.parquet,report.html,log.txt,sweep.csv}
//! ```
//!
//! Runs stored before the trades and equity tables were kept as Parquet have
//! `trades.csv` and `equity.csv` instead; they are still served.
//!
//! `{SYMBOL}` is percent-encoded: every byte but ASCII letters, digits, `.`, `_` and `-`
//! (`BRK/B` is `BRK%2FB`). Tenant, dataset and run ids must be plain tokens (letters,
//! digits, `_`, `-`), so no id can reach outside its own prefix.
//!
//! Uploads are checked exactly as `qf data inspect` and `qf backtest` check a file; an
//! upload that does not load is refused with the loader's message (file, line, column) and
//! leaves nothing behind. Decoding and encoding run on tokio's blocking threads.

use std::path::Path as FsPath;

use bytes::Bytes;
use futures_util::TryStreamExt as _;
use futures_util::future::try_join_all;
use object_store::path::{Path, PathPart};
use object_store::{ObjectStore, PutPayload};
use serde::Serialize;
use serde_json::{Value, json};

use qf_core::{BarSeries, InstrumentId};
use qf_data::{FileFormat, LoadOptions, SourceInfo};

/// What can go wrong in the catalog.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The upload is not usable bars; the message says where and why
    /// (`bars.csv line 17, column close: expected a number, found "abc"`).
    #[error("{0}")]
    Rejected(String),
    /// The dataset or object is not in the store.
    #[error("{0}")]
    NotFound(String),
    /// An id, name or option the catalog cannot use.
    #[error("{0}")]
    Invalid(String),
    /// Stored data that does not read back as what the catalog wrote.
    #[error("damaged catalog data: {0}")]
    Corrupt(String),
    /// The object store failed.
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
    /// A blocking task died.
    #[error("{0}")]
    Internal(String),
}

/// How an upload is read: the repairs `qf backtest --sort / --dedupe` make, and precisions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestOptions {
    /// Sort rows by time instead of refusing rows out of order.
    pub sort: bool,
    /// Keep the last of rows with the same symbol and time instead of refusing them.
    pub dedupe: bool,
    /// Round prices to this many decimals instead of inferring each symbol's precision.
    pub price_precision: Option<u8>,
    /// Decimal places of quantities traded in these instruments (default 0).
    pub size_precision: u8,
}

/// What an accepted upload became.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ingested {
    /// The upload's format.
    pub format: FileFormat,
    /// Data rows in the upload.
    pub rows: usize,
    /// Bytes of Parquet stored.
    pub bytes: u64,
    /// Its symbols, in order of first appearance: the order [`load`] numbers them in.
    pub symbols: Vec<String>,
    /// The quality report of `qf data inspect --json`.
    pub quality: Value,
}

/// The manifest's name in a dataset's prefix.
const MANIFEST: &str = "dataset.json";
/// One symbol's object in its partition.
const BARS: &str = "bars.parquet";

/// An id as one path segment: letters, digits, `_` and `-` only.
fn id_part<'a>(what: &str, id: &'a str) -> Result<PathPart<'a>, CatalogError> {
    let plain = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !plain {
        return Err(CatalogError::Invalid(format!(
            "{what} id {id:?} is not a plain token (letters, digits, _ and -)"
        )));
    }
    Ok(PathPart::from(id))
}

fn tenant_prefix(tenant: &str) -> Result<Path, CatalogError> {
    Ok(Path::from("tenants").child(id_part("tenant", tenant)?))
}

fn dataset_prefix(tenant: &str, dataset: &str) -> Result<Path, CatalogError> {
    Ok(tenant_prefix(tenant)?
        .child("datasets")
        .child(id_part("dataset", dataset)?))
}

fn run_prefix(tenant: &str, run: &str) -> Result<Path, CatalogError> {
    Ok(tenant_prefix(tenant)?
        .child("runs")
        .child(id_part("run", run)?))
}

/// `symbol=…` with the symbol percent-encoded. Our own allow-list encoder rather than
/// `object_store`'s, which leaves characters such as `=`, `:` and spaces as they are: every
/// store and every shell sees these names the same way.
fn symbol_segment(symbol: &str) -> String {
    let mut out = String::from("symbol=");
    for b in symbol.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn bars_path(prefix: &Path, symbol: &str) -> Result<Path, CatalogError> {
    // `Path::parse`, not `child`: a child part would encode our `%` a second time.
    Path::parse(format!("{prefix}/{}/{BARS}", symbol_segment(symbol)))
        .map_err(|e| CatalogError::Invalid(format!("symbol {symbol:?}: {e}")))
}

fn join_error(e: tokio::task::JoinError) -> CatalogError {
    CatalogError::Internal(format!("a catalog task failed: {e}"))
}

/// The name an upload is read under: its own last path component, with `.csv` added when
/// the extension names no format we read (CSV is the default).
fn upload_name(file_name: &str) -> String {
    let base = FsPath::new(file_name)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "upload".to_string());
    if FileFormat::from_path(FsPath::new(&base)).is_ok() {
        base
    } else {
        format!("{base}.csv")
    }
}

/// An upload checked and encoded, ready to store.
struct Prepared {
    ingested: Ingested,
    /// `(symbol, Parquet bytes)` in order of first appearance.
    objects: Vec<(String, Vec<u8>)>,
    manifest: Vec<u8>,
}

fn prepare(upload: &FsPath, name: &str, opts: &IngestOptions) -> Result<Prepared, CatalogError> {
    let rejected = |e: qf_data::DataError| CatalogError::Rejected(e.to_string());
    let quality = qf_data::inspect_as(upload, name).map_err(rejected)?;
    let load = LoadOptions {
        sort: opts.sort,
        dedupe: opts.dedupe,
        symbol: None,
        price_precision: opts.price_precision,
        size_precision: opts.size_precision,
    };
    let loaded = qf_data::load_bars_as(upload, name, &load).map_err(rejected)?;
    let source = SourceInfo::of(name, &loaded);
    let objects = loaded
        .series
        .iter()
        .map(|s| {
            let bytes = qf_data::parquet_bytes(std::slice::from_ref(s))
                .map_err(|e| CatalogError::Internal(e.to_string()))?;
            Ok((s.instrument.symbol.clone(), bytes))
        })
        .collect::<Result<Vec<_>, CatalogError>>()?;
    let manifest = serde_json::to_vec(&json!({
        "source": source,
        "size_precision": opts.size_precision,
    }))
    .map_err(|e| CatalogError::Internal(e.to_string()))?;
    let to_json = |v: &qf_data::QualityReport| {
        serde_json::to_value(v).map_err(|e| CatalogError::Internal(e.to_string()))
    };
    Ok(Prepared {
        ingested: Ingested {
            format: loaded.format,
            rows: loaded.rows,
            bytes: objects.iter().map(|(_, b)| b.len() as u64).sum(),
            symbols: source.symbols.clone(),
            quality: to_json(&quality)?,
        },
        objects,
        manifest,
    })
}

/// Checks an uploaded file and stores it as dataset `dataset` of `tenant`, with default
/// [`IngestOptions`]. See [`ingest_with`].
pub async fn ingest(
    store: &dyn ObjectStore,
    tenant: &str,
    dataset: &str,
    upload: &FsPath,
    file_name: &str,
) -> Result<Ingested, CatalogError> {
    ingest_with(
        store,
        tenant,
        dataset,
        upload,
        file_name,
        &IngestOptions::default(),
    )
    .await
}

/// Checks an uploaded file (already on disk at `upload`) and stores it as dataset
/// `dataset` of `tenant`: one Parquet object per symbol and a manifest.
///
/// `file_name` is the name the tenant gave the file: its extension picks CSV or Parquet
/// (CSV when it names neither), its stem is the symbol of a file without a symbol column,
/// and messages and the quality report call the file by it. The upload is refused with
/// [`CatalogError::Rejected`] when it does not load as `qf backtest` would load it; if
/// anything fails, every object this call wrote is deleted again.
pub async fn ingest_with(
    store: &dyn ObjectStore,
    tenant: &str,
    dataset: &str,
    upload: &FsPath,
    file_name: &str,
    opts: &IngestOptions,
) -> Result<Ingested, CatalogError> {
    let prefix = dataset_prefix(tenant, dataset)?;
    let name = upload_name(file_name);
    let (path, options) = (upload.to_path_buf(), opts.clone());
    let prepared = tokio::task::spawn_blocking(move || prepare(&path, &name, &options))
        .await
        .map_err(join_error)??;

    let mut written: Vec<Path> = Vec::new();
    let mut objects: Vec<(Path, Vec<u8>)> = prepared
        .objects
        .into_iter()
        .map(|(symbol, bytes)| Ok((bars_path(&prefix, &symbol)?, bytes)))
        .collect::<Result<_, CatalogError>>()?;
    // The manifest goes last: a dataset without one never loads.
    objects.push((prefix.child(MANIFEST), prepared.manifest));
    for (path, bytes) in objects {
        // Recorded before the put: a put that fails half-way may leave an object.
        written.push(path.clone());
        if let Err(e) = store.put(&path, PutPayload::from(bytes)).await {
            remove(store, &written).await;
            return Err(e.into());
        }
    }
    Ok(prepared.ingested)
}

/// Deletes `paths`, ignoring those already gone; best effort, for clean-up.
async fn remove(store: &dyn ObjectStore, paths: &[Path]) {
    for p in paths {
        if let Err(e) = store.delete(p).await
            && !matches!(e, object_store::Error::NotFound { .. })
        {
            tracing::warn!(path = %p, error = %e, "cannot remove a catalog object");
        }
    }
}

async fn get(store: &dyn ObjectStore, path: &Path) -> Result<Option<Bytes>, CatalogError> {
    match store.get(path).await {
        Ok(got) => Ok(Some(got.bytes().await?)),
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Loads the bars of `symbols` (all of them, or any subset, in the order given; instrument
/// ids 0, 1, … in that order) from dataset `dataset`, with the description of where they
/// came from for a result's `data`: `[{file, format, rows, symbols, timestamp_format,
/// reordered_rows, dropped_duplicates}]`, as `qf backtest --json` reports the file.
pub async fn load(
    store: &dyn ObjectStore,
    tenant: &str,
    dataset: &str,
    symbols: &[String],
) -> Result<(Vec<BarSeries>, Value), CatalogError> {
    let prefix = dataset_prefix(tenant, dataset)?;
    if symbols.is_empty() {
        return Err(CatalogError::Invalid("no symbols to load".into()));
    }
    let manifest = get(store, &prefix.child(MANIFEST)).await?.ok_or_else(|| {
        CatalogError::NotFound(format!("dataset {dataset} is not in the catalog"))
    })?;
    let manifest: Value = serde_json::from_slice(&manifest)
        .map_err(|e| CatalogError::Corrupt(format!("{dataset}/{MANIFEST}: {e}")))?;
    let size_precision = manifest["size_precision"]
        .as_u64()
        .and_then(|p| u8::try_from(p).ok())
        .ok_or_else(|| CatalogError::Corrupt(format!("{dataset}/{MANIFEST}: no size_precision")))?;
    let paths = symbols
        .iter()
        .map(|s| bars_path(&prefix, s))
        .collect::<Result<Vec<_>, _>>()?;
    let objects = try_join_all(symbols.iter().zip(paths).map(|(s, path)| async move {
        get(store, &path)
            .await?
            .ok_or_else(|| CatalogError::NotFound(format!("dataset {dataset} has no symbol {s:?}")))
    }))
    .await?;

    let (names, dataset_id) = (symbols.to_vec(), dataset.to_string());
    let series =
        tokio::task::spawn_blocking(move || decode(&dataset_id, &names, objects, size_precision))
            .await
            .map_err(join_error)??;

    let mut source = manifest["source"].clone();
    let all = source["symbols"].as_array().is_some_and(|a| {
        a.iter()
            .map(Value::as_str)
            .eq(symbols.iter().map(|s| Some(s.as_str())))
    });
    if !all {
        // A subset (or another order) of the file: describe what was loaded.
        source["symbols"] = json!(symbols);
        source["rows"] = json!(series.iter().map(|s| s.bars.len()).sum::<usize>());
    }
    Ok((series, Value::Array(vec![source])))
}

/// Decodes each symbol's object; each must hold that one symbol.
fn decode(
    dataset: &str,
    symbols: &[String],
    objects: Vec<Bytes>,
    size_precision: u8,
) -> Result<Vec<BarSeries>, CatalogError> {
    let opts = LoadOptions {
        size_precision,
        ..LoadOptions::default()
    };
    symbols
        .iter()
        .zip(objects)
        .enumerate()
        .map(|(k, (symbol, bytes))| {
            let name = format!("{dataset}/{symbol}.parquet");
            let loaded = qf_data::load_parquet_bytes(bytes, &name, &opts)
                .map_err(|e| CatalogError::Corrupt(e.to_string()))?;
            let mut one = loaded.series.into_iter();
            match (one.next(), one.next()) {
                (Some(mut s), None) if s.instrument.symbol == *symbol => {
                    s.instrument.id = InstrumentId(k as u32);
                    Ok(s)
                }
                _ => Err(CatalogError::Corrupt(format!(
                    "{name} does not hold exactly the bars of {symbol:?}"
                ))),
            }
        })
        .collect()
}

/// Deletes every object of a dataset (nothing when it has none).
pub async fn delete_dataset(
    store: &dyn ObjectStore,
    tenant: &str,
    dataset: &str,
) -> Result<(), CatalogError> {
    let prefix = dataset_prefix(tenant, dataset)?;
    let paths: Vec<Path> = store
        .list(Some(&prefix))
        .map_ok(|m| m.location)
        .try_collect()
        .await?;
    for p in &paths {
        match store.delete(p).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// An artifact's name as one path segment: a plain file name such as `report.html`.
fn artifact_part(name: &str) -> Result<PathPart<'_>, CatalogError> {
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !plain {
        return Err(CatalogError::Invalid(format!(
            "{name:?} is not an artifact name"
        )));
    }
    Ok(PathPart::from(name))
}

/// Stores one file a run produced (`result.json`, `trades.parquet`, `equity.parquet`,
/// `report.html`, `log.txt`, `sweep.csv`), replacing it if it exists: a job run twice writes the same
/// bytes.
pub async fn put_artifact(
    store: &dyn ObjectStore,
    tenant: &str,
    run: &str,
    name: &str,
    bytes: Vec<u8>,
) -> Result<(), CatalogError> {
    let path = run_prefix(tenant, run)?.child(artifact_part(name)?);
    store.put(&path, PutPayload::from(bytes)).await?;
    Ok(())
}

/// Stores several files of a run; see [`put_artifact`].
pub async fn put_artifacts(
    store: &dyn ObjectStore,
    tenant: &str,
    run: &str,
    files: Vec<(&str, Vec<u8>)>,
) -> Result<(), CatalogError> {
    for (name, bytes) in files {
        put_artifact(store, tenant, run, name, bytes).await?;
    }
    Ok(())
}

/// One file of a run, or `None` when the run has no such file.
pub async fn get_artifact(
    store: &dyn ObjectStore,
    tenant: &str,
    run: &str,
    name: &str,
) -> Result<Option<Bytes>, CatalogError> {
    let path = run_prefix(tenant, run)?.child(artifact_part(name)?);
    get(store, &path).await
}

/// Whether the store answers: a look-up of an object that need not exist.
pub async fn ping(store: &dyn ObjectStore) -> Result<(), CatalogError> {
    match store.head(&Path::from("qf-ping")).await {
        Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_and_ids_stay_inside_their_prefix() {
        assert_eq!(symbol_segment("AAPL"), "symbol=AAPL");
        assert_eq!(symbol_segment("BRK/B"), "symbol=BRK%2FB");
        assert_eq!(symbol_segment(".."), "symbol=..");
        assert_eq!(symbol_segment("WEIRD, INC"), "symbol=WEIRD%2C%20INC");
        let prefix = dataset_prefix("t1", "d-2").unwrap();
        assert_eq!(
            bars_path(&prefix, "é").unwrap().as_ref(),
            "tenants/t1/datasets/d-2/symbol=%C3%A9/bars.parquet"
        );
        assert_eq!(
            bars_path(&prefix, "a%2F").unwrap().as_ref(),
            "tenants/t1/datasets/d-2/symbol=a%252F/bars.parquet"
        );
        for bad in ["", "..", "a/b", "a b", "x%2F"] {
            assert!(dataset_prefix("t", bad).is_err(), "{bad:?}");
            assert!(run_prefix(bad, "r").is_err(), "{bad:?}");
        }
        for bad in ["", ".hidden", "../x", "a/b"] {
            assert!(artifact_part(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn upload_names_keep_only_their_last_component() {
        assert_eq!(upload_name("bars.csv"), "bars.csv");
        assert_eq!(upload_name("/etc/x/AAPL.parquet"), "AAPL.parquet");
        assert_eq!(upload_name("data"), "data.csv");
        assert_eq!(upload_name(""), "upload.csv");
    }
}
