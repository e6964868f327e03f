//! Writing the generated directory: refused when it holds anything (unless forced), each
//! file written whole to a temporary name beside it and renamed into place, so a file is
//! either the old one or the new one, never half written.

use std::io::Write as _;
use std::path::Path;

use super::Generated;

/// Whether `dir` may be written: it does not exist, or is an empty directory, or `force`.
pub fn check_dir(dir: &Path, force: bool) -> Result<(), String> {
    match std::fs::read_dir(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("cannot read `{}`: {e}", dir.display())),
        Ok(mut entries) => {
            if entries.next().is_none() || force {
                Ok(())
            } else {
                Err(format!(
                    "`{}` is not empty: generate writes a new stack directory (pass --force to \
                     overwrite the files it writes there)",
                    dir.display()
                ))
            }
        }
    }
}

/// Write every file of `generated` under `dir`.
pub fn write_dir(dir: &Path, generated: &Generated, force: bool) -> Result<(), String> {
    check_dir(dir, force)?;
    for (relative, content) in &generated.files {
        let path = dir.join(relative);
        let parent = path.parent().unwrap_or(dir);
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create `{}`: {e}", parent.display()))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temporary = parent.join(format!(".{name}.{}.tmp", std::process::id()));
        let written = std::fs::File::create(&temporary).and_then(|mut f| {
            f.write_all(content.as_bytes())?;
            f.sync_all()
        });
        if let Err(e) = written.and_then(|()| std::fs::rename(&temporary, &path)) {
            let _ = std::fs::remove_file(&temporary);
            return Err(format!("cannot write `{}`: {e}", path.display()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_with_files_is_refused_unless_forced() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let target = dir.path().join("new");
        let mut generated = Generated::default();
        generated
            .files
            .insert("stack.toml".into(), "[stack]\nname = \"x\"\n".into());
        generated
            .files
            .insert("env/prod.toml".into(), "region = \"eu-west-1\"\n".into());
        write_dir(&target, &generated, false).expect("a new directory is written");
        assert_eq!(
            std::fs::read_to_string(target.join("env/prod.toml")).expect("env file"),
            "region = \"eu-west-1\"\n"
        );
        let err = write_dir(&target, &generated, false).expect_err("not empty");
        assert!(
            err.contains("is not empty") && err.contains("--force"),
            "{err}"
        );
        generated
            .files
            .insert("stack.toml".into(), "[stack]\nname = \"y\"\n".into());
        write_dir(&target, &generated, true).expect("forced");
        assert!(
            std::fs::read_to_string(target.join("stack.toml"))
                .expect("stack")
                .contains("\"y\"")
        );
        let left: Vec<_> = std::fs::read_dir(&target)
            .expect("dir")
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
}
