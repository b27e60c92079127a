//! assemble — to be written (issue 2).
