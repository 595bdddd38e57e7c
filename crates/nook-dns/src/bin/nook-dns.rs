//! `nook-dns`: the DNS responder of one store root (the nook-dns crate;
//! see `nook_dns::program`).

fn main() {
    std::process::exit(nook_dns::program::main());
}
