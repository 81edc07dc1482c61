//! The `servebench` binary: parse the command line, run, map errors to exit codes.

fn main() {
    let cli = servebench::cli::Cli::parse_args();
    let sim = matches!(cli.command, servebench::cli::Command::Sim(_));
    // A standalone simulator serves on a work-stealing pool; a benchmark's
    // main thread is load thread 0, a runtime of its own, with one more per
    // core for the load (`servebench::load::spawner`).
    let rt = if sim {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    }
    .enable_all()
    .build();
    let rt = match rt {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(2);
        }
    };
    let code = rt.block_on(async {
        // A standalone simulator just stops on Ctrl-C; benchmark runs stop
        // sending, let in-flight requests finish, and write what they measured.
        if !sim {
            servebench::cli::install_signal_handlers();
        }
        match servebench::cli::run(cli).await {
            Ok(code) => code,
            Err(e) => {
                eprintln!("error: {e}");
                e.exit_code()
            }
        }
    });
    std::process::exit(code);
}
