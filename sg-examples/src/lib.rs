//! The workspace's runnable examples, in a crate of their own so that
//! running one builds only the sg crates it uses (not the other crates'
//! dev-dependencies): `cargo run --release -p sg-examples --example
//! quickstart` (the tour) and `--example file_provider` (a `PageProvider`
//! over a mapped file, unix). The library is empty; it also runs the root
//! README's sample as a doc test.

#![no_std]

/// The root README's examples, run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
