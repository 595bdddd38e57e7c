//! `nook`: the container engine's command line.  All logic lives in the
//! library (and in nook-engine).

fn main() {
    std::process::exit(nook::main());
}
