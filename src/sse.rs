//! sse — to be written (issue 2).
