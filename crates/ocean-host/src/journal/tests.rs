use std::path::PathBuf;
use std::time::Duration;

use super::*;

fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ocean-journal-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn small() -> JournalOptions {
    JournalOptions {
        max_bytes: 1024 * 1024,
        segment_bytes: 16 * 1024,
        retry_base: Duration::from_millis(10),
        retry_max: Duration::from_millis(40),
        sync: true,
    }
}

/// Retries far enough away that no test run reaches one by waiting.
fn slow_retries() -> JournalOptions {
    JournalOptions {
        retry_base: Duration::from_secs(3600),
        retry_max: Duration::from_secs(4 * 3600),
        ..small()
    }
}

fn open(dir: &std::path::Path, options: JournalOptions) -> Opened {
    Journal::open(dir, options).expect("the journal opens")
}

/// The newest segment file in `dir`.
fn last_segment(dir: &std::path::Path) -> PathBuf {
    std::fs::read_dir(dir)
        .expect("dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .max()
        .expect("a segment")
}

fn body(i: usize) -> Vec<u8> {
    format!("{{\"event\":{i},\"pad\":\"{}\"}}", "x".repeat(200)).into_bytes()
}

#[tokio::test]
async fn accepted_events_come_back_until_applied() {
    let dir = fresh_dir("replay");
    let opened = open(&dir, small());
    assert!(opened.pending.is_empty());
    let journal = opened.journal;
    let mut seqs = Vec::new();
    for i in 0..10 {
        seqs.push(journal.append(body(i)).await.expect("appended"));
    }
    assert_eq!(seqs, (1..=10).collect::<Vec<u64>>());
    assert_eq!(journal.read(3).expect("read"), Some(body(2)));
    for seq in [1, 2, 5] {
        journal.applied(seq, vec![]);
    }
    journal.sync().await;
    drop(journal);
    let reopened = open(&dir, small());
    assert_eq!(reopened.pending, vec![3, 4, 6, 7, 8, 9, 10]);
    assert_eq!(reopened.journal.read(10).expect("read"), Some(body(9)));
    assert_eq!(
        reopened.journal.read(1).expect("read"),
        None,
        "applied events are gone"
    );
    // Numbering goes on where it stopped.
    assert_eq!(reopened.journal.append(body(11)).await, Ok(11));
}

#[tokio::test]
async fn one_process_holds_a_journal() {
    let dir = fresh_dir("lock");
    let opened = open(&dir, small());
    assert!(matches!(
        Journal::open(&dir, small()),
        Err(OpenError::Locked { .. })
    ));
    drop(opened);
    assert!(
        Journal::open(&dir, small()).is_ok(),
        "the lock goes with the process"
    );
}

#[tokio::test]
async fn a_torn_tail_is_cut_and_whole_records_stay() {
    let dir = fresh_dir("torn");
    let journal = open(&dir, small()).journal;
    for i in 0..3 {
        journal.append(body(i)).await.expect("appended");
    }
    drop(journal);
    let last = last_segment(&dir);
    // A crash in the middle of writing the third event: half of it made it.
    let len = std::fs::metadata(&last).expect("meta").len();
    let file = std::fs::OpenOptions::new().write(true).open(&last).expect("open");
    file.set_len(len - 100).expect("cut");
    drop(file);
    let reopened = open(&dir, small());
    assert_eq!(reopened.pending, vec![1, 2]);
    assert!(reopened.torn_bytes > 0);
    assert_eq!(
        reopened.journal.append(body(9)).await,
        Ok(3),
        "the torn event's number is free again"
    );
    drop(reopened);
    // Garbage after whole records (a flipped bit) is cut the same way.
    let reopened = open(&dir, small());
    assert_eq!(reopened.pending, vec![1, 2, 3]);
    drop(reopened);
    let last = last_segment(&dir);
    let mut bytes = std::fs::read(&last).expect("read");
    bytes.extend_from_slice(&[7u8; 40]);
    std::fs::write(&last, &bytes).expect("write");
    let reopened = open(&dir, small());
    assert_eq!(reopened.pending, vec![1, 2, 3]);
    assert_eq!(reopened.torn_bytes, 40);
}

#[tokio::test]
async fn concurrent_appends_share_syncs() {
    let dir = fresh_dir("group");
    let journal = open(&dir, JournalOptions::default()).journal;
    let mut tasks = Vec::new();
    for i in 0..2000 {
        let journal = journal.clone();
        tasks.push(tokio::spawn(async move { journal.append(body(i)).await }));
    }
    let mut seqs = Vec::new();
    for task in tasks {
        seqs.push(task.await.expect("task").expect("appended"));
    }
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len(), 2000, "every append has its own number");
    let stats = journal.stats();
    assert_eq!(stats.appends, 2000);
    assert!(
        stats.syncs < 2000,
        "appends waiting together share a sync ({} syncs)",
        stats.syncs
    );
}

#[tokio::test]
async fn the_disk_bound_refuses_and_frees_up_as_events_apply() {
    let dir = fresh_dir("bound");
    let options = JournalOptions {
        max_bytes: 64 * 1024,
        segment_bytes: 8 * 1024,
        ..small()
    };
    let journal = open(&dir, options).journal;
    let mut accepted = Vec::new();
    let refusal = loop {
        match journal.append(body(accepted.len())).await {
            Ok(seq) => accepted.push(seq),
            Err(e) => break e,
        }
    };
    assert!(
        matches!(refusal, AppendError::Full { max: 65536, .. }),
        "{refusal}"
    );
    assert!(accepted.len() > 100, "{} accepted", accepted.len());
    assert!(journal.stats().bytes <= 64 * 1024);
    for seq in accepted {
        journal.applied(seq, vec![]);
    }
    journal.sync().await;
    // Applied segments are deleted; the bound has room again.
    journal.append(body(0)).await.expect("room after compaction");
    assert!(journal.stats().bytes < 32 * 1024, "{:?}", journal.stats());
}

#[tokio::test]
async fn dead_letters_keep_reason_and_attempts_and_retry_with_backoff() {
    let dir = fresh_dir("dead");
    let journal = open(&dir, slow_retries()).journal;
    let failing = journal.append(body(1)).await.expect("appended");
    let poison = journal.append(body(2)).await.expect("appended");
    journal.dead_letter(failing, false, "Port answered 500".into());
    journal.dead_letter(poison, true, "properties.coverage: not a number".into());
    journal.sync().await;
    let letters = journal.dead_letters();
    assert_eq!(letters.len(), 2);
    assert_eq!(
        (letters[0].seq, letters[0].attempts, letters[0].poison),
        (failing, 1, false)
    );
    assert_eq!(letters[1].reason, "properties.coverage: not a number");
    // Not due before its backoff; due after; never handed out twice.
    assert!(journal.take_due(letters[0].retry_at_ms - 1, 10).is_empty());
    assert_eq!(journal.take_due(letters[0].retry_at_ms, 10), vec![failing]);
    assert!(
        journal.take_due(u64::MAX - 1, 10).is_empty(),
        "in flight, and poison waits for an operator"
    );
    journal.dead_letter(failing, false, "Port answered 500 again".into());
    journal.sync().await;
    let again = &journal.dead_letters()[0];
    assert_eq!(again.attempts, 2);
    assert!(again.retry_at_ms - now_ms() > 10, "the wait doubles");
    drop(journal);

    let reopened = open(&dir, slow_retries());
    assert!(
        reopened.pending.is_empty(),
        "dead letters are not replayed as new"
    );
    let journal = reopened.journal;
    let letters = journal.dead_letters();
    assert_eq!(
        letters.iter().map(|d| (d.seq, d.attempts)).collect::<Vec<_>>(),
        [(1, 2), (2, 1)]
    );
    assert_eq!(letters[0].reason, "Port answered 500 again");
    assert_eq!(journal.revive(Selection::One(poison)).await, 1);
    assert_eq!(journal.take_due(now_ms(), 10), vec![poison]);
    assert_eq!(journal.discard(Selection::All).await, 2);
    assert!(journal.dead_letters().is_empty());
    drop(journal);
    let reopened = open(&dir, slow_retries());
    assert!(reopened.pending.is_empty());
    assert!(reopened.journal.dead_letters().is_empty());
}

#[tokio::test]
async fn compaction_keeps_dead_letters_and_marks() {
    let dir = fresh_dir("compact");
    let journal = open(&dir, small()).journal;
    let kept = journal.append(body(0)).await.expect("appended");
    journal.dead_letter(kept, false, "kept".into());
    journal.applied(0, vec![("repo\u{1f}a".into(), 50)]);
    for i in 1..400 {
        let seq = journal.append(body(i)).await.expect("appended");
        journal.applied(seq, vec![("repo\u{1f}b".into(), i as i64)]);
    }
    journal.sync().await;
    let stats = journal.stats();
    assert!(stats.segments <= 3, "applied segments are deleted: {stats:?}");
    assert_eq!(stats.live, 1);
    assert_eq!(
        journal.read(kept).expect("read"),
        Some(body(0)),
        "the dead letter was copied forward"
    );
    drop(journal);
    let reopened = open(&dir, small());
    let journal = reopened.journal;
    assert_eq!(journal.dead_letters()[0].reason, "kept");
    assert_eq!(
        journal.marks(&["repo\u{1f}a", "repo\u{1f}b", "none"]),
        [Some(50), Some(399), None]
    );
    assert_eq!(journal.read(kept).expect("read"), Some(body(0)));
}
