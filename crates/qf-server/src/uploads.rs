//! Temporary files that uploads stream into before they are validated and stored.
//!
//! Each is created under `{data_dir}/tmp` and holds an exclusive advisory lock for as long
//! as its request is working on it. A process that dies mid-upload (`kill -9`, a crash, a
//! power cut) leaves its file behind, but its lock goes with it, so [`sweep_stale`] — run at
//! start — can tell abandoned files from those another process on the same data directory
//! is still writing, without guessing from ages.

use std::fs::{File, TryLockError};
use std::io;
use std::path::{Path, PathBuf};

/// The prefix of every temporary upload's file name.
const PREFIX: &str = "upload-";

/// An uploaded file on disk, locked while alive and removed when dropped.
pub struct TempUpload {
    path: PathBuf,
    /// Holds the lock; closing it (on drop, or when the process dies) releases it.
    file: File,
}

impl TempUpload {
    /// Creates a new, empty, locked file in `dir` (created if missing).
    pub fn create(dir: &Path) -> io::Result<TempUpload> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(format!("{PREFIX}{}", uuid::Uuid::now_v7().simple()));
        let file = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        let upload = TempUpload { path, file };
        // A fresh file nobody else knows of: the lock cannot be held elsewhere.
        upload.file.try_lock().map_err(io::Error::from)?;
        Ok(upload)
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A handle to write the file through; it shares the lock's open file description.
    pub fn writer(&self) -> io::Result<tokio::fs::File> {
        Ok(tokio::fs::File::from_std(self.file.try_clone()?))
    }
}

impl Drop for TempUpload {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Removes the temporary uploads in `dir` that no live process holds, and returns how many
/// went. A missing directory has none.
pub fn sweep_stale(dir: &Path) -> io::Result<usize> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry?;
        let is_upload = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(PREFIX));
        if !is_upload || !entry.file_type()?.is_file() {
            continue;
        }
        let path = entry.path();
        let Ok(file) = File::options().read(true).write(true).open(&path) else {
            continue; // gone meanwhile
        };
        match file.try_lock() {
            Ok(()) => {
                std::fs::remove_file(&path)?;
                removed += 1;
            }
            Err(TryLockError::WouldBlock) => {} // an upload in progress elsewhere
            Err(TryLockError::Error(e)) => return Err(e),
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sweep_removes_only_unlocked_uploads() {
        let dir = tempfile::tempdir().unwrap();
        let live = TempUpload::create(dir.path()).unwrap();
        // What a killed process leaves: a file nobody holds a lock on.
        let stale = dir.path().join(format!("{PREFIX}0123"));
        std::fs::write(&stale, b"half an upload").unwrap();
        let other = dir.path().join("not-ours");
        std::fs::write(&other, b"x").unwrap();

        assert_eq!(sweep_stale(dir.path()).unwrap(), 1);
        assert!(!stale.exists());
        assert!(live.path().exists());
        assert!(other.exists());
        let path = live.path().to_path_buf();
        drop(live);
        assert!(!path.exists());
        assert_eq!(sweep_stale(&dir.path().join("missing")).unwrap(), 0);
    }
}
