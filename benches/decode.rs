//! Decoder throughput benchmark (issue 2) — to be written.
fn main() {}
