//! Reading the files of a stack directory, and only those: the one place the loader opens
//! a file (`stack.toml`, `env/<env>.toml`, user-data templates, public keys).
//!
//! A stack directory is trusted, but a file in it is not necessarily what it seems:
//!
//! - a path is resolved (links followed, `..` applied) and refused when it leads out of the
//!   stack directory, so a link cannot send `/etc/passwd` or `~/.aws/credentials` as user data;
//! - only regular files are read: a FIFO would block forever, `/dev/zero` never ends, a
//!   directory is a mistake. The type is checked before opening, and again on the handle;
//! - the size is checked before reading (a stack or env file at most [`STACK_FILE_LIMIT`],
//!   user data at most AWS's [`USER_DATA_LIMIT`]), and the read itself never takes more than
//!   the limit and one byte, whatever the file turned into in between: memory stays bounded;
//! - text that is not UTF-8 is reported at the line and column of its first bad byte.

use std::fmt;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use super::diag::{Diagnostic, Diagnostics};
use super::source::{FileId, SourceMap, Span};

/// The largest `stack.toml` or env file read: far above any real stack, far below what
/// could hurt.
pub const STACK_FILE_LIMIT: u64 = 4 * 1024 * 1024;

/// The largest user-data template read: AWS accepts at most 16 KiB of user data.
pub const USER_DATA_LIMIT: u64 = 16 * 1024;

/// The largest public key file read (an RSA-16384 key is under 3 KiB).
pub const PUBLIC_KEY_LIMIT: u64 = 16 * 1024;

/// A size limit and the reason for it, for the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    pub bytes: u64,
    pub why: &'static str,
}

impl Limit {
    pub const STACK_FILE: Limit = Limit {
        bytes: STACK_FILE_LIMIT,
        why: "a stack or env file may be at most 4 MiB",
    };
    pub const USER_DATA: Limit = Limit {
        bytes: USER_DATA_LIMIT,
        why: "AWS accepts at most 16 KiB (16384 bytes) of user data",
    };
    pub const PUBLIC_KEY: Limit = Limit {
        bytes: PUBLIC_KEY_LIMIT,
        why: "a public key file may be at most 16 KiB",
    };
}

/// Why a file of the stack was not read.
#[derive(Debug)]
pub enum FileError {
    NotFound,
    /// Absolute, or resolving (through `..` or a link) to a place outside the stack.
    Outside {
        resolved: Option<PathBuf>,
    },
    /// A directory, FIFO, socket or device.
    NotRegular {
        what: &'static str,
    },
    /// `size` is exact, or (`over`) all that was read before stopping.
    TooLarge {
        size: u64,
        over: bool,
        limit: Limit,
    },
    Io(std::io::Error),
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::NotFound => f.write_str("not found"),
            FileError::Outside {
                resolved: Some(resolved),
            } => write!(
                f,
                "is outside the stack directory (it leads to `{}`)",
                resolved.display()
            ),
            FileError::Outside { resolved: None } => f.write_str("is outside the stack directory"),
            FileError::NotRegular { what } => write!(f, "is {what}, not a regular file"),
            FileError::TooLarge { size, over, limit } => {
                let more = if *over { "over " } else { "" };
                write!(f, "is too large ({more}{size} bytes); {}", limit.why)
            }
            FileError::Io(e) => write!(f, "could not be read: {e}"),
        }
    }
}

impl FileError {
    /// What to do about it, for the `hint:` line.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            FileError::Outside { .. } => Some(
                "a stack reads only files inside its own directory: copy the file in rather than linking to it",
            ),
            FileError::NotRegular { .. } => Some("give the path of a regular file"),
            _ => None,
        }
    }
}

/// The bytes of `path`, relative to the stack directory `root`, read as the module doc says.
pub fn read_confined(root: &Path, path: &Path, limit: Limit) -> Result<Vec<u8>, FileError> {
    if path.is_absolute()
        || path
            .components()
            .any(|c| matches!(c, Component::ParentDir | Component::Prefix(_)))
    {
        return Err(FileError::Outside { resolved: None });
    }
    let root = root.canonicalize().map_err(io_error)?;
    let full = root.join(path);
    // Existence first, without following links: a dangling link is "not found".
    std::fs::symlink_metadata(&full).map_err(io_error)?;
    let resolved = full.canonicalize().map_err(io_error)?;
    if !resolved.starts_with(&root) {
        return Err(FileError::Outside {
            resolved: Some(resolved),
        });
    }
    // Before opening: opening a FIFO for reading blocks until someone writes to it.
    let before = std::fs::metadata(&resolved).map_err(io_error)?;
    check_regular(&before, limit)?;
    let file = std::fs::File::open(&resolved).map_err(io_error)?;
    // Again on the handle: what was opened is what is read, whatever happened in between.
    let after = file.metadata().map_err(io_error)?;
    check_regular(&after, limit)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if (before.dev(), before.ino()) != (after.dev(), after.ino()) {
            return Err(FileError::Io(std::io::Error::other(
                "the file was replaced while it was being opened",
            )));
        }
    }
    let mut bytes = Vec::with_capacity(after.len().min(limit.bytes) as usize);
    file.take(limit.bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    if bytes.len() as u64 > limit.bytes {
        return Err(FileError::TooLarge {
            size: limit.bytes,
            over: true,
            limit,
        });
    }
    Ok(bytes)
}

fn check_regular(meta: &std::fs::Metadata, limit: Limit) -> Result<(), FileError> {
    if !meta.is_file() {
        return Err(FileError::NotRegular {
            what: kind_of(&meta.file_type()),
        });
    }
    if meta.len() > limit.bytes {
        return Err(FileError::TooLarge {
            size: meta.len(),
            over: false,
            limit,
        });
    }
    Ok(())
}

fn kind_of(file_type: &std::fs::FileType) -> &'static str {
    if file_type.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if file_type.is_socket() {
            return "a socket";
        }
        if file_type.is_char_device() || file_type.is_block_device() {
            return "a device";
        }
    }
    "a special file"
}

fn io_error(e: std::io::Error) -> FileError {
    if e.kind() == std::io::ErrorKind::NotFound {
        FileError::NotFound
    } else {
        FileError::Io(e)
    }
}

/// Bytes as text in `sources` under `path`. Text that is not UTF-8 is kept (bad bytes
/// shown as `�`) so that the error can point at the first bad byte.
pub(crate) fn add_text(
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
    path: PathBuf,
    bytes: Vec<u8>,
) -> Result<FileId, FileId> {
    match String::from_utf8(bytes) {
        Ok(text) => Ok(sources.add(path, text)),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let byte = e.as_bytes()[at];
            let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
            let name = path.display().to_string();
            let id = sources.add(path, text);
            diags.push(
                Diagnostic::error(format!(
                    "`{name}` is not valid UTF-8: byte 0x{byte:02x} cannot start or continue a character here"
                ))
                .at(Span::new(id, at..at + 1))
                .hint("stack files are UTF-8 text; save the file as UTF-8"),
            );
            Err(id)
        }
    }
}

/// A whole file of the stack (`stack.toml`, an env file), named by its path as given.
/// `None` after reporting why it could not be read.
pub(crate) fn read_stack_file(
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
    dir: &Path,
    rel: &Path,
) -> Option<FileId> {
    let path = dir.join(rel);
    match read_confined(dir, rel, Limit::STACK_FILE) {
        Ok(bytes) => add_text(sources, diags, path, bytes).ok(),
        Err(e) => {
            diags.push(
                Diagnostic::error(format!("`{}` {e}", path.display()))
                    .maybe_hint(e.hint().map(String::from)),
            );
            None
        }
    }
}

/// A file a stack names (`user_data = { template = "files/x.sh" }`), `at` the span of that
/// path. `key` is `template` (user data) or `file` (a public key). `None` after reporting
/// why it could not be read.
pub(crate) fn read_named_file(
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
    dir: &Path,
    rel: &str,
    at: Span,
    field: &str,
    key: &str,
) -> Option<FileId> {
    let limit = if key == "template" {
        Limit::USER_DATA
    } else {
        Limit::PUBLIC_KEY
    };
    let full = dir.join(rel);
    match read_confined(dir, Path::new(rel), limit) {
        Ok(bytes) => add_text(sources, diags, full, bytes).ok(),
        Err(FileError::NotFound) => {
            diags.push(
                Diagnostic::error(format!("{field} file `{rel}` not found"))
                    .at(at)
                    .hint(format!("looked for `{}`", full.display())),
            );
            None
        }
        Err(FileError::Outside { resolved: None }) => {
            diags.push(
                Diagnostic::error(format!("`{rel}` is outside the stack directory"))
                    .at(at)
                    .hint("give a path relative to the stack directory, such as `files/x.sh`"),
            );
            None
        }
        Err(e) => {
            diags.push(
                Diagnostic::error(format!("{field} file `{rel}` {e}"))
                    .at(at)
                    .maybe_hint(e.hint().map(String::from)),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(files: &[(&str, &[u8])]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temporary directory");
        for (name, bytes) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("directories");
            std::fs::write(path, bytes).expect("file");
        }
        dir
    }

    #[test]
    fn reads_a_regular_file_inside() {
        let dir = dir_with(&[("files/a.sh", b"echo hi\n")]);
        let bytes = read_confined(dir.path(), Path::new("files/a.sh"), Limit::USER_DATA);
        assert_eq!(bytes.expect("read"), b"echo hi\n");
    }

    #[test]
    fn refuses_paths_that_leave_the_directory() {
        let dir = dir_with(&[("a", b"")]);
        for path in ["/etc/passwd", "../a", "files/../../a"] {
            let e = read_confined(dir.path(), Path::new(path), Limit::USER_DATA);
            assert!(matches!(e, Err(FileError::Outside { .. })), "{path}: {e:?}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn refuses_a_link_that_leads_out_and_follows_one_that_stays_in() {
        let outside = dir_with(&[("secret", b"AWS_SECRET_ACCESS_KEY=x")]);
        let dir = dir_with(&[("files/real.sh", b"echo in\n")]);
        let files = dir.path().join("files");
        std::os::unix::fs::symlink(outside.path().join("secret"), files.join("out.sh"))
            .expect("link");
        std::os::unix::fs::symlink(outside.path(), dir.path().join("linked")).expect("link");
        std::os::unix::fs::symlink("real.sh", files.join("in.sh")).expect("link");
        let e = read_confined(dir.path(), Path::new("files/out.sh"), Limit::USER_DATA);
        assert!(
            matches!(e, Err(FileError::Outside { resolved: Some(_) })),
            "{e:?}"
        );
        let e = read_confined(dir.path(), Path::new("linked/secret"), Limit::USER_DATA);
        assert!(
            matches!(e, Err(FileError::Outside { resolved: Some(_) })),
            "{e:?}"
        );
        let bytes = read_confined(dir.path(), Path::new("files/in.sh"), Limit::USER_DATA);
        assert_eq!(bytes.expect("read"), b"echo in\n");
    }

    #[cfg(unix)]
    #[test]
    fn refuses_special_files_without_blocking() {
        let dir = dir_with(&[("files/a", b"")]);
        let status = std::process::Command::new("mkfifo")
            .arg(dir.path().join("files/fifo"))
            .status()
            .expect("mkfifo");
        assert!(status.success());
        // Nobody ever writes to it: opening it for reading would block this test forever.
        let e = read_confined(dir.path(), Path::new("files/fifo"), Limit::USER_DATA);
        assert!(
            matches!(e, Err(FileError::NotRegular { what }) if what.contains("FIFO")),
            "{e:?}"
        );
        let e = read_confined(dir.path(), Path::new("files"), Limit::USER_DATA);
        assert!(
            matches!(
                e,
                Err(FileError::NotRegular {
                    what: "a directory"
                })
            ),
            "{e:?}"
        );
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("files/zero")).expect("link");
        // `/dev/zero` is outside; a device inside would be refused as a device.
        let e = read_confined(dir.path(), Path::new("files/zero"), Limit::USER_DATA);
        assert!(matches!(e, Err(FileError::Outside { .. })), "{e:?}");
    }

    #[test]
    fn refuses_oversized_files_before_reading_them() {
        let dir = dir_with(&[("files/a", b"")]);
        // Sparse: 2 GiB long, no blocks; reading it whole would take seconds and gigabytes.
        let file = std::fs::File::create(dir.path().join("big")).expect("create");
        file.set_len(2 << 30).expect("set_len");
        let e = read_confined(dir.path(), Path::new("big"), Limit::STACK_FILE);
        assert!(
            matches!(e, Err(FileError::TooLarge { size, .. }) if size == 2 << 30),
            "{e:?}"
        );
        std::fs::write(
            dir.path().join("files/a"),
            vec![b'x'; USER_DATA_LIMIT as usize + 1],
        )
        .expect("write");
        let e = read_confined(dir.path(), Path::new("files/a"), Limit::USER_DATA)
            .expect_err("too large");
        assert!(e.to_string().contains("16 KiB"), "{e}");
        std::fs::write(
            dir.path().join("files/a"),
            vec![b'x'; USER_DATA_LIMIT as usize],
        )
        .expect("write");
        read_confined(dir.path(), Path::new("files/a"), Limit::USER_DATA).expect("at the limit");
    }

    #[test]
    fn invalid_utf8_is_reported_at_its_first_bad_byte() {
        let mut sources = SourceMap::default();
        let mut diags = Diagnostics::default();
        let bytes = b"[stack]\nname = \"a\xffb\"\n".to_vec();
        let id = add_text(&mut sources, &mut diags, "s.toml".into(), bytes).expect_err("bad");
        let d = diags.iter().next().expect("a diagnostic");
        assert!(d.message.contains("0xff"), "{}", d.message);
        assert_eq!(
            d.location(&sources).map(|l| l.to_string()).as_deref(),
            Some("s.toml:2:10")
        );
        assert_eq!(sources.path(id), Path::new("s.toml"));
    }
}
