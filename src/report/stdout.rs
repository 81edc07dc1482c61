//! The terminal's standard output, written so that a closed pipe
//! (`servebench static ... | head`) never panics the run: what cannot be
//! printed is dropped, and the run goes on to write its files.

use std::io::Write as _;

/// Print `args` on standard output; a write error (a closed pipe, a full
/// disk behind a redirect) is ignored, never a panic.
pub fn print_out(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_fmt(args).and_then(|()| out.flush());
}

/// `println!` that never panics on a closed standard output.
#[macro_export]
macro_rules! outln {
    () => { $crate::report::print_out(format_args!("\n")) };
    ($($arg:tt)*) => {
        $crate::report::print_out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` that never panics on a closed standard output.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::report::print_out(format_args!($($arg)*)) };
}
