//! `nook-runtime`: the OCI runtime binary.  All logic lives in the library.

fn main() {
    std::process::exit(nook_runtime::main());
}
