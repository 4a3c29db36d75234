//! Recovery reads a segment in 1 MiB chunks: logs of many small frames, frames larger
//! than a chunk and frames crossing a chunk's end all come back whole, and a torn tail,
//! damage or a failed read beyond the first chunk is reported as in the first.

mod common;

use common::*;
use worktable_persistence::{Corruption, CrashMode, MemoryStorage, PersistError, TornTail};

const CHUNK: usize = 1 << 20;
const FILE_HEADER_LEN: usize = 48;

/// Mostly small groups (1 to 3 records of up to 300 bytes), a medium one (20 KiB to
/// 400 KiB) every 1000th and one larger than a chunk (1 to 2 MiB) every 4000th: some
/// chunks end inside small frames, some inside medium ones, some inside large ones.
fn workload() -> Vec<Vec<Op>> {
    let mut rng = Rng(0x5eed);
    let mut seq = 0;
    let mut out = Vec::new();
    for i in 1..=12_000u64 {
        let (records, len) = if i % 4000 == 0 {
            (1, CHUNK as u64 + rng.below(CHUNK as u64))
        } else if i % 1000 == 0 {
            (1, (20 << 10) + rng.below(380 << 10))
        } else {
            (1 + rng.below(3), rng.below(301))
        };
        let group = (0..records)
            .map(|_| {
                seq += 1;
                let kind = match rng.below(4) {
                    0 => worktable_persistence::OperationKind::Insert,
                    1 if len < 100 => worktable_persistence::OperationKind::Delete,
                    _ => worktable_persistence::OperationKind::Update,
                };
                let row = (kind != worktable_persistence::OperationKind::Delete)
                    .then(|| (0..len).map(|b| (seq + b) as u8).collect());
                Op {
                    seq,
                    kind,
                    pk: format!("key-{}", rng.below(500)).into_bytes(),
                    row,
                }
            })
            .collect();
        out.push(group);
    }
    out
}

/// Writes the workload (a sync every 1000 groups) and returns the disk.
fn write(groups: &[Vec<Op>], options: worktable_persistence::Options) -> MemoryStorage {
    let disk = MemoryStorage::new();
    let (mut dir, _) = recover(disk.clone(), options).unwrap();
    for (i, g) in groups.iter().enumerate() {
        dir.append_group(&refs(g)).unwrap();
        if i % 1000 == 999 {
            dir.sync().unwrap();
        }
    }
    dir.sync().unwrap();
    drop(dir);
    disk
}

fn segments(disk: &MemoryStorage) -> Vec<String> {
    let mut names: Vec<String> = disk
        .file_names()
        .into_iter()
        .filter(|f| f.ends_with(".log"))
        .collect();
    names.sort();
    names
}

/// (start, end) of every frame of a segment.
fn frames(segment: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut at = FILE_HEADER_LEN;
    while at < segment.len() {
        let body = u32::from_le_bytes(segment[at + 4..at + 8].try_into().unwrap()) as usize;
        let end = at + 32 + body + 16;
        out.push((at, end));
        at = end;
    }
    assert_eq!(at, segment.len());
    out
}

fn copy(disk: &MemoryStorage) -> MemoryStorage {
    disk.snapshot().image(CrashMode::KeepWritten)
}

#[test]
fn many_small_frames_and_frames_larger_than_a_chunk_all_come_back() {
    let groups = workload();
    let all: Vec<Op> = groups.iter().flatten().cloned().collect();
    for options in [
        small_options().segment_size(64 << 20),
        small_options().segment_size(3 << 20),
    ] {
        let disk = write(&groups, options.clone());
        let names = segments(&disk);
        let sizes: Vec<usize> = names.iter().map(|n| disk.read(n).unwrap().len()).collect();
        assert!(sizes.iter().sum::<usize>() > 8 * CHUNK, "{sizes:?}");
        let mut crossing = 0;
        let mut larger = 0;
        for n in &names {
            for (start, end) in frames(&disk.read(n).unwrap()) {
                crossing += usize::from(start / CHUNK != (end - 1) / CHUNK);
                larger += usize::from(end - start > CHUNK);
            }
        }
        assert!(
            crossing >= 5 && larger == 3,
            "{crossing} crossing, {larger} larger"
        );

        let (_, got) = recover(disk, options).unwrap();
        assert_eq!(got.records.len(), all.len());
        assert!(got.records == all, "every record comes back, in order");
        assert_eq!(got.stats.frames, groups.len() as u64);
        assert_eq!(got.stats.segments, names.len() as u64);
        assert_eq!(got.stats.torn_tail, None);
    }
}

#[test]
fn a_torn_tail_beyond_the_first_chunk_is_cut_where_its_frame_starts() {
    let groups = workload();
    let options = small_options().segment_size(64 << 20);
    let disk = write(&groups, options.clone());
    let name = segments(&disk).pop().unwrap();
    let bytes = disk.read(&name).unwrap();
    let frames = frames(&bytes);
    // Inside the last small frame, inside a frame larger than a chunk, inside a medium one.
    let big = frames.iter().rposition(|(s, e)| e - s > CHUNK).unwrap();
    let medium = frames
        .iter()
        .position(|&(s, e)| s > CHUNK && e - s > 16 << 10)
        .unwrap();
    for (index, cut) in [
        (frames.len() - 1, 40),
        (big, CHUNK / 2),
        (big, CHUNK + 16),
        (medium, 17),
    ] {
        let (start, _) = frames[index];
        assert!(start > CHUNK);
        let torn = copy(&disk);
        torn.write(&name, &bytes[..start + cut]);
        let (_, got) = recover(torn, options.clone()).unwrap();
        check_prefix(&groups, &got, 0, u64::MAX);
        assert_eq!(got.stats.frames, index as u64);
        assert_eq!(
            got.stats.torn_tail,
            Some(TornTail {
                file: name.clone(),
                offset: start as u64,
                bytes: cut as u64,
            })
        );
    }
}

#[test]
fn damage_beyond_the_first_chunk_names_its_frame() {
    let groups = workload();
    let options = small_options().segment_size(3 << 20);
    let disk = write(&groups, options.clone());
    let names = segments(&disk);
    assert!(names.len() >= 3);
    for (seg, name) in names.iter().enumerate() {
        let bytes = disk.read(name).unwrap();
        let frames = frames(&bytes);
        let is_last = seg == names.len() - 1;
        // A frame crossing a chunk's end and, where there is one, the next one after
        // the first chunk and one larger than a chunk.
        let picks = [
            frames.iter().position(|&(s, e)| s < CHUNK && e > CHUNK),
            frames.iter().position(|&(s, _)| s > CHUNK),
            frames.iter().position(|&(s, e)| e - s > CHUNK),
        ];
        for index in picks.into_iter().flatten() {
            let (start, end) = frames[index];
            if is_last && index + 2000 >= frames.len() {
                continue; // no later sync: a torn tail, which the corruption tests cover
            }
            let mut damaged = bytes.clone();
            damaged[(start + end) / 2] ^= 0x10;
            let copy = copy(&disk);
            copy.write(name, &damaged);
            let err = recover(copy, options.clone()).unwrap_err();
            let PersistError::Corrupt {
                file,
                offset,
                reason,
            } = err
            else {
                panic!("{name} frame {index}: {err}");
            };
            assert_eq!((file.as_str(), offset), (name.as_str(), start as u64));
            if is_last {
                assert!(
                    matches!(reason, Corruption::DamagedBeforeSyncedData { .. }),
                    "{reason}"
                );
            } else {
                assert!(matches!(reason, Corruption::BadChecksum), "{reason}");
            }
        }
    }
}

#[test]
fn every_failed_call_while_recovering_a_long_log_is_a_typed_error() {
    let groups = workload();
    let options = small_options().segment_size(64 << 20);
    let disk = write(&groups, options.clone());
    let clean = copy(&disk);
    recover(clean.clone(), options.clone()).unwrap();
    let calls = clean.calls();
    let mut failed_reads = 0;
    for n in 1..=calls {
        let faulty = copy(&disk);
        faulty.fail_call(n);
        match recover(faulty, options.clone()) {
            Err(PersistError::Io { op, file, .. }) => {
                failed_reads += usize::from(op == "read" && file.ends_with(".log"));
            }
            Err(e) => panic!("call {n}: {e}"),
            Ok(_) => panic!("call {n} failed silently"),
        }
    }
    assert!(failed_reads >= 5, "{failed_reads} failed reads of the log");
}
