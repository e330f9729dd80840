//! (being written) Runs the three stand-ins for the benchmark scripts.
fn main() {}
