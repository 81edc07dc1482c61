//! Command-line argument types.
