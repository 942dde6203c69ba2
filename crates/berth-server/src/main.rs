use clap::{Parser, Subcommand};

// mimalloc: the edge router allocates per request, and glibc's allocator was a measurable part
// of its cost (docs/benchmarks.md).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Manage accounts from the command line.
    #[command(subcommand)]
    User(UserCommand),
    /// Print the OpenAPI document of the REST API.
    Openapi,
    /// Run the edge router alone, in a process of its own that outlives the control plane.
    Edge,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create an account. The password comes from BERTH_USER_PASSWORD or standard input.
    Create {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        /// Make the account a super admin (to set up or recover access).
        #[arg(long)]
        admin: bool,
    },
}

fn main() -> std::process::ExitCode {
    // No transparent huge pages: the allocator asks for them on its arena, and the kernel then
    // makes every 2 MiB of it that a few bytes were allocated in resident as a whole (about
    // 7 MiB in use took 45 MiB of resident memory). berth's heap is small; it gains nothing
    // from huge pages. Checked by the kernel at each page fault, so it holds from here on.
    if let Err(e) = rustix::thread::disable_transparent_huge_pages(true) {
        eprintln!("warning: transparent huge pages stay on: {e}");
    }
    let cli = Cli::parse();
    let settings = match berth_server::Settings::load(&cli.flags, &|k| {
        std::env::var(k).ok().filter(|v| !v.is_empty())
    }) {
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
            Command::Edge => berth_server::edge(settings).await,
            Command::Migrate => berth_server::migrate(&settings).await,
            Command::User(UserCommand::Create {
                username,
                email,
                admin,
            }) => berth_server::create_user(&settings, &username, &email, admin).await,
            Command::Openapi => {
                berth_server::print_openapi();
                Ok(())
            }
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
