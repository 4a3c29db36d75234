//! What opening refuses, with a typed error: a different schema (naming every
//! difference), a directory another handle holds, a manifest naming a missing file,
//! table data without a manifest, a format version this build does not read. Plus the
//! misuse a directory refuses without failing.

mod common;

use common::*;
use worktable_persistence::{
    Corruption, Dir, FsStorage, MemoryStorage, OperationKind, Options, PersistError, Record,
};

fn table_with_data(disk: &MemoryStorage) {
    let groups = groups(51, 5, 3);
    let (mut dir, _) = recover(disk.clone(), Options::default()).unwrap();
    for g in &groups {
        dir.append_group(&refs(g)).unwrap();
    }
    let s = dir.last_seq();
    let mut w = dir.begin_checkpoint(s).unwrap();
    for (pk, row) in state_at(&groups, s) {
        w.push(&pk, &row).unwrap();
    }
    dir.finish_checkpoint(w, s).unwrap();
}

#[test]
fn a_different_schema_is_refused_naming_what_differs() {
    let disk = MemoryStorage::new();
    table_with_data(&disk);
    let mut changed = schema();
    changed.columns[1].ty = "i64".into();
    changed.columns[2].optional = true;
    changed.indexes[0].unique = true;
    let err = Dir::open(disk.clone(), &changed, Options::default()).unwrap_err();
    let PersistError::SchemaMismatch { differences } = &err else {
        panic!("{err}")
    };
    let what: Vec<&str> = differences.iter().map(|d| d.what.as_str()).collect();
    assert_eq!(
        what,
        [
            "column 1 (`another`) type",
            "column 2 (`exchange`) optional",
            "index 0 (`exchange_idx`) unique"
        ]
    );
    assert!(
        err.to_string()
            .contains("column 1 (`another`) type: stored `u64`, given `i64`"),
        "{err}"
    );

    let mut fewer = schema();
    fewer.columns.pop();
    let err = Dir::open(disk.clone(), &fewer, Options::default()).unwrap_err();
    // A column removed: both lists, so the missing one shows.
    assert!(
        err.to_string().contains(
            "columns: stored `id: u64, another: u64, exchange: String`, given `id: u64, another: u64`"
        ),
        "{err}"
    );
    // The refusal took nothing: the right schema opens.
    recover(disk, Options::default()).unwrap();
}

#[test]
fn a_second_opener_is_refused_until_the_first_is_dropped() {
    let disk = MemoryStorage::new();
    let (dir, _) = recover(disk.clone(), Options::default()).unwrap();
    assert!(matches!(
        Dir::open(disk.clone(), &schema(), Options::default()).unwrap_err(),
        PersistError::Locked
    ));
    drop(dir);
    let recovery = Dir::open(disk.clone(), &schema(), Options::default()).unwrap();
    assert!(
        matches!(
            Dir::open(disk.clone(), &schema(), Options::default()).unwrap_err(),
            PersistError::Locked
        ),
        "a recovery in progress holds the lock too"
    );
    drop(recovery);
    assert!(!disk.is_locked());
}

#[test]
fn a_second_opener_of_a_real_directory_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = recover(FsStorage::new(tmp.path()).unwrap(), Options::default()).unwrap();
    let err = Dir::open(
        FsStorage::new(tmp.path()).unwrap(),
        &schema(),
        Options::default(),
    )
    .unwrap_err();
    assert!(matches!(err, PersistError::Locked), "{err}");
    drop(dir);
    recover(FsStorage::new(tmp.path()).unwrap(), Options::default()).unwrap();
}

#[test]
fn a_manifest_naming_a_missing_file_is_refused() {
    for suffix in [".log", ".ckpt"] {
        let disk = MemoryStorage::new();
        table_with_data(&disk);
        let victim = disk
            .file_names()
            .into_iter()
            .find(|f| f.ends_with(suffix))
            .unwrap();
        disk.delete(&victim);
        match Dir::open(disk, &schema(), Options::default()).unwrap_err() {
            PersistError::MissingFile { file } => assert_eq!(file, victim),
            other => panic!("{other}"),
        }
    }
}

#[test]
fn table_data_without_a_manifest_is_refused_not_overwritten() {
    let disk = MemoryStorage::new();
    table_with_data(&disk);
    disk.delete("MANIFEST");
    let before = disk.file_names();
    match Dir::open(disk.clone(), &schema(), Options::default()).unwrap_err() {
        PersistError::MissingManifest { files } => {
            assert!(!files.is_empty());
            assert!(files.iter().all(|f| before.contains(f)));
        }
        other => panic!("{other}"),
    }
    assert_eq!(disk.file_names(), before, "nothing was touched");
}

#[test]
fn another_format_version_is_refused() {
    let disk = MemoryStorage::new();
    table_with_data(&disk);
    let mut manifest = disk.read("MANIFEST").unwrap();
    manifest[8] = 3;
    disk.write("MANIFEST", &manifest);
    match Dir::open(disk, &schema(), Options::default()).unwrap_err() {
        PersistError::UnsupportedVersion {
            file,
            found,
            supported,
        } => assert_eq!((file.as_str(), found, supported), ("MANIFEST", 3, 2)),
        other => panic!("{other}"),
    }
}

#[test]
fn a_version_1_checkpoint_is_refused_not_misread() {
    // Version 1 padded checkpoint rows to 16 bytes; read as version 2 its bytes would
    // mean other lengths. The version in its header stops the reader first.
    let disk = MemoryStorage::new();
    table_with_data(&disk);
    let ckpt = disk
        .file_names()
        .into_iter()
        .find(|f| f.ends_with(".ckpt"))
        .unwrap();
    let mut bytes = disk.read(&ckpt).unwrap();
    bytes[8] = 1;
    disk.write(&ckpt, &bytes);
    match Dir::open(disk, &schema(), Options::default()).unwrap_err() {
        PersistError::UnsupportedVersion {
            file,
            found,
            supported,
        } => assert_eq!((file, found, supported), (ckpt, 1, 2)),
        other => panic!("{other}"),
    }
}

#[test]
fn foreign_files_are_left_alone_and_crash_leftovers_removed() {
    let disk = MemoryStorage::new();
    table_with_data(&disk);
    disk.write("notes.txt", b"mine");
    disk.write("MANIFEST.tmp", b"half a manifest");
    disk.write("00000000000000000099.ckpt.tmp", b"half a checkpoint");
    disk.write("00000000000000000098.log", b"an orphan segment");
    recover(disk.clone(), Options::default()).unwrap();
    let files = disk.file_names();
    assert!(files.contains(&"notes.txt".to_string()));
    for gone in [
        "MANIFEST.tmp",
        "00000000000000000099.ckpt.tmp",
        "00000000000000000098.log",
    ] {
        assert!(!files.contains(&gone.to_string()), "{gone} in {files:?}");
    }
}

#[test]
fn recovery_errors_are_final() {
    let disk = MemoryStorage::new();
    table_with_data(&disk);
    let ckpt = disk
        .file_names()
        .into_iter()
        .find(|f| f.ends_with(".ckpt"))
        .unwrap();
    let mut bytes = disk.read(&ckpt).unwrap();
    bytes[60] ^= 1;
    disk.write(&ckpt, &bytes);
    let mut rec = Dir::open(disk, &schema(), Options::default()).unwrap();
    let err = rec.next_row().unwrap_err();
    assert!(
        matches!(&err, PersistError::Corrupt { file, offset: 48, reason: Corruption::BadChecksum } if *file == ckpt),
        "{err}"
    );
    assert!(matches!(
        rec.next_record().unwrap_err(),
        PersistError::PreviousError { .. }
    ));
    assert!(matches!(
        rec.finish().unwrap_err(),
        PersistError::PreviousError { .. }
    ));
}

#[test]
fn misuse_is_refused_without_failing_the_directory() {
    let disk = MemoryStorage::new();
    let (mut dir, _) = recover(disk.clone(), Options::default()).unwrap();
    let insert = |seq| Record {
        seq,
        kind: OperationKind::Insert,
        pk: b"k",
        row: Some(b"r"),
    };
    assert!(matches!(
        dir.append_group(&[]),
        Err(PersistError::EmptyGroup)
    ));
    assert!(matches!(
        dir.append_group(&[insert(2)]),
        Err(PersistError::SequenceMismatch {
            expected: 1,
            found: 2
        })
    ));
    assert!(matches!(
        dir.append_group(&[insert(1), insert(3)]),
        Err(PersistError::SequenceMismatch {
            expected: 2,
            found: 3
        })
    ));
    let delete_with_row = Record {
        seq: 1,
        kind: OperationKind::Delete,
        pk: b"k",
        row: Some(b"r"),
    };
    assert!(matches!(
        dir.append_group(&[delete_with_row]),
        Err(PersistError::InvalidRecord { seq: 1, .. })
    ));
    dir.append_group(&[insert(1)]).unwrap();
    let w = dir.begin_checkpoint(1).unwrap();
    dir.finish_checkpoint(w, 1).unwrap();
    assert!(matches!(
        dir.begin_checkpoint(0),
        Err(PersistError::CheckpointNotNewer { seq: 0, current: 1 })
    ));

    // A writer begun on another handle of another directory is refused.
    let other_disk = MemoryStorage::new();
    let (mut other, _) = recover(other_disk, Options::default()).unwrap();
    other.append_group(&[insert(1)]).unwrap();
    let foreign = other.begin_checkpoint(1).unwrap();
    assert!(matches!(
        dir.finish_checkpoint(foreign, 1),
        Err(PersistError::ForeignCheckpoint)
    ));

    dir.append_group(&[insert(2)]).unwrap();
    assert_eq!(dir.sync().unwrap(), 2, "none of that failed the directory");
}
