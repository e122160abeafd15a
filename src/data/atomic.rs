//! Atomic file writes: a temporary file in the same folder, synced, then renamed over the target,
//! so a reader (or a crash) never sees a half-written model or table.

use crate::error::{Result, SvgpError};
use std::path::Path;

fn io_error(path: &Path, reason: &str) -> SvgpError {
    SvgpError::Io {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

/// Writes through `fill` into `<path>.tmp-<pid>` in the same folder, syncs it, and renames it
/// over `path`; on failure removes the temporary file and leaves `path` as it was.
pub fn write_atomically(
    path: &Path,
    fill: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| io_error(path, "not a file path"))?;
    let mut tmp_name = name.to_os_string();
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        fill(&mut file)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io_error(path, &e.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A write that fails midway leaves the earlier file byte-for-byte intact and no temporary
    /// file behind.
    #[test]
    fn failed_write_keeps_the_earlier_file() {
        let dir = std::env::temp_dir().join(format!("svgp-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("model.json");
        write_atomically(&path, |w| w.write_all(b"first version")).unwrap();
        let err = write_atomically(&path, |w| {
            w.write_all(b"half of the sec")?;
            Err(std::io::Error::other("disk full"))
        });
        assert!(matches!(err, Err(SvgpError::Io { .. })));
        assert_eq!(std::fs::read(&path).unwrap(), b"first version");
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "temporary file left behind"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
