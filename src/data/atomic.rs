//! Atomic file writes: a temporary file in the same folder, synced, then renamed over the target,
//! so a reader (or a crash) never sees a half-written model or table, and the folder synced
//! after the rename, so the new name survives a power cut.
//!
//! On unix the temporary has one fixed name per target, `<name>.tmp`, and a writer holds an
//! exclusive lock on it (`File::lock`, i.e. `flock`) from opening it to renaming it:
//! - a process killed mid-write leaves `<name>.tmp` behind, but the kernel drops its lock with
//!   it, so the next write to the same target takes that file over (truncates, fills, renames
//!   it): after the next successful write nothing stale remains;
//! - two live writers of one target take turns: the second blocks on the lock; once it has it,
//!   it checks that the file it locked is still the one at `<name>.tmp` (device and inode), and
//!   if the first writer renamed it away meanwhile, it opens `<name>.tmp` afresh. So no writer
//!   ever truncates a file another has renamed over the target: each rename puts one whole
//!   version in place, and the last to rename wins;
//! - on every error, and on a panic in the caller's `fill`, the temporary is removed while still
//!   locked, so no other writer is using it.
//!
//! Elsewhere (no file identity to check), and on a unix file system without locks (where an
//! empty `<name>.tmp` may then stay), each writer uses its own `<name>.tmp-<pid>-<n>`, removed
//! on every error path; one left by a killed process is not collected there.

use crate::error::{Result, SvgpError};
use std::fs::File;
use std::path::{Path, PathBuf};

fn io_error(path: &Path, reason: &str) -> SvgpError {
    SvgpError::Io {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

/// Writes through `fill` into a temporary file beside `path` (see the module docs for its name
/// and locking), syncs it, renames it over `path` and syncs the folder. On failure the temporary
/// is removed and `path` is left as it was; a temporary left by a killed writer is taken over.
///
/// # Errors
/// `Io { path }` when `path` has no file name, or for a failed open, lock, write, sync or
/// rename (the folder's sync failing after the rename is reported too: `path` is then already
/// the new file).
pub fn write_atomically(
    path: &Path,
    fill: impl FnOnce(&mut File) -> std::io::Result<()>,
) -> Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| io_error(path, "not a file path"))?;
    let (tmp, file) = open_temporary(path, name).map_err(|e| io_error(path, &e.to_string()))?;
    let mut guard = Temporary {
        path: tmp,
        file: Some(file),
    };
    let file = guard.file.as_mut().expect("held until the rename");
    fill(file)
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::rename(&guard.path, path))
        .map_err(|e| io_error(path, &e.to_string()))?;
    guard.path = PathBuf::new(); // renamed: nothing left to remove
    drop(guard); // closes the file, releasing the lock
    sync_folder(path).map_err(|e| io_error(path, &format!("syncing its folder: {e}")))
}

/// The temporary of a write in progress: removed (before its file is closed, so while still
/// locked) when dropped, unless its path was cleared after the rename.
struct Temporary {
    path: PathBuf,
    file: Option<File>,
}

impl Drop for Temporary {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
        self.file.take();
    }
}

/// The temporary of a write to `path` (file name `name`), opened for writing, empty.
fn open_temporary(path: &Path, name: &std::ffi::OsStr) -> std::io::Result<(PathBuf, File)> {
    #[cfg(unix)]
    match locked_temporary(path, name) {
        Err(e) if e.kind() == std::io::ErrorKind::Unsupported => unique_temporary(path, name),
        opened => opened,
    }
    #[cfg(not(unix))]
    unique_temporary(path, name)
}

/// `<name>.tmp` beside `path`, opened and exclusively locked, checked to still be the file at
/// that name once locked, and emptied.
#[cfg(unix)]
fn locked_temporary(path: &Path, name: &std::ffi::OsStr) -> std::io::Result<(PathBuf, File)> {
    use std::os::unix::fs::MetadataExt;
    let mut tmp_name = name.to_os_string();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    loop {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false) // not before the lock: another writer may be filling it
            .open(&tmp)?;
        file.lock()?;
        let held = file.metadata()?;
        let current = match std::fs::symlink_metadata(&tmp) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if (held.dev(), held.ino()) == (current.dev(), current.ino()) {
            file.set_len(0)?;
            return Ok((tmp, file));
        }
        // the writer before us renamed or removed this file while we waited: try again
    }
}

/// `<name>.tmp-<pid>-<n>` beside `path`, created new (n counts this process's writes).
fn unique_temporary(path: &Path, name: &std::ffi::OsStr) -> std::io::Result<(PathBuf, File)> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let n = WRITES.fetch_add(1, Ordering::Relaxed);
    let mut tmp_name = name.to_os_string();
    tmp_name.push(format!(".tmp-{}-{n}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let file = File::create_new(&tmp)?;
    Ok((tmp, file))
}

/// Syncs the folder holding `path`, so that a rename into it is durable (unix; elsewhere
/// nothing to do).
fn sync_folder(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let folder = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        File::open(folder)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn scratch(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("svgp-atomic-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// The names in `dir`, sorted.
    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// A write that fails midway, or whose `fill` panics, leaves the earlier file byte-for-byte
    /// intact and no temporary file behind.
    #[test]
    fn failed_write_keeps_the_earlier_file() {
        let dir = scratch("failed");
        let path = dir.join("model.json");
        write_atomically(&path, |w| w.write_all(b"first version")).unwrap();
        let err = write_atomically(&path, |w| {
            w.write_all(b"half of the sec")?;
            Err(std::io::Error::other("disk full"))
        });
        assert!(matches!(err, Err(SvgpError::Io { .. })));
        assert_eq!(std::fs::read(&path).unwrap(), b"first version");
        assert_eq!(names(&dir), ["model.json"], "temporary file left behind");
        let panicked = std::panic::catch_unwind(|| {
            write_atomically(&path, |w| {
                w.write_all(b"half")?;
                panic!("a bug in the caller")
            })
        });
        assert!(panicked.is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"first version");
        assert_eq!(names(&dir), ["model.json"], "temporary left by a panic");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A temporary left by a killed writer (here: a longer file at the temporary's name, not
    /// locked) is taken over by the next write: the target holds exactly the new bytes and
    /// the temporary is gone.
    #[cfg(unix)]
    #[test]
    fn a_stale_temporary_is_taken_over() {
        let dir = scratch("stale");
        let path = dir.join("model.json");
        std::fs::write(
            dir.join("model.json.tmp"),
            b"a much longer half-written version",
        )
        .unwrap();
        write_atomically(&path, |w| w.write_all(b"new")).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert_eq!(names(&dir), ["model.json"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Four threads each write one target 50 times, each write in two parts with a yield
    /// between (so writers overlap): every read of the target sees one writer's whole text,
    /// and at the end the target is whole and no temporary remains.
    #[test]
    fn concurrent_writers_of_one_target_never_mix() {
        let dir = scratch("concurrent");
        let path = dir.join("table.csv");
        let text = |t: usize| format!("writer {t}: {}\n", "x".repeat(1000 + t));
        std::thread::scope(|s| {
            for t in 0..4 {
                let (path, text, mine) = (&path, &text, text(t));
                s.spawn(move || {
                    for _ in 0..50 {
                        write_atomically(path, |w| {
                            w.write_all(&mine.as_bytes()[..500])?;
                            std::thread::yield_now();
                            w.write_all(&mine.as_bytes()[500..])
                        })
                        .unwrap();
                        let read = std::fs::read_to_string(path).unwrap();
                        assert!((0..4).any(|k| read == text(k)), "mixed: {read:.40}");
                    }
                });
            }
        });
        let read = std::fs::read_to_string(&path).unwrap();
        assert!((0..4).any(|k| read == text(k)));
        assert_eq!(names(&dir), ["table.csv"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
