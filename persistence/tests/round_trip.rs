//! Round trips: groups appended and synced come back exactly after a reopen, with
//! checkpoints in between; segments roll over and are dropped after checkpoints; the
//! real file system behaves like the memory one.

mod common;

use common::*;
use worktable_persistence::{Dir, FsStorage, MemoryStorage, OperationKind, Options, PersistError};

/// Writes `groups`, syncing after each, a checkpoint after every `checkpoint_every`
/// groups (0: none). Returns the directory.
fn write_all(
    dir: &mut Dir,
    groups: &[Vec<Op>],
    checkpoint_every: usize,
) -> Result<(), PersistError> {
    for (i, g) in groups.iter().enumerate() {
        dir.append_group(&refs(g))?;
        dir.sync()?;
        if checkpoint_every > 0 && (i + 1) % checkpoint_every == 0 {
            let s = dir.last_seq();
            let mut w = dir.begin_checkpoint(s)?;
            for (pk, row) in state_at(groups, s) {
                w.push(&pk, &row)?;
            }
            dir.finish_checkpoint(w, s)?;
        }
    }
    Ok(())
}

#[test]
fn an_empty_directory_opens_empty_and_reopens_empty() {
    let disk = MemoryStorage::new();
    let (dir, got) = recover(disk.clone(), Options::default()).unwrap();
    assert_eq!(
        (got.last_seq(), got.rows.len(), got.records.len()),
        (0, 0, 0)
    );
    assert_eq!(dir.last_seq(), 0);
    drop(dir);
    let (_, again) = recover(disk, Options::default()).unwrap();
    assert_eq!(again.last_seq(), 0);
}

#[test]
fn synced_groups_come_back_exactly() {
    let disk = MemoryStorage::new();
    let groups = groups(1, 40, 5);
    let (mut dir, _) = recover(disk.clone(), Options::default()).unwrap();
    write_all(&mut dir, &groups, 0).unwrap();
    let total = dir.last_seq();
    assert_eq!(dir.durable_seq(), total);
    drop(dir);
    let (dir, got) = recover(disk.clone(), Options::default()).unwrap();
    assert_eq!(got.last_seq(), total);
    assert_eq!(got.stats.frames, 40);
    assert_eq!(got.stats.torn_tail, None);
    check_prefix(&groups, &got, total, total);
    assert_eq!(
        dir.last_seq(),
        total,
        "the sequence continues from what was recovered"
    );
    drop(dir);

    // A reopened directory appends after what it recovered.
    let more = groups_after(&groups, 7);
    let (mut dir, _) = recover(disk.clone(), Options::default()).unwrap();
    for g in &more {
        dir.append_group(&refs(g)).unwrap();
    }
    dir.sync().unwrap();
    drop(dir);
    let all: Vec<Vec<Op>> = groups.iter().chain(&more).cloned().collect();
    let (_, got) = recover(disk, Options::default()).unwrap();
    let total = all.iter().flatten().count() as u64;
    check_prefix(&all, &got, total, total);
}

/// More groups continuing the sequence numbers of `groups`.
fn groups_after(groups: &[Vec<Op>], count: usize) -> Vec<Vec<Op>> {
    let start = groups.iter().flatten().count() as u64;
    common::groups(99, count, 4)
        .into_iter()
        .map(|g| {
            g.into_iter()
                .map(|mut op| {
                    op.seq += start;
                    // Keys distinct from the first workload's, so kinds stay consistent.
                    op.pk.insert(0, b'z');
                    op
                })
                .collect()
        })
        .collect()
}

#[test]
fn checkpoints_replace_the_log_before_them() {
    let disk = MemoryStorage::new();
    let groups = groups(2, 30, 4);
    let options = Options::default()
        .segment_size(600)
        .checkpoint_block_size(128);
    let (mut dir, _) = recover(disk.clone(), options.clone()).unwrap();
    write_all(&mut dir, &groups, 7).unwrap();
    let total = dir.last_seq();
    let s = dir.checkpoint_seq();
    assert!(s > 0 && s < total);
    let segments = dir.segment_count();
    drop(dir);

    let (_, got) = recover(disk.clone(), options).unwrap();
    assert_eq!(got.checkpoint_seq, s);
    assert_eq!(got.rows.len(), state_at(&groups, s).len());
    check_prefix(&groups, &got, total, total);
    // Only the segments the last checkpoint still needs are left, plus one checkpoint.
    let files = disk.file_names();
    assert_eq!(
        files.iter().filter(|f| f.ends_with(".ckpt")).count(),
        1,
        "{files:?}"
    );
    assert_eq!(
        files.iter().filter(|f| f.ends_with(".log")).count(),
        segments,
        "{files:?}"
    );
    assert!(!files.iter().any(|f| f.ends_with(".tmp")), "{files:?}");
}

#[test]
fn segments_roll_over_and_are_dropped_after_a_checkpoint() {
    let disk = MemoryStorage::new();
    let groups = groups(3, 50, 3);
    let options = Options::default().segment_size(512);
    let (mut dir, _) = recover(disk.clone(), options.clone()).unwrap();
    write_all(&mut dir, &groups, 0).unwrap();
    let rolled = dir.segment_count();
    assert!(rolled > 5, "{rolled} segments");
    drop(dir);
    let (mut dir, got) = recover(disk.clone(), options.clone()).unwrap();
    assert_eq!(got.stats.segments, rolled as u64);
    let total = dir.last_seq();
    check_prefix(&groups, &got, total, total);

    let w = {
        let mut w = dir.begin_checkpoint(total).unwrap();
        for (pk, row) in state_at(&groups, total) {
            w.push(&pk, &row).unwrap();
        }
        w
    };
    dir.finish_checkpoint(w, total).unwrap();
    assert_eq!(
        dir.segment_count(),
        1,
        "every closed segment held only operations <= S"
    );
    drop(dir);
    assert_eq!(
        disk.file_names()
            .iter()
            .filter(|f| f.ends_with(".log"))
            .count(),
        1
    );
    let (_, got) = recover(disk, options).unwrap();
    assert_eq!((got.checkpoint_seq, got.records.len()), (total, 0));
    assert_eq!(got.state(), state_at(&groups, total));
}

#[test]
fn a_fuzzy_checkpoint_is_exact_after_replay() {
    // The scan sees some operations after S; replaying everything after S fixes it up.
    let disk = MemoryStorage::new();
    let groups = groups(4, 20, 3);
    let (mut dir, _) = recover(disk.clone(), Options::default()).unwrap();
    for g in &groups[..10] {
        dir.append_group(&refs(g)).unwrap();
    }
    let s = dir.last_seq();
    let mut w = dir.begin_checkpoint(s).unwrap();
    for g in &groups[10..] {
        dir.append_group(&refs(g)).unwrap();
    }
    let end = dir.last_seq();
    // The scan saw the state at `end` (everything committed during it).
    for (pk, row) in state_at(&groups, end) {
        w.push(&pk, &row).unwrap();
    }
    dir.finish_checkpoint(w, end).unwrap();
    assert_eq!(
        dir.durable_seq(),
        end,
        "finishing a checkpoint syncs the log it relies on"
    );
    drop(dir);
    let (_, got) = recover(disk, Options::default()).unwrap();
    assert_eq!(got.checkpoint_seq, s);
    check_prefix(&groups, &got, end, end);
}

#[test]
fn a_checkpoint_ahead_of_the_log_is_refused_and_nothing_breaks() {
    let disk = MemoryStorage::new();
    let groups = groups(5, 3, 2);
    let (mut dir, _) = recover(disk.clone(), Options::default()).unwrap();
    dir.append_group(&refs(&groups[0])).unwrap();
    let w = dir.begin_checkpoint(dir.last_seq()).unwrap();
    let err = dir.finish_checkpoint(w, dir.last_seq() + 5).unwrap_err();
    assert!(
        matches!(err, PersistError::CheckpointAheadOfLog { .. }),
        "{err}"
    );
    // Not sticky: the log goes on.
    dir.append_group(&refs(&groups[1])).unwrap();
    dir.sync().unwrap();
    let err = dir.append_group(&refs(&groups[1])).unwrap_err();
    assert!(
        matches!(err, PersistError::SequenceMismatch { .. }),
        "{err}"
    );
    dir.append_group(&refs(&groups[2])).unwrap();
    dir.sync().unwrap();
    drop(dir);
    let (_, got) = recover(disk.clone(), Options::default()).unwrap();
    let total = groups.iter().flatten().count() as u64;
    check_prefix(&groups, &got, total, total);
    assert!(
        !disk.file_names().iter().any(|f| f.ends_with(".tmp")),
        "the abandoned checkpoint's temp file is removed on open"
    );
}

#[test]
fn large_groups_and_rows_round_trip() {
    let disk = MemoryStorage::new();
    let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let group: Vec<Op> = (1..=50)
        .map(|seq| Op {
            seq,
            kind: worktable_persistence::OperationKind::Insert,
            pk: seq.to_be_bytes().to_vec(),
            row: Some(big[..(seq as usize * 2000)].to_vec()),
        })
        .collect();
    let options = Options::default().segment_size(4096);
    let (mut dir, _) = recover(disk.clone(), options.clone()).unwrap();
    dir.append_group(&refs(&group)).unwrap();
    let mut w = dir.begin_checkpoint(50).unwrap();
    for op in &group {
        w.push(&op.pk, op.row.as_deref().unwrap()).unwrap();
    }
    dir.finish_checkpoint(w, 50).unwrap();
    drop(dir);
    let (_, got) = recover(disk, options).unwrap();
    assert_eq!(got.rows.len(), 50);
    assert_eq!(got.state(), state_at(&[group], 50));
}

#[test]
fn the_file_system_round_trips_too() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("table");
    let groups = groups(6, 25, 4);
    let options = Options::default().segment_size(700);
    let (mut dir, _) = recover(FsStorage::new(&path).unwrap(), options.clone()).unwrap();
    write_all(&mut dir, &groups, 9).unwrap();
    let total = dir.last_seq();
    drop(dir);
    let (_, got) = recover(FsStorage::new(&path).unwrap(), options).unwrap();
    check_prefix(&groups, &got, total, total);
    assert!(got.checkpoint_seq > 0);
}

#[test]
fn odd_length_keys_and_rows_are_stored_unpadded_and_come_back_aligned() {
    // Row lengths around every varint width (1, 2 and 3 bytes) and none a multiple of 16
    // but the empty one; keys of 4 to 22 bytes.
    let lengths = [
        0, 1, 3, 7, 15, 17, 31, 33, 47, 49, 127, 128, 129, 255, 16383, 16384, 5, 9,
    ];
    let rows: Vec<(Vec<u8>, Vec<u8>)> = lengths
        .iter()
        .enumerate()
        .map(|(i, &len)| {
            let mut pk = format!("{i:03}").into_bytes();
            pk.resize(4 + i % 19, b'k');
            let row = (0..len).map(|j| (i * 31 + j) as u8).collect();
            (pk, row)
        })
        .collect();
    for block_size in [64 << 10, 100] {
        let disk = MemoryStorage::new();
        let options = Options::default().checkpoint_block_size(block_size);
        let (mut dir, _) = recover(disk.clone(), options.clone()).unwrap();
        let mut w = dir.begin_checkpoint(0).unwrap();
        for (pk, row) in &rows {
            w.push(pk, row).unwrap();
        }
        dir.finish_checkpoint(w, 0).unwrap();
        drop(dir);
        if block_size == 64 << 10 {
            // One block: file header, block header, the entries (two varint lengths,
            // the key, the row, nothing else), footer.
            let varint = |n: usize| match n {
                0..128 => 1,
                128..16384 => 2,
                _ => 3,
            };
            let entries: usize = rows
                .iter()
                .map(|(pk, row)| varint(pk.len()) + varint(row.len()) + pk.len() + row.len())
                .sum();
            let ckpt = disk
                .file_names()
                .into_iter()
                .find(|f| f.ends_with(".ckpt"))
                .unwrap();
            assert_eq!(disk.read(&ckpt).unwrap().len(), 48 + 16 + entries + 32);
        }

        let mut rec = Dir::open(disk.clone(), &schema(), options.clone()).unwrap();
        let mut got = Vec::new();
        while let Some(r) = rec.next_row().unwrap() {
            for part in [r.pk, r.row] {
                assert!(
                    part.is_empty() || (part.as_ptr() as usize).is_multiple_of(16),
                    "row {} (block size {block_size}) is not 16-byte aligned",
                    got.len()
                );
            }
            got.push((r.pk.to_vec(), r.row.to_vec()));
        }
        rec.finish().unwrap();
        assert_eq!(got, rows, "block size {block_size}");
    }
}

/// The log segments in directory `path`, in file-number order.
fn segment_files(path: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut segments: Vec<_> = std::fs::read_dir(path)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    segments.sort();
    segments
}

#[test]
fn on_the_real_file_system_the_last_segment_holds_zeros_ahead_that_a_reopen_cuts_quietly() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("table");
    let groups = groups(7, 30, 4);
    let options = Options::default().segment_size(900);
    let (mut dir, _) = recover(FsStorage::new(&path).unwrap(), options.clone()).unwrap();
    write_all(&mut dir, &groups, 0).unwrap();
    let total = dir.last_seq();
    assert!(dir.segment_count() > 1);
    drop(dir);
    let mut segments = segment_files(&path);
    let last = segments.pop().unwrap();
    let bytes = std::fs::read(&last).unwrap();
    assert!(
        bytes.len() >= 1 << 20,
        "zeros preallocated after the frames"
    );
    assert!(bytes.ends_with(&[0; 4096]));
    for closed in &segments {
        // Segments of about 900 bytes: closed ones end at their last frame.
        assert!(
            std::fs::metadata(closed).unwrap().len() < 4096,
            "{closed:?}"
        );
    }
    let (mut dir, got) = recover(FsStorage::new(&path).unwrap(), options.clone()).unwrap();
    assert_eq!(got.stats.torn_tail, None);
    check_prefix(&groups, &got, total, total);
    assert!(
        std::fs::metadata(&last).unwrap().len() < 4096,
        "cut at the last frame"
    );
    // Appends go on after the last frame, into zeros preallocated again.
    let more: Vec<Op> = (total + 1..=total + 3)
        .map(|seq| Op {
            seq,
            kind: OperationKind::Insert,
            pk: format!("more-{seq}").into_bytes(),
            row: Some(vec![7; 40]),
        })
        .collect();
    for op in &more {
        dir.append_group(&[op.record()]).unwrap();
        dir.sync().unwrap();
    }
    drop(dir);
    let (_, again) = recover(FsStorage::new(&path).unwrap(), options).unwrap();
    assert_eq!(again.stats.torn_tail, None);
    assert_eq!(again.last_seq(), total + 3);
    let mut state = state_at(&groups, total);
    for op in &more {
        apply(&mut state, op);
    }
    assert_eq!(again.state(), state);
}

#[test]
fn without_preallocation_the_last_segment_ends_with_its_last_frame() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("table");
    let groups = groups(9, 10, 3);
    let options = Options::default().preallocate(0);
    let (mut dir, _) = recover(FsStorage::new(&path).unwrap(), options.clone()).unwrap();
    write_all(&mut dir, &groups, 0).unwrap();
    let total = dir.last_seq();
    drop(dir);
    let [segment] = &segment_files(&path)[..] else {
        panic!("one segment");
    };
    assert!(std::fs::metadata(segment).unwrap().len() < 4096);
    let (_, got) = recover(FsStorage::new(&path).unwrap(), options).unwrap();
    assert_eq!(got.stats.torn_tail, None);
    check_prefix(&groups, &got, total, total);
}
