//! The `servebench` binary: parse the command line, run, map errors to exit codes.

fn main() {
    let cli = servebench::cli::Cli::parse_args();
    let sim = matches!(cli.command, servebench::cli::Command::Sim(_));
    // A standalone simulator serves on a work-stealing pool; a benchmark's
    // main thread is load thread 0, a runtime of its own, with one more per
    // core for the load (`servebench::load::spawner`).
    let rt = if sim {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    } else {
        servebench::load::spawner::main_runtime()
    };
    let rt = match rt {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(2);
        }
    };
    let run = async move {
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
    };
    // A benchmark's main future runs as a task of load thread 0
    // (`block_on_task`); the simulator's accepts on the thread that waits.
    let code = if sim {
        rt.block_on(run)
    } else {
        servebench::load::spawner::block_on_task(&rt, run)
    };
    std::process::exit(code);
}
