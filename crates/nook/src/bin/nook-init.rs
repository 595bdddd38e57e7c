//! `nook-init -- CMD ARGS...`: the init `nook run --init` binds into a
//! container and runs as its PID 1 (see the nook-init crate).

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    std::process::exit(nook_init::run(&args));
}
