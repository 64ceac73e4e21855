//! Datasets: market data uploaded as CSV or Parquet, stored as Parquet in the object store.
//!
//! An upload streams to a temporary file (never into memory), checked against the size cap
//! as it arrives; then it is validated with the same checks as `qf data inspect` and
//! written to the catalog. Any failure removes whatever was written.

use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use utoipa::{IntoParams, ToSchema};

use qf_jobs::catalog;
use qf_store::{Dataset, DatasetId, NewDataset};

use crate::app::AppState;
use crate::auth::{Principal, Scope};
use crate::idempotency;
use crate::problem::{ApiQuery, Problem};
use crate::routes::tenant::check_name;
use crate::routes::{ListQuery, Listed};
use crate::uploads::TempUpload;

/// A stored dataset.
#[derive(Debug, Serialize, ToSchema)]
pub struct DatasetView {
    pub id: String,
    pub name: String,
    /// The format it was uploaded in (csv or parquet); it is stored as Parquet.
    pub format: String,
    pub rows: i64,
    /// Bytes uploaded.
    pub bytes: i64,
    pub symbols: Vec<String>,
    pub created_at: i64,
    /// The quality report (`qf data inspect --json`); in single-dataset responses only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub quality: Option<serde_json::Value>,
}

impl DatasetView {
    fn new(d: Dataset, with_quality: bool) -> Self {
        DatasetView {
            id: d.id.to_string(),
            name: d.name,
            format: d.format,
            rows: d.rows,
            bytes: d.bytes,
            symbols: d.symbols,
            created_at: d.created_at,
            quality: with_quality.then_some(d.quality),
        }
    }
}

/// Options of an upload sent as a plain body.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The dataset's name (default: the file name, or "upload").
    pub name: Option<String>,
    /// `csv` or `parquet` when the body is sent raw (default from Content-Type, else csv).
    pub format: Option<String>,
}

/// Uploads a dataset: `multipart/form-data` with a `file` field (and optionally `name`), or
/// the file itself as the body (`text/csv`, `application/vnd.apache.parquet` or
/// `application/octet-stream` with `?format=`).
#[utoipa::path(post, path = "/v1/datasets", tag = "datasets", params(UploadQuery),
    request_body(content_type = "multipart/form-data", description = "field `file` (CSV or Parquet), optional field `name`"),
    responses((status = 201, body = DatasetView), (status = 413), (status = 422, description = "the file failed validation")))]
pub async fn upload(
    State(app): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<UploadQuery>,
    headers: HeaderMap,
    req: Request,
) -> Result<Response, Problem> {
    p.require(Scope::Run)?;
    let tmp_dir = app.config.data_dir.join("tmp");
    let tmp = TempUpload::create(&tmp_dir).map_err(|e| {
        Problem::internal(format!(
            "cannot create an upload file in {}: {e}",
            tmp_dir.display()
        ))
    })?;
    let cap = app.config.limits.upload_max_bytes;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();

    let (mut name, mut file_name, written) = if content_type.starts_with("multipart/form-data") {
        let mut mp = Multipart::from_request(req, &())
            .await
            .map_err(|e| Problem::invalid_body(format!("not a multipart body: {e}")))?;
        let (mut name, mut file_name, mut written) = (None, None, None);
        while let Some(field) = mp
            .next_field()
            .await
            .map_err(|e| Problem::invalid_body(format!("broken multipart body: {e}")))?
        {
            match field.name() {
                Some("file") => {
                    if written.is_some() {
                        return Err(Problem::validation("file", "send one `file` field"));
                    }
                    file_name = field.file_name().map(str::to_string);
                    let stream = field.map(|r| r.map_err(|e| e.to_string()));
                    written = Some(save(stream, &tmp, cap).await?);
                }
                Some("name") => {
                    let text = field
                        .text()
                        .await
                        .map_err(|e| Problem::invalid_body(format!("broken `name` field: {e}")))?;
                    name = Some(text);
                }
                other => {
                    return Err(Problem::validation(
                        other.unwrap_or("(unnamed)"),
                        format!(
                            "unknown form field {:?}; send `file` and optionally `name`",
                            other.unwrap_or("")
                        ),
                    ));
                }
            }
        }
        let written = written.ok_or_else(|| {
            Problem::validation("file", "the form has no `file` field with the data")
        })?;
        (name, file_name, written)
    } else {
        let stream = req
            .into_body()
            .into_data_stream()
            .map(|r| r.map_err(|e| e.to_string()));
        (None, None, save(stream, &tmp, cap).await?)
    };
    if name.is_none() {
        name = q.name.clone();
    }
    let format = match q.format.as_deref() {
        Some("csv") => "csv",
        Some("parquet") => "parquet",
        Some(f) => {
            return Err(Problem::validation(
                "format",
                format!("format must be csv or parquet, not {f:?}"),
            ));
        }
        None if content_type.contains("parquet") => "parquet",
        None => match file_name.as_deref() {
            Some(f) if f.to_ascii_lowercase().ends_with(".parquet") => "parquet",
            _ => "csv",
        },
    };
    // The catalog decides the format from the name's extension.
    let stem = file_name
        .as_deref()
        .and_then(|f| std::path::Path::new(f).file_stem())
        .and_then(|s| s.to_str())
        .unwrap_or("upload")
        .to_string();
    file_name = Some(format!("{stem}.{format}"));
    let name = check_name("name", name.as_deref().unwrap_or(&stem))?.to_string();

    let idem = match idempotency::begin(
        &app,
        &p,
        &headers,
        "POST /v1/datasets",
        idempotency::digest(&[
            name.as_bytes(),
            format.as_bytes(),
            written.sha256.as_bytes(),
        ]),
    )
    .await?
    {
        Ok(i) => i,
        Err(replay) => return Ok(replay),
    };

    let id = DatasetId::new();
    let ingested = catalog::ingest(
        &app.objects,
        p.tenant.as_str(),
        id.as_str(),
        tmp.path(),
        file_name.as_deref().unwrap_or("upload.csv"),
    )
    .await
    .map_err(|e| Problem::validation("file", e.to_string()))?;
    let created = app
        .store
        .create_dataset(
            &p.tenant,
            &NewDataset {
                id: id.clone(),
                name,
                format: format.to_string(),
                rows: i64::try_from(ingested.rows).unwrap_or(i64::MAX),
                bytes: i64::try_from(written.bytes).unwrap_or(i64::MAX),
                symbols: ingested.symbols.clone(),
                quality: ingested.quality.clone(),
            },
        )
        .await;
    let d = match created {
        Ok(d) => d,
        Err(e) => {
            // Nothing stays behind from a failed upload.
            let _ = catalog::delete_dataset(&app.objects, p.tenant.as_str(), id.as_str()).await;
            return Err(e.into());
        }
    };
    let view = DatasetView::new(d, true);
    idempotency::remember(&app, &p, idem, StatusCode::CREATED, &view).await?;
    let location = format!("/v1/datasets/{}", view.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(view),
    )
        .into_response())
}

/// What [`save`] wrote.
struct Written {
    bytes: u64,
    sha256: String,
}

/// Streams a body into `tmp`, failing with 413 as soon as it passes `cap` bytes.
async fn save(
    mut stream: impl Stream<Item = Result<bytes::Bytes, String>> + Unpin,
    tmp: &TempUpload,
    cap: u64,
) -> Result<Written, Problem> {
    let file = tmp
        .writer()
        .map_err(|e| Problem::internal(format!("cannot write {}: {e}", tmp.path().display())))?;
    let mut out = tokio::io::BufWriter::with_capacity(1 << 20, file);
    let mut bytes = 0u64;
    let mut hash = Sha256::new();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| Problem::invalid_body(format!("the upload broke off: {e}")))?;
        bytes += chunk.len() as u64;
        if bytes > cap {
            return Err(Problem::payload_too_large(format!(
                "the upload is larger than the limit of {cap} bytes (limits.upload_max_bytes)"
            )));
        }
        hash.update(&chunk);
        out.write_all(&chunk)
            .await
            .map_err(|e| Problem::internal(format!("cannot write the upload: {e}")))?;
    }
    out.flush()
        .await
        .map_err(|e| Problem::internal(format!("cannot write the upload: {e}")))?;
    if bytes == 0 {
        return Err(Problem::validation("file", "the upload is empty"));
    }
    Ok(Written {
        bytes,
        sha256: crate::auth::hex(&hash.finalize()),
    })
}

fn dataset_id(id: &str) -> Result<DatasetId, Problem> {
    DatasetId::parse(id).ok_or_else(|| Problem::not_found("no such dataset in this tenant"))
}

/// Lists datasets, newest first; `name` filters by prefix.
#[utoipa::path(get, path = "/v1/datasets", tag = "datasets", params(ListQuery),
    responses((status = 200, body = inline(Listed<DatasetView>))))]
pub async fn list(
    State(app): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Listed<DatasetView>>, Problem> {
    p.require(Scope::Read)?;
    let page = q.page("datasets")?;
    let l = app
        .store
        .datasets(&p.tenant, q.name.as_deref(), &page)
        .await?;
    Ok(Json(
        q.listed("datasets", l, |d| DatasetView::new(d, false)),
    ))
}

/// One dataset with its quality report.
#[utoipa::path(get, path = "/v1/datasets/{id}", tag = "datasets", params(("id" = String, Path)),
    responses((status = 200, body = DatasetView), (status = 404)))]
pub async fn get_one(
    State(app): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<DatasetView>, Problem> {
    p.require(Scope::Read)?;
    let d = app.store.dataset(&p.tenant, &dataset_id(&id)?).await?;
    Ok(Json(DatasetView::new(d, true)))
}

/// Deletes a dataset and its stored bars (refused while a queued or running run uses it).
#[utoipa::path(delete, path = "/v1/datasets/{id}", tag = "datasets", params(("id" = String, Path)),
    responses((status = 204), (status = 404), (status = 409)))]
pub async fn delete(
    State(app): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    p.require(Scope::Run)?;
    let id = dataset_id(&id)?;
    app.store.delete_dataset(&p.tenant, &id).await?;
    catalog::delete_dataset(&app.objects, p.tenant.as_str(), id.as_str())
        .await
        .map_err(|e| Problem::internal(e.to_string()))?;
    Ok(StatusCode::NO_CONTENT)
}

/// Serves a stored artifact with a content type, or 404.
pub fn artifact_response(
    bytes: Option<bytes::Bytes>,
    content_type: &'static str,
) -> Result<Response, Problem> {
    let bytes = bytes
        .ok_or_else(|| Problem::not_found("this run has no such artifact (has it succeeded?)"))?;
    Ok(([(header::CONTENT_TYPE, content_type)], Body::from(bytes)).into_response())
}
