//! Interruption and resume through the binary: SIGINT (or SIGTERM) during `svgp fit` stops at an
//! iteration boundary, writes the checkpoint and the model, prints the summary and exits with
//! 130 (143); resuming from that checkpoint reaches, byte for byte, the model an uninterrupted
//! fit of the same length writes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("svgp-interrupt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn svgp() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_svgp"));
    c.current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    c
}

const FIT: [&str; 8] = [
    "fit",
    "--data",
    "datasets/snelson1d.csv",
    "--inducing",
    "15",
    "--batch-size",
    "64",
    "--json",
];

/// Starts a long fit with checkpoints, sends `signal` once the first checkpoint exists, and
/// returns its output.
fn interrupted_fit(signal: &str, checkpoint: &Path, model: &Path) -> Output {
    let child = svgp()
        .args(FIT)
        .args(["--iterations", "10000000", "--checkpoint-every", "20"])
        .arg("--checkpoint")
        .arg(checkpoint)
        .arg("--output")
        .arg(model)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !checkpoint.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no checkpoint appeared"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = child.id().to_string();
    let sent = Command::new("kill")
        .args(["-s", signal, &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    child.wait_with_output().unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
    })
}

#[test]
fn sigint_saves_and_resume_reaches_the_uninterrupted_model() {
    let (checkpoint, model) = (scratch("int.checkpoint"), scratch("int-model.json"));
    let out = interrupted_fit("INT", &checkpoint, &model);
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = json(&out);
    assert_eq!(summary["stop_reason"], "Interrupted");
    assert_eq!(summary["checkpoint"], checkpoint.display().to_string());
    let done = summary["iterations"].as_u64().unwrap();
    assert!((20..10_000_000).contains(&done), "{done}");
    assert!(svgp::tabular::SavedModel::load(&model).is_ok());

    let total = (done + 30).to_string();
    let (straight, resumed) = (scratch("straight.json"), scratch("resumed.json"));
    let run = |extra: &[&str], output: &Path| {
        let out = svgp()
            .args(FIT)
            .args(["--iterations", &total])
            .args(extra)
            .arg("--output")
            .arg(output)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        json(&out)
    };
    run(&[], &straight);
    let checkpoint_s = checkpoint.to_str().unwrap();
    let again = run(&["--resume", checkpoint_s], &resumed);
    assert_eq!(again["iterations"].as_u64(), Some(done + 30));
    assert!(
        std::fs::read(&straight).unwrap() == std::fs::read(&resumed).unwrap(),
        "resumed and uninterrupted models differ"
    );
}

#[test]
fn sigterm_exits_143_with_its_files_written() {
    let (checkpoint, model) = (scratch("term.checkpoint"), scratch("term-model.json"));
    let out = interrupted_fit("TERM", &checkpoint, &model);
    assert_eq!(
        out.status.code(),
        Some(143),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json(&out)["stop_reason"], "Interrupted");
    assert!(svgp::tabular::SavedModel::load(&model).is_ok());
    assert!(svgp::tabular::Checkpoint::load(&checkpoint).is_ok());
}

/// A resume with other options is refused naming `--resume`, and the checkpoint is untouched.
#[test]
fn resume_with_other_options_is_refused() {
    let checkpoint = scratch("other.checkpoint");
    let first = svgp()
        .args(FIT)
        .args(["--iterations", "40", "--checkpoint"])
        .arg(&checkpoint)
        .output()
        .unwrap();
    assert!(first.status.success());
    let before = std::fs::read(&checkpoint).unwrap();
    let out = svgp()
        .args(FIT)
        .args(["--iterations", "80", "--seed", "3", "--resume"])
        .arg(&checkpoint)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--resume") && stderr.contains("settings"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&checkpoint).unwrap(), before);
}

/// The names in the checkpoint's folder that start with its name and are not it: temporaries
/// of its writes.
fn temporaries_of(checkpoint: &Path) -> Vec<String> {
    let name = checkpoint
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let mut left: Vec<String> = std::fs::read_dir(checkpoint.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&name) && *n != name)
        .collect();
    left.sort();
    left
}

/// The checkpoint file's identity (a write replaces it by renaming a new file over it), or
/// `None` while there is none.
fn identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// `kill -9` at any moment leaves a checkpoint that loads, and no temporary after the next
/// write: with a checkpoint written (and synced) every iteration, the fit is killed 15 times,
/// each a seeded 0–50 ms after it has written its first checkpoint (so most kills land while
/// it is writing or syncing one). Each time the file left behind is whole and loads; then the
/// next write to it (here by this process) takes over any temporary the killed one left, so
/// none remains. Every round after the first resumes from the file the last one left.
#[test]
fn sigkill_during_checkpoint_writes_never_leaves_a_broken_file_or_a_temporary() {
    let checkpoint = scratch("kill.checkpoint");
    let mut delay_us: u64 = 7919;
    let mut stale = 0;
    for round in 0..15 {
        let mut command = svgp();
        command
            .args(FIT)
            .args(["--iterations", "10000000", "--checkpoint-every", "1"])
            .arg("--checkpoint")
            .arg(&checkpoint)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if round > 0 {
            command.arg("--resume").arg(&checkpoint);
        }
        let before = identity(&checkpoint);
        let mut child = command.spawn().unwrap();
        let start = Instant::now();
        while identity(&checkpoint) == before {
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "round {round}: no checkpoint written"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        delay_us = (delay_us * 7 + 3) % 50_000; // seeded, 0–50 ms
        std::thread::sleep(Duration::from_micros(delay_us));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let loaded = svgp::tabular::Checkpoint::load(&checkpoint);
        let loaded = loaded.unwrap_or_else(|e| panic!("round {round}: {e}"));
        stale += usize::from(!temporaries_of(&checkpoint).is_empty());
        loaded.save(&checkpoint).unwrap();
        assert_eq!(
            temporaries_of(&checkpoint),
            Vec::<String>::new(),
            "round {round}"
        );
        assert!(svgp::tabular::Checkpoint::load(&checkpoint).is_ok());
    }
    eprintln!("{stale} of 15 kills left a temporary, taken over by the next write");
}
