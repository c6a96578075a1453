//! The bytes of attachments in an S3-compatible object store (AWS S3, MinIO, Ceph, R2, …)
//! through the `object_store` crate, when a bucket is configured ([`S3Config`]); the rows
//! (name, type, size, readiness) stay in the store, so an upload still becomes visible in one
//! commit and the per-conversation limit is still checked there.
//!
//! Layout: one object per chunk, `<prefix>/<attachment id>/<n>`, each at most
//! [`super::CHUNK`] bytes, written as the upload streams in and read one at a time as a
//! download streams out. Why not one multipart object per file: S3 parts must be at least
//! 5 MiB (but the last), so a multipart upload would hold 5 MiB per upload in memory instead
//! of one 256 KiB chunk, and a failed one would leave an incomplete multipart upload to abort.
//! Objects per chunk keep the memory of the database backend, make a retried put simply
//! replace the object, and a file is deleted by listing its prefix. The cost is one request
//! per 256 KiB.
//!
//! Several instances configured with the same bucket and prefix (and the same PostgreSQL
//! database) share the files: the bytes are addressed by the attachment id only.
//!
//! [`S3Blobs::connect`] lists the prefix once, so a wrong endpoint, bucket or credentials stop
//! the server at start with one line naming the bucket and the cause, not at the first upload.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::TryStreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, PutPayload, RetryConfig};

use super::blobs::Blobs;
use crate::store::StoreError;

/// Where attachment bytes go instead of the store (serve flags `--s3-…`, or `NATTER_S3_…`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct S3Config {
    pub bucket: String,
    /// `http(s)://host:port` of an S3-compatible server; `None`: AWS S3 of [`Self::region`].
    pub endpoint: Option<String>,
    pub region: Option<String>,
    /// Keys start with this (`natter/files`); empty: the bucket's root.
    pub prefix: String,
    /// Buckets addressed as `endpoint/bucket` (`true`, what most S3-compatible servers
    /// want) or as `bucket.endpoint` (virtual-hosted, `false`).
    pub path_style: bool,
    /// Credentials given explicitly; `None`: the standard AWS variables
    /// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, …) and providers.
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

impl S3Config {
    /// From the environment (`NATTER_S3_BUCKET`, `NATTER_S3_ENDPOINT`, `NATTER_S3_REGION`,
    /// `NATTER_S3_PREFIX`, `NATTER_S3_PATH_STYLE`): what the one-shot CLIs use, so a Run
    /// Test reads the files the server stored. `None` without a bucket.
    pub fn from_env() -> Option<S3Config> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Some(S3Config {
            bucket: var("NATTER_S3_BUCKET")?,
            endpoint: var("NATTER_S3_ENDPOINT"),
            region: var("NATTER_S3_REGION"),
            prefix: var("NATTER_S3_PREFIX").unwrap_or_default(),
            path_style: var("NATTER_S3_PATH_STYLE").is_none_or(|v| v != "false" && v != "0"),
            access_key_id: None,
            secret_access_key: None,
        })
    }

    /// `s3://bucket/prefix at endpoint`: how logs and errors name it (no credentials).
    pub fn describe(&self) -> String {
        let at = self.endpoint.as_deref().unwrap_or("AWS");
        let prefix = self.prefix.trim_matches('/');
        let sep = if prefix.is_empty() { "" } else { "/" };
        format!("s3://{}{sep}{prefix} at {at}", self.bucket)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    /// The client could not be built or the bucket did not answer (the cause is kept in the
    /// message, not as a source, so the start error reads as one line without repeats).
    #[error("object store {at}: {}", one_line(.cause))]
    Setup {
        at: String,
        cause: object_store::Error,
    },
}

/// `e` on one line: the S3 server's answer may be a multi-line XML document.
fn one_line(e: &object_store::Error) -> String {
    e.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The object-store blob backend.
pub struct S3Blobs {
    store: AmazonS3,
    prefix: Path,
}

impl S3Blobs {
    /// Builds the client and checks that the bucket answers (one listing of the prefix).
    pub async fn connect(cfg: &S3Config) -> Result<S3Blobs, S3Error> {
        let setup = |cause| S3Error::Setup {
            at: cfg.describe(),
            cause,
        };
        let mut b = AmazonS3Builder::from_env()
            .with_bucket_name(&cfg.bucket)
            .with_virtual_hosted_style_request(!cfg.path_style)
            .with_client_options(
                ClientOptions::new()
                    .with_allow_http(true)
                    .with_connect_timeout(Duration::from_secs(5))
                    .with_timeout(Duration::from_secs(60)),
            )
            // A few quick retries: a chunk that cannot be stored fails its upload (the visitor
            // retries it) rather than holding the request for minutes.
            .with_retry(RetryConfig {
                backoff: BackoffConfig {
                    init_backoff: Duration::from_millis(100),
                    max_backoff: Duration::from_secs(2),
                    base: 2.0,
                },
                max_retries: 3,
                retry_timeout: Duration::from_secs(30),
            });
        if let Some(e) = &cfg.endpoint {
            b = b.with_endpoint(e);
        }
        if let Some(r) = &cfg.region {
            b = b.with_region(r);
        }
        if let (Some(id), Some(secret)) = (&cfg.access_key_id, &cfg.secret_access_key) {
            b = b.with_access_key_id(id).with_secret_access_key(secret);
        }
        let store = b.build().map_err(setup)?;
        let blobs = S3Blobs {
            store,
            prefix: Path::from(cfg.prefix.as_str()),
        };
        blobs
            .store
            .list_with_delimiter(Some(&blobs.prefix))
            .await
            .map_err(setup)?;
        Ok(blobs)
    }

    fn dir(&self, id: &str) -> Path {
        self.prefix.child(id)
    }

    fn key(&self, id: &str, n: u32) -> Path {
        self.dir(id).child(n.to_string())
    }
}

fn objects(e: object_store::Error) -> StoreError {
    StoreError::Objects(e.to_string())
}

#[async_trait]
impl Blobs for S3Blobs {
    async fn put(&self, id: &str, n: u32, data: Bytes) -> Result<(), StoreError> {
        self.store
            .put(&self.key(id, n), PutPayload::from_bytes(data))
            .await
            .map_err(objects)?;
        Ok(())
    }

    async fn get(&self, id: &str, n: u32) -> Result<Option<Bytes>, StoreError> {
        match self.store.get(&self.key(id, n)).await {
            Ok(r) => Ok(Some(r.bytes().await.map_err(objects)?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(objects(e)),
        }
    }

    async fn delete(&self, id: &str) -> Result<(), StoreError> {
        let keys: Vec<Path> = self
            .store
            .list(Some(&self.dir(id)))
            .map_ok(|m| m.location)
            .try_collect()
            .await
            .map_err(objects)?;
        for key in keys {
            match self.store.delete(&key).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(objects(e)),
            }
        }
        Ok(())
    }
}
