//! records — to be written (issue 2).
