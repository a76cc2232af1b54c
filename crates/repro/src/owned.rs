//! Folders the suite owns. The suite writes a marker file into every folder it makes
//! (the `--out` folder, `runs/`, `data/`, `data-again/`) and only ever replaces a folder
//! that carries it, so an `--out` that points at a user's folder never loses a file:
//! the suite refuses instead, naming the folder.

use std::io::Read as _;
use std::path::Path;

use crate::error::{Error, Result};

/// The marker's file name, in each folder the suite made.
pub const MARKER: &str = ".lockstep-repro";

/// The marker's first line: what made the folder, and the marker's format.
const MARKER_HEADER: &str = "lockstep-repro owned folder, format 1";

/// The marker's whole text.
const MARKER_TEXT: &str = "lockstep-repro owned folder, format 1\n\
    lockstep-repro made this folder and replaces it, with everything in it, on its next run.\n\
    Keep your own files elsewhere.\n";

/// The most marker bytes read: a real marker is far shorter.
const MARKER_READ_LIMIT: u64 = 4096;

/// What is at a path, as far as ownership goes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum State {
    /// Nothing: the suite may create it.
    Missing,
    /// An empty folder: the suite may adopt it.
    Empty,
    /// A folder with the suite's marker: the suite made it and may replace it.
    Owned,
    /// Anything else, with the reason; the suite must not touch it.
    Foreign(String),
}

/// Looks at `dir` without changing anything. Symbolic links are not followed: a link
/// is never the suite's.
///
/// ```
/// use lockstep_repro::owned::{state, State};
/// let dir = std::env::temp_dir().join("lockstep-owned-doc-state-missing");
/// assert_eq!(state(&dir)?, State::Missing);
/// # Ok::<(), lockstep_repro::Error>(())
/// ```
pub fn state(dir: &Path) -> Result<State> {
    let meta = match std::fs::symlink_metadata(dir) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(State::Missing),
        Err(e) => return Err(Error::io(dir, e)),
    };
    if meta.file_type().is_symlink() {
        return Ok(State::Foreign("it is a symbolic link".into()));
    }
    if !meta.is_dir() {
        return Ok(State::Foreign("it is a file, not a folder".into()));
    }
    if has_marker(dir)? {
        return Ok(State::Owned);
    }
    let mut entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    Ok(match entries.next() {
        None => State::Empty,
        Some(entry) => {
            let name = entry.map_err(|e| Error::io(dir, e))?.file_name();
            State::Foreign(format!(
                "it already holds files (such as `{}`) and was not made by lockstep-repro",
                name.to_string_lossy()
            ))
        }
    })
}

/// Whether `dir` holds a regular file named [`MARKER`] that starts with the header.
fn has_marker(dir: &Path) -> Result<bool> {
    let path = dir.join(MARKER);
    match std::fs::symlink_metadata(&path) {
        Ok(meta) if meta.is_file() => {}
        Ok(_) => return Ok(false),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(Error::io(&path, e)),
    }
    let file = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
    let mut text = String::new();
    // A marker that is not UTF-8 is not ours.
    if file
        .take(MARKER_READ_LIMIT)
        .read_to_string(&mut text)
        .is_err()
    {
        return Ok(false);
    }
    Ok(text.lines().next() == Some(MARKER_HEADER))
}

fn write_marker(dir: &Path) -> Result<()> {
    let path = dir.join(MARKER);
    std::fs::write(&path, MARKER_TEXT).map_err(|e| Error::io(&path, e))
}

/// Makes `dir` the suite's without removing anything: creates it, adopts it when it is
/// empty, or keeps it when it already carries the marker. Refuses anything else.
///
/// ```
/// use lockstep_repro::owned::{claim, remove, state, State, MARKER};
/// let dir = std::env::temp_dir().join(format!("lockstep-owned-doc-{}", std::process::id()));
/// claim(&dir)?;
/// assert!(dir.join(MARKER).exists());
/// assert_eq!(state(&dir)?, State::Owned);
/// remove(&dir)?; // only because it carries the marker
/// assert_eq!(state(&dir)?, State::Missing);
/// # Ok::<(), lockstep_repro::Error>(())
/// ```
pub fn claim(dir: &Path) -> Result<()> {
    match state(dir)? {
        State::Owned => Ok(()),
        State::Missing => {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            write_marker(dir)
        }
        State::Empty => write_marker(dir),
        State::Foreign(reason) => Err(not_ours(dir, reason)),
    }
}

/// Makes `dir` a new, empty folder of the suite's (holding only the marker): a folder
/// with the marker is removed first, an empty one adopted; anything else is refused.
///
/// ```no_run
/// lockstep_repro::owned::fresh("target/repro/runs".as_ref())?;
/// # Ok::<(), lockstep_repro::Error>(())
/// ```
pub fn fresh(dir: &Path) -> Result<()> {
    remove(dir)?;
    claim(dir)
}

/// Removes `dir` when it carries the marker; an absent or empty folder is left as it
/// is. Anything else is refused, and nothing is removed.
///
/// ```no_run
/// lockstep_repro::owned::remove("target/repro/data-again".as_ref())?;
/// # Ok::<(), lockstep_repro::Error>(())
/// ```
pub fn remove(dir: &Path) -> Result<()> {
    match state(dir)? {
        State::Missing | State::Empty => Ok(()),
        State::Owned => std::fs::remove_dir_all(dir).map_err(|e| Error::io(dir, e)),
        State::Foreign(reason) => Err(not_ours(dir, reason)),
    }
}

fn not_ours(dir: &Path, reason: String) -> Error {
    Error::NotOurs {
        path: dir.to_path_buf(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("lockstep-owned-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_users_folder_is_refused_and_kept() {
        let dir = scratch("user");
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("sub").join("keep.txt"), "mine").unwrap();
        for result in [claim(&dir), fresh(&dir), remove(&dir)] {
            let err = result.unwrap_err();
            assert!(matches!(err, Error::NotOurs { ref path, .. } if path == &dir));
            assert!(err.to_string().contains("--out"), "{err}");
        }
        assert_eq!(
            std::fs::read_to_string(dir.join("sub").join("keep.txt")).unwrap(),
            "mine"
        );
        assert!(!dir.join(MARKER).exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_forged_or_foreign_marker_is_not_ours() {
        let dir = scratch("forged");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(MARKER), "something else\n").unwrap();
        assert!(matches!(state(&dir).unwrap(), State::Foreign(_)));
        std::fs::remove_file(dir.join(MARKER)).unwrap();
        std::fs::create_dir(dir.join(MARKER)).unwrap();
        assert!(matches!(state(&dir).unwrap(), State::Foreign(_)));
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::write(&dir, "a file").unwrap();
        assert!(matches!(state(&dir).unwrap(), State::Foreign(_)));
        std::fs::remove_file(&dir).unwrap();
    }

    #[test]
    fn missing_and_empty_folders_are_claimed_and_owned_ones_replaced() {
        let dir = scratch("claim");
        assert_eq!(state(&dir).unwrap(), State::Missing);
        claim(&dir).unwrap();
        assert_eq!(state(&dir).unwrap(), State::Owned);
        std::fs::write(dir.join("old.txt"), "from the last run").unwrap();
        fresh(&dir).unwrap();
        assert!(!dir.join("old.txt").exists());
        assert_eq!(state(&dir).unwrap(), State::Owned);
        remove(&dir).unwrap();
        assert_eq!(state(&dir).unwrap(), State::Missing);
        std::fs::create_dir(&dir).unwrap();
        assert_eq!(state(&dir).unwrap(), State::Empty);
        fresh(&dir).unwrap();
        assert_eq!(state(&dir).unwrap(), State::Owned);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_symbolic_link_to_an_owned_folder_is_not_followed() {
        let dir = scratch("target");
        claim(&dir).unwrap();
        let link = scratch("link");
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        assert!(matches!(remove(&link), Err(Error::NotOurs { .. })));
        assert!(dir.join(MARKER).exists());
        std::fs::remove_file(&link).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
