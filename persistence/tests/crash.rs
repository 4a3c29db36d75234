//! Power loss at every sync point of a workload (appends, syncs, rollovers,
//! checkpoints): the reopened directory holds a prefix of the commit groups that ends
//! at a group boundary and includes every group a sync acknowledged before the crash;
//! the records and the state are exactly the workload's. A crash during the recovery of
//! such a directory changes nothing.
//!
//! The crash images keep nothing unsynced, everything written, torn prefixes of the
//! unsynced writes, and out-of-order writeback (a later frame surviving an earlier,
//! lost one: still a torn tail, because the later frame records that the earlier one
//! had not been synced when it was written).

mod common;

use common::*;
use worktable_persistence::OperationKind;

fn workload_groups() -> Vec<Vec<Op>> {
    groups(11, 16, 4)
}

#[test]
fn every_sync_point_recovers_an_acknowledged_prefix() {
    let groups = workload_groups();
    let options = small_options();
    let total = groups.iter().flatten().count() as u64;

    let clean = MemoryStorage::new();
    let run = run_workload(clean.clone(), &groups, options.clone());
    assert!(run.error.is_none(), "{:?}", run.error);
    assert_eq!(run.acked, total);
    let sync_points = clean.syncs();
    assert!(sync_points > 30, "only {sync_points} sync points");

    let modes = crash_modes(8 + 40 * soak());
    let mut checked = 0;
    let mut torn_tails = 0;
    let mut reordered_tails = 0;
    let mut reordered_cut = 0;
    for k in 1..=sync_points {
        let disk = MemoryStorage::new();
        disk.crash_at_sync(k);
        let run = run_workload(disk.clone(), &groups, options.clone());
        assert!(
            run.error.is_some(),
            "the crash at sync {k} stops the workload"
        );
        drop(run.dir);
        let snap = disk.crash_snapshot().expect("the crash point was reached");
        for &mode in &modes {
            let image = snap.image(mode);
            let (dir, got) = recover(image.clone(), options.clone())
                .unwrap_or_else(|e| panic!("crash at sync {k}, {mode:?}: {e}"));
            check_prefix(&groups, &got, run.acked, run.attempted);
            torn_tails += u64::from(got.stats.torn_tail.is_some());
            if let (CrashMode::Reordered { .. }, Some(t)) = (mode, &got.stats.torn_tail) {
                reordered_tails += 1;
                reordered_cut += t.bytes;
            }
            drop(dir);
            // Recovery is stable: the next open finds the same table and no torn tail.
            let (_, again) = recover(image, options.clone()).unwrap();
            assert_eq!(
                (again.last_seq(), again.state()),
                (got.last_seq(), got.state())
            );
            assert_eq!(again.stats.torn_tail, None);
            checked += 1;
        }
    }
    println!(
        "{sync_points} sync points, {checked} crash images checked, {torn_tails} torn tails cut \
         ({reordered_tails} after out-of-order writeback, {reordered_cut} bytes)"
    );
    assert!(torn_tails > 0, "the torn modes produced torn tails");
    assert!(
        reordered_tails > 0,
        "out-of-order writeback produced torn tails"
    );
}

#[test]
fn a_crash_during_recovery_changes_nothing() {
    let groups = workload_groups();
    let options = small_options();
    let clean = MemoryStorage::new();
    run_workload(clean.clone(), &groups, options.clone());
    let sync_points = clean.syncs();

    let mut checked = 0;
    // Crash images with unsynced state (torn tails, orphan files) at every fifth point.
    for k in (1..=sync_points).step_by(5) {
        let disk = MemoryStorage::new();
        disk.crash_at_sync(k);
        run_workload(disk.clone(), &groups, options.clone());
        let crashed = disk
            .crash_snapshot()
            .unwrap()
            .image(CrashMode::Torn { seed: k });
        let base = crashed.snapshot();
        let (_, want) = recover(base.image(CrashMode::KeepWritten), options.clone()).unwrap();

        let probe = base.image(CrashMode::KeepWritten);
        let before = probe.syncs();
        recover(probe.clone(), options.clone()).unwrap();
        let recovery_syncs = probe.syncs() - before;
        assert!(
            recovery_syncs >= 2,
            "recovery syncs the log and the directory"
        );

        for j in 1..=recovery_syncs {
            let disk = base.image(CrashMode::KeepWritten);
            disk.crash_at_sync(disk.syncs() + j);
            assert!(recover(disk.clone(), options.clone()).is_err());
            for mode in crash_modes(3) {
                let image = disk.crash_snapshot().unwrap().image(mode);
                let (_, got) = recover(image, options.clone())
                    .unwrap_or_else(|e| panic!("point {k}, recovery sync {j}, {mode:?}: {e}"));
                assert_eq!(
                    got.last_seq(),
                    want.last_seq(),
                    "point {k}, recovery sync {j}, {mode:?}"
                );
                assert_eq!(got.state(), want.state());
                checked += 1;
            }
        }
    }
    println!("{checked} crashes during recovery checked");
}

/// The length of the frame of `group`, appended after sequence number `after`.
fn frame_len(group: &[Op], after: u64) -> usize {
    let disk = MemoryStorage::new();
    let (mut dir, _) = recover(disk.clone(), Default::default()).unwrap();
    let filler: Vec<Op> = (1..=after)
        .map(|seq| Op {
            seq,
            kind: OperationKind::Delete,
            pk: vec![0],
            row: None,
        })
        .collect();
    if !filler.is_empty() {
        dir.append_group(&refs(&filler)).unwrap();
    }
    dir.sync().unwrap();
    let segment = disk
        .file_names()
        .into_iter()
        .find(|f| f.ends_with(".log"))
        .unwrap();
    let before = disk.read(&segment).unwrap().len();
    dir.append_group(&refs(group)).unwrap();
    dir.sync().unwrap();
    disk.read(&segment).unwrap().len() - before
}

/// Writes three groups: the first synced, the second and third not. Returns the disk,
/// the segment's name and where the second frame starts and ends.
fn three_frames(sync_second: bool) -> (MemoryStorage, Vec<Vec<Op>>, String, usize, usize) {
    let groups = groups(31, 3, 3);
    let disk = MemoryStorage::new();
    let (mut dir, _) = recover(disk.clone(), Default::default()).unwrap();
    let segment = disk
        .file_names()
        .into_iter()
        .find(|f| f.ends_with(".log"))
        .unwrap();
    dir.append_group(&refs(&groups[0])).unwrap();
    dir.sync().unwrap();
    let start = disk.read(&segment).unwrap().len();
    dir.append_group(&refs(&groups[1])).unwrap();
    if sync_second {
        dir.sync().unwrap();
    }
    // Appends are written at the next sync: the second frame's length is measured on a
    // disk of its own (a frame's length depends only on its records).
    let end = start + frame_len(&groups[1], groups[0].last().unwrap().seq);
    dir.append_group(&refs(&groups[2])).unwrap();
    dir.sync().unwrap();
    drop(dir);
    (disk, groups, segment, start, end)
}

#[test]
fn a_later_frame_surviving_a_lost_one_is_still_a_torn_tail() {
    let (disk, groups, segment, start, end) = three_frames(false);
    let mut bytes = disk.read(&segment).unwrap();
    bytes[start..end].fill(0); // the second frame never reached the disk, the third did
    disk.write(&segment, &bytes);
    let (_, got) = recover(disk, Default::default()).unwrap();
    let first = groups[0].last().unwrap().seq;
    assert_eq!(got.last_seq(), first);
    check_prefix(&groups, &got, first, first);
    let torn = got.stats.torn_tail.unwrap();
    assert_eq!(torn.offset, start as u64);
}

#[test]
fn a_damaged_frame_that_had_been_synced_is_corruption() {
    let (disk, _, segment, start, end) = three_frames(true);
    let mut bytes = disk.read(&segment).unwrap();
    bytes[start..end].fill(0);
    disk.write(&segment, &bytes);
    let err = recover(disk, Default::default()).unwrap_err();
    match err {
        worktable_persistence::PersistError::Corrupt {
            file,
            offset,
            reason: worktable_persistence::Corruption::DamagedBeforeSyncedData { later_frame },
        } => {
            assert_eq!(
                (file, offset, later_frame),
                (segment, start as u64, end as u64)
            );
        }
        other => panic!("{other}"),
    }
}

#[test]
fn zeros_after_the_last_frame_are_cut_without_being_called_a_torn_tail() {
    let (disk, groups, segment, _, _) = three_frames(true);
    let mut bytes = disk.read(&segment).unwrap();
    let frames_end = bytes.len();
    // Preallocated space, as the real file system's segments hold it, of a length that
    // is no multiple of anything.
    bytes.resize(frames_end + 70_001, 0);
    disk.write(&segment, &bytes);
    let (_, got) = recover(disk.clone(), Default::default()).unwrap();
    let all = groups[2].last().unwrap().seq;
    assert_eq!(got.last_seq(), all);
    check_prefix(&groups, &got, all, all);
    assert_eq!(got.stats.torn_tail, None);
    assert_eq!(
        disk.read(&segment).unwrap().len(),
        frames_end,
        "cut at the last frame"
    );
}
