//! Fault injection: every storage call of a workload fails in turn. The failure is a
//! typed I/O error; the directory is failed for good afterwards (sticky, never a retry
//! of a failed sync); reopening, with or without the unsynced bytes, recovers every
//! acknowledged group and never a partial one.

mod common;

use common::*;
use worktable_persistence::PersistError;

#[test]
fn every_failed_call_is_typed_sticky_and_loses_nothing_acknowledged() {
    let groups = groups(21, 14, 4);
    let options = small_options();
    let clean = MemoryStorage::new();
    let run = run_workload(clean.clone(), &groups, options.clone());
    assert!(run.error.is_none());
    let calls = clean.calls();
    assert!(calls > 100, "only {calls} calls");

    let mut sticky_checked = 0;
    for n in 1..=calls {
        let disk = MemoryStorage::new();
        disk.fail_call(n);
        let mut run = run_workload(disk.clone(), &groups, options.clone());
        let err = run
            .error
            .take()
            .unwrap_or_else(|| panic!("call {n} failed silently"));
        assert!(matches!(err, PersistError::Io { .. }), "call {n}: {err}");

        if let Some(dir) = run.dir.as_mut() {
            let next = Op {
                seq: dir.last_seq() + 1,
                kind: worktable_persistence::OperationKind::Insert,
                pk: b"after".to_vec(),
                row: Some(b"the failure".to_vec()),
            };
            let sticky = |e: PersistError| matches!(e, PersistError::PreviousError { .. });
            assert!(
                sticky(dir.append_group(&[next.record()]).unwrap_err()),
                "call {n}"
            );
            assert!(sticky(dir.sync().unwrap_err()), "call {n}");
            assert!(
                sticky(dir.begin_checkpoint(dir.last_seq()).unwrap_err()),
                "call {n}"
            );
            sticky_checked += 1;
        }
        drop(run.dir);

        // The process restarts (the OS kept what was written) ...
        let snap = disk.snapshot();
        let (_, got) = recover(snap.image(CrashMode::KeepWritten), options.clone())
            .unwrap_or_else(|e| panic!("call {n}, reopen: {e}"));
        check_prefix(&groups, &got, run.acked, run.attempted);
        // ... or the machine lost what was not synced (as after a failed fsync).
        let (_, got) = recover(snap.image(CrashMode::LoseUnsynced), options.clone())
            .unwrap_or_else(|e| panic!("call {n}, reopen after power loss: {e}"));
        check_prefix(&groups, &got, run.acked, run.attempted);
    }
    println!("{calls} failed calls checked, {sticky_checked} of them on an open directory");
}

#[test]
fn a_failed_checkpoint_push_fails_the_directory() {
    let disk = MemoryStorage::new();
    let groups = groups(22, 3, 2);
    let (mut dir, _) = recover(disk.clone(), small_options()).unwrap();
    for g in &groups {
        dir.append_group(&refs(g)).unwrap();
    }
    let s = dir.last_seq();
    let mut w = dir.begin_checkpoint(s).unwrap();
    disk.fail_call(disk.calls() + 1);
    let err = (0..100u32)
        .find_map(|i| w.push(&i.to_be_bytes(), &[7; 40]).err())
        .expect("a block write fails");
    assert!(matches!(err, PersistError::Io { .. }), "{err}");
    assert!(matches!(
        dir.sync().unwrap_err(),
        PersistError::PreviousError { .. }
    ));
    assert!(matches!(
        dir.finish_checkpoint(w, s).unwrap_err(),
        PersistError::PreviousError { .. }
    ));
}
