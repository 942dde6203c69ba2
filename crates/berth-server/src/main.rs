use clap::{Parser, Subcommand};

/// berth: turn a git push into a running, reachable application.
#[derive(Debug, Parser)]
#[command(name = "berth", version)]
struct Cli {
    #[command(flatten)]
    flags: berth_server::Flags,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply database migrations, then serve the API until SIGTERM or SIGINT.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let settings = match berth_server::Settings::load(&cli.flags, &|k| std::env::var(k).ok()) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    if let Err(e) = berth_server::init_tracing(&settings) {
        return fail(&e);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(&e.into()),
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve => berth_server::serve(settings).await,
            Command::Migrate => berth_server::migrate(&settings).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(e: &anyhow::Error) -> std::process::ExitCode {
    tracing::error!("{e:#}");
    eprintln!("berth: {e:#}");
    std::process::ExitCode::FAILURE
}
