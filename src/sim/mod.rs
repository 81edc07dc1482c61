//! The embedded simulated server.
