//! Builds the C programs of examples/c against `libneigh.a` for the tests that run them
//! (`ffi_c.rs`, `mirror_restart.rs`): the staticlib once per test binary, each program
//! once, the way examples/c/Makefile does.
#![allow(dead_code)] // Each test binary uses a different subset.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// The cargo profile this test binary was built with (`target/PROFILE/deps/NAME-*`).
fn profile() -> String {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .and_then(Path::file_name);
    match dir.and_then(|d| d.to_str()) {
        Some("debug") | None => "dev".to_owned(),
        Some(p) => p.to_owned(),
    }
}

/// Builds the staticlib (cargo builds only the rlib for tests) and returns its path, once
/// per test binary. Same cargo, target dir and profile as this test's own build, so it is
/// usually just a relink.
pub fn libneigh() -> &'static Path {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = Command::new(cargo)
            .args(["build", "-p", "neigh", "--lib", "--message-format=json"])
            .args(["--profile", &profile()])
            .current_dir(repo())
            .stderr(Stdio::inherit())
            .output()
            .expect("run cargo build");
        assert!(out.status.success(), "cargo build -p neigh --lib failed");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "neigh")
            .flat_map(|m| m["filenames"].as_array().cloned().unwrap_or_default())
            .filter_map(|f| f.as_str().map(PathBuf::from))
            .find(|f| f.extension().is_some_and(|e| e == "a"))
            .expect("cargo reported no libneigh.a")
    })
}

/// Compiles examples/c/NAME.c the way examples/c/Makefile does, once per test binary
/// (tests run in parallel and must not run a file another test is rewriting); returns the
/// executable.
pub fn build_c(name: &str) -> PathBuf {
    static BUILT: Mutex<Vec<(String, PathBuf)>> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, exe)) = built.iter().find(|(n, _)| n == name) {
        return exe.clone();
    }
    let root = repo();
    let exe = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("c-{name}"));
    let out = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
        .args([
            "-std=c11",
            "-O2",
            "-Wall",
            "-Wextra",
            "-Wpedantic",
            "-Werror",
            "-I",
        ])
        .arg(root.join("shell/include"))
        .arg("-o")
        .arg(&exe)
        .arg(root.join(format!("examples/c/{name}.c")))
        .arg(libneigh())
        .args(["-lgcc_s", "-lutil", "-lrt", "-lpthread", "-lm", "-ldl"])
        .output()
        .expect("run cc");
    assert!(
        out.status.success(),
        "cc {name}.c:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    built.push((name.to_owned(), exe.clone()));
    exe
}
