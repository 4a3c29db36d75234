//! Corrupt files: every byte of every file of a small directory flipped, every file
//! truncated at every length. Opening returns a typed error naming the damaged file (at
//! or before the damage), or exactly the synced table, or (only for damage to the end
//! of the last segment, indistinguishable from a torn write) the table without the
//! groups whose frames the damage reached. Never a panic, a hang or a wrong record.

mod common;

use std::collections::BTreeMap;

use common::*;
use worktable_persistence::{Corruption, Options, PersistError};

/// A synced directory of a checkpoint and three segments, and where every frame of the
/// last segment ends.
struct Fixture {
    disk: MemoryStorage,
    groups: Vec<Vec<Op>>,
    options: Options,
    checkpoint_seq: u64,
    last_segment: String,
    /// (start, end, last sequence) of each frame of the last segment.
    frames: Vec<(usize, usize, u64)>,
    /// The last segment's base: the sequence before its first frame.
    base: u64,
}

fn fixture() -> Fixture {
    let groups = groups(41, 14, 3);
    let options = Options::default()
        .segment_size(640)
        .checkpoint_block_size(80);
    let disk = MemoryStorage::new();
    let (mut dir, _) = recover(disk.clone(), options.clone()).unwrap();
    let mut log: BTreeMap<String, Vec<(usize, usize, u64)>> = BTreeMap::new();
    let mut checkpoint_seq = 0;
    let newest = |disk: &MemoryStorage| {
        disk.file_names()
            .into_iter()
            .filter(|f| f.ends_with(".log"))
            .max()
            .unwrap()
    };
    for (i, g) in groups.iter().enumerate() {
        dir.append_group(&refs(g)).unwrap();
        dir.sync().unwrap();
        let seg = newest(&disk);
        let end = disk.read(&seg).unwrap().len();
        let frames = log.entry(seg).or_default();
        let start = frames.last().map_or(48, |f| f.1);
        frames.push((start, end, dir.last_seq()));
        if i == 6 {
            checkpoint_seq = dir.last_seq();
            let mut w = dir.begin_checkpoint(checkpoint_seq).unwrap();
            for (pk, row) in state_at(&groups, checkpoint_seq) {
                w.push(&pk, &row).unwrap();
            }
            dir.finish_checkpoint(w, checkpoint_seq).unwrap();
        }
    }
    drop(dir);
    let (last_segment, frames) = log.pop_last().unwrap();
    let base = frames[0].2 - group_len(&groups, frames[0].2);
    let files = disk.file_names();
    assert_eq!(
        files.iter().filter(|f| f.ends_with(".ckpt")).count(),
        1,
        "{files:?}"
    );
    assert!(
        files.iter().filter(|f| f.ends_with(".log")).count() >= 3,
        "{files:?}"
    );
    assert!(frames.len() >= 2, "{frames:?}");
    Fixture {
        disk,
        groups,
        options,
        checkpoint_seq,
        last_segment,
        frames,
        base,
    }
}

/// How many records the group ending at `last` has.
fn group_len(groups: &[Vec<Op>], last: u64) -> u64 {
    groups
        .iter()
        .find(|g| g.last().is_some_and(|op| op.seq == last))
        .map_or(0, |g| g.len() as u64)
}

/// What opening a damaged copy must give: `None` for a typed error, or the last sequence
/// recovered.
enum Expect {
    Error,
    Table(u64),
}

fn check(f: &Fixture, file: &str, content: &[u8], damage_at: usize, expect: Expect, what: &str) {
    let disk = f.disk.snapshot().image(CrashMode::KeepWritten);
    disk.write(file, content);
    let result = recover(disk, f.options.clone());
    match (result, expect) {
        (Err(e), Expect::Error) => match &e {
            PersistError::Corrupt {
                file: named,
                offset,
                ..
            } => {
                assert_eq!(named, file, "{what}: {e}");
                assert!(*offset as usize <= damage_at.max(48), "{what}: {e}");
            }
            PersistError::UnsupportedVersion { file: named, .. } => {
                assert_eq!(named, file, "{what}: {e}")
            }
            other => panic!("{what}: unexpected error kind: {other}"),
        },
        (Ok((_, got)), Expect::Table(last)) => {
            assert_eq!(got.last_seq(), last, "{what}");
            check_prefix(&f.groups, &got, last, last);
        }
        (Err(e), Expect::Table(last)) => {
            panic!("{what}: expected the table through {last}, got {e}")
        }
        (Ok((_, got)), Expect::Error) => {
            panic!(
                "{what}: expected an error, recovered through {}",
                got.last_seq()
            )
        }
    }
}

#[test]
fn every_flipped_byte_is_an_error_or_a_torn_last_frame() {
    let f = fixture();
    let total = f.groups.iter().flatten().count() as u64;
    let (last_start, _, _) = *f.frames.last().unwrap();
    let before_last = f.frames.iter().rev().nth(1).map_or(f.base, |fr| fr.2);
    assert!(before_last >= f.checkpoint_seq);
    let mut flips = 0;
    let mut cut = 0;
    for file in f.disk.file_names() {
        let bytes = f.disk.read(&file).unwrap();
        for i in 0..bytes.len() {
            for mask in [0xff, 0x01] {
                let mut damaged = bytes.clone();
                damaged[i] ^= mask;
                let expect = if file == f.last_segment && i >= last_start {
                    cut += 1;
                    Expect::Table(before_last)
                } else {
                    Expect::Error
                };
                check(
                    &f,
                    &file,
                    &damaged,
                    i,
                    expect,
                    &format!("{file} byte {i} ^ {mask:#x}"),
                );
                flips += 1;
            }
        }
    }
    println!(
        "{flips} byte flips checked, {cut} of them in the last frame (cut as a torn tail); table of {total} operations"
    );
}

#[test]
fn every_truncation_is_an_error_or_a_shorter_last_segment() {
    let f = fixture();
    let mut cuts = 0;
    for file in f.disk.file_names() {
        let bytes = f.disk.read(&file).unwrap();
        for len in 0..bytes.len() {
            let expect = if file == f.last_segment && len >= 48 {
                // Whole frames before the cut survive; the rest is a torn tail.
                let last = f
                    .frames
                    .iter()
                    .filter(|fr| fr.1 <= len)
                    .map(|fr| fr.2)
                    .max()
                    .unwrap_or(f.base);
                if last < f.checkpoint_seq {
                    Expect::Error
                } else {
                    Expect::Table(last)
                }
            } else {
                Expect::Error
            };
            check(
                &f,
                &file,
                &bytes[..len],
                len,
                expect,
                &format!("{file} cut to {len}"),
            );
            cuts += 1;
        }
    }
    println!("{cuts} truncations checked");
}

#[test]
fn a_log_cut_before_the_checkpoint_is_corruption() {
    // The checkpoint covers the whole log; losing synced frames from the log's end then
    // shows as a log that ends before the checkpoint.
    let groups = groups(42, 4, 3);
    let disk = MemoryStorage::new();
    let (mut dir, _) = recover(disk.clone(), Options::default()).unwrap();
    let (early, late) = groups.split_at(2);
    for g in early {
        dir.append_group(&refs(g)).unwrap();
    }
    // The checkpoint is begun at S, the end of every group, before the late groups are
    // appended (as a table's are, from its queue): the segment started by the checkpoint
    // continues after the early groups.
    let logged = dir.last_seq();
    let s = late.last().and_then(|g| g.last()).unwrap().seq;
    let mut w = dir.begin_checkpoint(s).unwrap();
    for g in late {
        dir.append_group(&refs(g)).unwrap();
    }
    for (pk, row) in state_at(&groups, s) {
        w.push(&pk, &row).unwrap();
    }
    dir.finish_checkpoint(w, s).unwrap();
    drop(dir);
    let segment = disk
        .file_names()
        .into_iter()
        .find(|f| f.ends_with(".log"))
        .unwrap();
    let bytes = disk.read(&segment).unwrap();
    disk.write(&segment, &bytes[..48]);
    match recover(disk, Options::default()).unwrap_err() {
        PersistError::Corrupt {
            file,
            reason: Corruption::LogBehindCheckpoint { checkpoint, log },
            ..
        } => assert_eq!((file, checkpoint, log), (segment, s, logged)),
        other => panic!("{other}"),
    }
}
