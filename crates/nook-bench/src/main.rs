//! `nook-bench`: OCI runtimes side by side.  All logic lives in the library.

fn main() {
    std::process::exit(nook_bench::main());
}
