//! `nook-monitor ROOT ID`: the per-container monitor `nook run -d` starts.

fn main() {
    std::process::exit(nook::monitor_main());
}
