//! Links nook-dns's hot functions first and together (see
//! `crates/nook-dns/hot-order`, which writes `hot-symbols.txt`): fewer 64 KiB
//! fault-around windows of text touched while it serves, so a smaller RSS.
//! Only with LLD, rustc's default linker on x86_64 Linux since 1.90.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=hot-symbols.txt");
    println!("cargo:rerun-if-changed=build.rs");
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("hot-symbols.txt");
    let target = std::env::var("TARGET").unwrap_or_default();
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let minor = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|v| {
            v.split_whitespace()
                .nth(1)
                .and_then(|x| x.split('.').nth(1))
                .and_then(|m| m.parse::<u32>().ok())
        })
        .unwrap_or(0);
    let lld_default = target == "x86_64-unknown-linux-gnu" && minor >= 90;
    if lld_default && file.metadata().map(|m| m.len() > 0).unwrap_or(false) {
        println!(
            "cargo:rustc-link-arg-bin=nook-dns=-Wl,--symbol-ordering-file={}",
            file.display()
        );
        println!("cargo:rustc-link-arg-bin=nook-dns=-Wl,--no-warn-symbol-ordering");
    }
}
