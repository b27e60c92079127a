//! Integration tests of tchat-devserver over raw HTTP.

mod agent;
mod binary;
mod common;
mod faults;
mod limits;
mod runs;
mod sessions;
mod stream;
