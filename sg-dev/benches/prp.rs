//! Building NVMe PRP lists and SGLs for a 1 MiB request.
fn main() {}
