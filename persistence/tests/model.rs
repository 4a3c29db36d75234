//! Random sequences of steps (append a group, sync, checkpoint, fuzzy checkpoint,
//! reopen, crash and reopen) checked against a model after every reopen: the table
//! recovered is the model's groups up to a group boundary at or after the last
//! acknowledged one (exactly all of them after a clean reopen), and appending goes on
//! from there. `WORKTABLE_PERSIST_SOAK=N` runs more seeds and longer sequences.

mod common;

use common::*;
use worktable_persistence::{Dir, OperationKind, Options};

struct Model {
    groups: Vec<Vec<Op>>,
    acked: u64,
    attempted: u64,
}

impl Model {
    fn last(&self) -> u64 {
        self.groups
            .last()
            .and_then(|g| g.last())
            .map_or(0, |op| op.seq)
    }

    fn group(&self, rng: &mut Rng) -> Vec<Op> {
        let n = 1 + rng.below(5);
        (0..n)
            .map(|i| {
                let seq = self.last() + 1 + i;
                let kind = [
                    OperationKind::Insert,
                    OperationKind::Update,
                    OperationKind::Delete,
                ][rng.below(3) as usize];
                let len = rng.below(90) as usize;
                Op {
                    seq,
                    kind,
                    pk: format!("k{}", rng.below(20)).into_bytes(),
                    row: (kind != OperationKind::Delete).then(|| vec![seq as u8; len]),
                }
            })
            .collect()
    }

    /// After a reopen: check what came back and forget what was lost.
    fn reopened(&mut self, got: &Recovered, clean: bool) {
        if clean {
            assert_eq!(
                got.last_seq(),
                self.attempted,
                "a clean reopen keeps everything written"
            );
        }
        check_prefix(&self.groups, got, self.acked, self.attempted);
        let last = got.last_seq();
        self.groups
            .retain(|g| g.last().is_some_and(|op| op.seq <= last));
        self.acked = last;
        self.attempted = last;
    }
}

fn run(seed: u64, steps: usize) -> [u64; 4] {
    let mut rng = Rng(seed);
    let options = Options::default()
        .segment_size(200 + rng.below(2000))
        .checkpoint_block_size(16 + rng.below(400) as usize);
    let mut disk = MemoryStorage::new();
    let mut model = Model {
        groups: Vec::new(),
        acked: 0,
        attempted: 0,
    };
    let (mut dir, _): (Dir, _) = recover(disk.clone(), options.clone()).unwrap();
    let mut counts = [0u64; 4]; // checkpoints, clean reopens, crashes, torn tails
    for _ in 0..steps {
        match rng.below(100) {
            0..50 => {
                let g = model.group(&mut rng);
                dir.append_group(&refs(&g)).unwrap();
                model.attempted = dir.last_seq();
                model.groups.push(g);
            }
            50..65 => model.acked = dir.sync().unwrap(),
            65..75 => {
                let s = dir.last_seq();
                let mut w = dir.begin_checkpoint(s).unwrap();
                if rng.below(2) == 0 {
                    let g = model.group(&mut rng);
                    dir.append_group(&refs(&g)).unwrap();
                    model.attempted = dir.last_seq();
                    model.groups.push(g);
                }
                let end = dir.last_seq();
                for (pk, row) in state_at(&model.groups, end) {
                    w.push(&pk, &row).unwrap();
                }
                dir.finish_checkpoint(w, end).unwrap();
                model.acked = dir.durable_seq();
                counts[0] += 1;
            }
            75..85 => {
                drop(dir);
                let got;
                (dir, got) = recover(disk.clone(), options.clone()).unwrap();
                model.reopened(&got, true);
                counts[1] += 1;
            }
            _ => {
                let mode = match rng.below(4) {
                    0 => CrashMode::LoseUnsynced,
                    1 => CrashMode::KeepWritten,
                    2 => CrashMode::Torn { seed: rng.next() },
                    _ => CrashMode::Reordered { seed: rng.next() },
                };
                drop(dir);
                disk = disk.snapshot().image(mode);
                let got;
                (dir, got) = recover(disk.clone(), options.clone())
                    .unwrap_or_else(|e| panic!("seed {seed}, {mode:?}: {e}"));
                counts[3] += u64::from(got.stats.torn_tail.is_some());
                model.reopened(&got, false);
                counts[2] += 1;
            }
        }
    }
    counts
}

#[test]
fn random_steps_match_the_model() {
    // Every reopen checks the whole model, so the cost grows with the square of the
    // sequence length: a soak runs more seeds, and sequences only up to 4x longer.
    let seeds = 40 + 400 * soak();
    let steps = 120 * (1 + soak().min(3) as usize);
    let mut total = [0u64; 4];
    for seed in 0..seeds {
        let c = run(seed, steps);
        for (t, c) in total.iter_mut().zip(c) {
            *t += c;
        }
    }
    println!(
        "{seeds} seeds x {steps} steps: {} checkpoints, {} clean reopens, {} crashes, {} torn tails cut",
        total[0], total[1], total[2], total[3]
    );
    assert!(total.iter().all(|c| *c > 0), "{total:?}");
}

#[test]
fn handles_can_move_to_another_thread() {
    fn send<T: Send>() {}
    send::<Dir>();
    send::<worktable_persistence::Recovery>();
    send::<worktable_persistence::CheckpointWriter>();
    send::<worktable_persistence::PersistError>();
}
