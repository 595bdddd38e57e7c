//! scripts/external-programs names every program from outside the
//! repository that the tests and the runtime run, and scripts/deps installs
//! their packages from it: a program used but not listed would pass where
//! an earlier run left its package installed and fail on a fresh machine.
//! So every program the crates' sources run by a literal name, through
//! `Command::new` or as a hook's "path", must be listed for scripts/deps.
//! (Programs named by a variable, such as newuidmap in nook-namespaces, are
//! listed by hand.)  Needs no root.

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The programs listed for scripts/deps.
fn listed() -> Vec<String> {
    let list = std::fs::read_to_string(repo().join("scripts/external-programs")).unwrap();
    let mut out = Vec::new();
    for (n, l) in list.lines().enumerate() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.is_empty() || f[0].starts_with('#') {
            continue;
        }
        assert!(
            f.len() >= 3,
            "scripts/external-programs:{}: want SCRIPT PROGRAM PACKAGE: {l}",
            n + 1
        );
        for s in f[0].split(',') {
            assert!(
                ["deps", "test-clients", "vm"].contains(&s),
                "scripts/external-programs:{}: no script {s:?}",
                n + 1
            );
        }
        if f[0].split(',').any(|s| s == "deps") {
            out.push(f[1].to_string());
        }
    }
    out
}

/// Every .rs file under crates/ (but build output).
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n != "target") {
                sources(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The string literals that follow each `pat` in `text`, with their line.
fn literals_after(text: &str, pat: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, _) in text.match_indices(pat) {
        let rest = text[i + pat.len()..].trim_start();
        if let Some(lit) = rest.strip_prefix('"').and_then(|r| r.split('"').next()) {
            out.push((text[..i].matches('\n').count() + 1, lit.to_string()));
        }
    }
    out
}

/// What the sources run by a literal name: (file:line, program).
fn programs_run() -> Vec<(String, String)> {
    let mut files = Vec::new();
    sources(&repo().join("crates"), &mut files);
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let at = |line| format!("{}:{line}", f.strip_prefix(repo()).unwrap().display());
        // (spelt in two pieces so that this file does not match itself)
        for (line, p) in literals_after(&text, concat!("Command::", "new(")) {
            out.push((at(line), p));
        }
        // hooks run on the host; a "path" in /dev or /proc is no program
        for (line, p) in literals_after(&text, "\"path\":") {
            if ["/bin/", "/sbin/", "/usr/bin/", "/usr/sbin/"]
                .iter()
                .any(|d| p.starts_with(d))
            {
                out.push((at(line), p));
            }
        }
    }
    out
}

#[test]
fn every_program_the_sources_run_is_listed_for_scripts_deps() {
    let listed = listed();
    let run = programs_run();
    // the scan finds what is known to be there (or it has gone blind)
    for known in ["cc", "useradd", "/bin/busybox", "/bin/sh"] {
        assert!(
            run.iter().any(|(_, p)| p == known),
            "the scan no longer finds {known}: {run:?}"
        );
    }
    let unlisted: Vec<String> = run
        .iter()
        .filter(|(_, p)| {
            // a path is listed as itself, or by its name (found on PATH)
            let name = p.rsplit('/').next().unwrap();
            !listed.iter().any(|l| l == p || l == name)
        })
        .map(|(at, p)| format!("{at}: {p}"))
        .collect();
    assert!(
        unlisted.is_empty(),
        "programs run but not in scripts/external-programs (add each with \
         its Debian package, for deps):\n{}",
        unlisted.join("\n")
    );
}

#[test]
fn the_id_mapping_helpers_are_listed() {
    // run by a variable name (nook-namespaces' idmap), so the scan misses them
    let listed = listed();
    for p in ["newuidmap", "newgidmap"] {
        assert!(listed.iter().any(|l| l == p), "{p} is not listed for deps");
    }
}
