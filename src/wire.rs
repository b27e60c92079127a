//! wire — to be written (issue 2).
