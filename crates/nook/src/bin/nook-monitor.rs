//! `nook-monitor`: a detached container's monitor (the nook-monitor
//! crate; it links nothing of the engine, so that it stays small).

fn main() {
    std::process::exit(nook_monitor::main());
}
