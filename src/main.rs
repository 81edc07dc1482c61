//! The `servebench` binary: parse the command line, run, map errors to exit codes.

#[tokio::main]
async fn main() {
    let cli = servebench::cli::Cli::parse_args();
    // A standalone simulator just stops on Ctrl-C; benchmark runs stop
    // sending, let in-flight requests finish, and write what they measured.
    if !matches!(cli.command, servebench::cli::Command::Sim(_)) {
        servebench::cli::install_signal_handlers();
    }
    match servebench::cli::run(cli).await {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(e.exit_code());
        }
    }
}
