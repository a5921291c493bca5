//! The roles file: `alice admin:projectX reader`, one user per line.
