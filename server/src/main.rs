//! `natter`: the Natter server binary.
//!
//! - `natter serve` runs the server (flags, or `NATTER_*` environment variables).
//! - `natter check bots/<slug> …` validates bot folders without serving; exit code 1 and one
//!   `file:line: message` per problem when something is wrong.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use natter_python_runtime::SandboxPolicy;
use natter_server::http::limits::Rate;
use natter_server::server::{Server, ServerConfig};
use natter_server::store::sqlite::Durability;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "natter",
    version,
    about = "Natter: self-hostable web chat server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API, the bots, the demo page and the widget.
    Serve(Box<ServeArgs>),
    /// Validate bot folders (each holding a bot.toml) without serving.
    Check {
        #[arg(required = true)]
        bots: Vec<PathBuf>,
    },
    /// A bot's actions: list them, or run one as a test ("Run Test").
    #[command(subcommand)]
    Action(ActionCommand),
    /// A bot's event handlers: list them, list their runs, or run one as a test ("Run Test").
    #[command(subcommand)]
    Handler(HandlerCommand),
}

#[derive(Subcommand)]
enum HandlerCommand {
    /// List the event handlers of a bot folder.
    List { bot: PathBuf },
    /// The bot's latest handler runs (result, stdout, stderr, traceback, duration, status).
    Runs {
        /// The bot's folder (its name is the slug).
        bot: PathBuf,
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Run one handler against a conversation without the event firing (logged as a test).
    Test {
        bot: PathBuf,
        handler: String,
        /// Conversation id or public id.
        #[arg(long)]
        conversation: String,
        /// `conversation_closed` or `conversation_handed_off` (default: the handler's own).
        #[arg(long)]
        event: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Subcommand)]
enum ActionCommand {
    /// List the actions of a bot folder with their arguments.
    List { bot: PathBuf },
    /// Run one action and print its result, stdout and stderr (logged as a test run).
    Test {
        /// The bot's folder (holding bot.toml).
        bot: PathBuf,
        action: String,
        /// An argument, `name=value` (typed by the action's declared argument types).
        #[arg(long = "arg", value_name = "NAME=VALUE")]
        args: Vec<String>,
        /// A conversation id or public id: fills `context["conversation"]` (else None).
        #[arg(long)]
        conversation: Option<String>,
        /// The store the run is logged in.
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum SandboxArg {
    Auto,
    Required,
    Off,
}

#[derive(Clone, Copy, ValueEnum)]
enum DurabilityArg {
    /// Flush each group commit to disk before it is answered or seen (survives power loss).
    Full,
    /// Survives a process crash; the last commits may be lost on power loss.
    Normal,
}

/// Where the store is: the same flags for `serve` and the commands that read its store.
#[derive(clap::Args)]
struct StoreArgs {
    /// Data directory (the SQLite file natter.db lives here).
    #[arg(long, env = "NATTER_DATA", default_value = "data")]
    data: PathBuf,
    /// `postgres://user:password@host:port/db`: store everything in PostgreSQL (several
    /// instances may share it). Unset: the SQLite file in --data.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
}

impl StoreArgs {
    fn database_url(&self) -> Option<&str> {
        self.database_url.as_deref().filter(|u| !u.is_empty())
    }
}

/// Where attachment bytes go when not in the store: an S3-compatible object store. The
/// credentials are the standard AWS ones (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, …).
#[derive(clap::Args)]
struct S3Args {
    /// Bucket of attachment bytes; unset: they stay in the store.
    #[arg(long, env = "NATTER_S3_BUCKET")]
    s3_bucket: Option<String>,
    /// `http(s)://host:port` of an S3-compatible server (MinIO, Ceph, R2, …); unset: AWS S3.
    #[arg(long, env = "NATTER_S3_ENDPOINT")]
    s3_endpoint: Option<String>,
    /// Region (AWS S3; most other servers ignore it).
    #[arg(long, env = "NATTER_S3_REGION")]
    s3_region: Option<String>,
    /// Key prefix of the objects (`natter/files`); empty: the bucket's root.
    #[arg(long, env = "NATTER_S3_PREFIX", default_value = "")]
    s3_prefix: String,
    /// Address buckets as `endpoint/bucket` (`true`) or `bucket.endpoint` (`false`).
    #[arg(long, env = "NATTER_S3_PATH_STYLE", default_value_t = true, action = clap::ArgAction::Set)]
    s3_path_style: bool,
}

impl S3Args {
    fn config(self) -> Option<natter_server::attachments::s3::S3Config> {
        Some(natter_server::attachments::s3::S3Config {
            bucket: self.s3_bucket.filter(|b| !b.is_empty())?,
            endpoint: self.s3_endpoint.filter(|e| !e.is_empty()),
            region: self.s3_region.filter(|r| !r.is_empty()),
            prefix: self.s3_prefix,
            path_style: self.s3_path_style,
            access_key_id: None,
            secret_access_key: None,
        })
    }
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Listen address.
    #[arg(long, env = "NATTER_ADDR", default_value = "127.0.0.1:8080")]
    addr: String,
    /// Once listening, write the bound address (`127.0.0.1:41234`) to this file: with port 0
    /// in --addr, a supervisor or test learns the port the system picked.
    #[arg(long, env = "NATTER_ADDR_FILE")]
    addr_file: Option<PathBuf>,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    s3: S3Args,
    /// PostgreSQL connections of this instance (the event listener uses one more).
    #[arg(long, env = "NATTER_DB_POOL", default_value_t = 16)]
    db_pool: u32,
    /// Seconds without a heartbeat after which an instance counts as dead and another
    /// instance re-runs its runs (PostgreSQL only).
    #[arg(long, env = "NATTER_RUN_LEASE", default_value_t = 30.0)]
    run_lease: f64,
    /// Bots directory: one folder per bot with a bot.toml [default: ./bots if it exists,
    /// else the demo bot built into natter].
    #[arg(long, env = "NATTER_BOTS")]
    bots: Option<PathBuf>,
    /// Static pages served at / [default: the pages built into natter].
    #[arg(long, env = "NATTER_WWW")]
    www: Option<PathBuf>,
    /// Built widget package served at /widget/ [default: the widget built into natter].
    #[arg(long, env = "NATTER_WIDGET")]
    widget: Option<PathBuf>,
    /// Seconds a client has to send its request head.
    #[arg(long, env = "NATTER_HEADER_READ_TIMEOUT", default_value_t = 10.0)]
    header_read_timeout: f64,
    /// Requests per second per client IP on /v1 (0 = unlimited); burst is 3x.
    #[arg(long, env = "NATTER_RATE_PER_IP", default_value_t = 20.0)]
    rate_per_ip: f64,
    /// Requests per second per client IP on the CRM's inbound Chat API (0 = unlimited); burst 4x.
    #[arg(long, env = "NATTER_RATE_CRM_PER_IP", default_value_t = 50.0)]
    rate_crm_per_ip: f64,
    /// Messages per second per thread (0 = unlimited); burst 10.
    #[arg(long, env = "NATTER_RATE_PER_THREAD", default_value_t = 1.0)]
    rate_per_thread: f64,
    /// Largest accepted request body.
    #[arg(long, env = "NATTER_MAX_BODY_BYTES", default_value_t = 65536)]
    max_body_bytes: usize,
    /// Longest accepted message, in characters.
    #[arg(long, env = "NATTER_MAX_MESSAGE_CHARS", default_value_t = 4000)]
    max_message_chars: usize,
    /// Seconds between keep-alive comments on idle event streams.
    #[arg(long, env = "NATTER_SSE_KEEPALIVE", default_value_t = 15.0)]
    sse_keepalive: f64,
    #[arg(long, env = "NATTER_DURABILITY", value_enum, default_value = "full")]
    durability: DurabilityArg,
    #[arg(long, env = "NATTER_LOG_FORMAT", value_enum, default_value = "text")]
    log_format: LogFormat,
    /// Isolation of Python actions and handlers: `auto` (bubblewrap when usable, else a logged
    /// fallback), `required` (refuse to start without a usable bubblewrap), `off`.
    #[arg(
        long,
        env = "NATTER_PYTHON_SANDBOX",
        value_enum,
        default_value = "auto"
    )]
    python_sandbox: SandboxArg,
    /// Bearer token of the admin API (/admin/v1); unset: the admin API refuses every request.
    #[arg(long, env = "NATTER_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { bots } => check(&bots),
        Command::Action(cmd) => action(cmd),
        Command::Handler(cmd) => handler(cmd),
        Command::Serve(args) => {
            init_logs(args.log_format);
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .expect("tokio runtime");
            match rt.block_on(serve(*args)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    // One line, not also a log line: a failed start reads as one cause.
                    eprintln!("natter: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn check(dirs: &[PathBuf]) -> ExitCode {
    let mut failed = false;
    for dir in dirs {
        let handler_errors = natter_server::lifecycle::handlers::check_dir(dir);
        if !handler_errors.is_empty() {
            failed = true;
            for e in &handler_errors {
                eprintln!("{e}");
            }
        }
        match natter_server::bots::load_bot(dir) {
            Ok(bot) => {
                println!(
                    "{}: ok ({} workflows, {} actions)",
                    dir.join("bot.toml").display(),
                    bot.workflows.len(),
                    bot.actions.len()
                );
                // Not an error: the secret may be set where the server runs.
                for (action, var) in bot.actions.missing_env(&natter_actions::ProcessEnv) {
                    eprintln!(
                        "warning: action `{action}`: environment variable `{var}` is not set here"
                    );
                }
            }
            Err(errs) => {
                failed = true;
                for e in errs {
                    eprintln!("{e}");
                }
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn action(cmd: ActionCommand) -> ExitCode {
    use natter_server::actions::cli;
    let result = match cmd {
        ActionCommand::List { bot } => cli::list(&bot).map(|out| (out, true)),
        ActionCommand::Test {
            bot,
            action,
            args,
            conversation,
            store,
        } => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .expect("tokio runtime");
            rt.block_on(cli::test(
                &bot,
                &store.data,
                store.database_url(),
                &action,
                &args,
                conversation.as_deref(),
            ))
        }
    };
    match result {
        Ok((out, ok)) => {
            print!("{out}");
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("natter: {e}");
            ExitCode::FAILURE
        }
    }
}

fn handler(cmd: HandlerCommand) -> ExitCode {
    use natter_server::lifecycle::cli;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = match cmd {
        HandlerCommand::List { bot } => cli::list(&bot).map(|o| (o, true)),
        HandlerCommand::Runs { bot, limit, store } => rt
            .block_on(cli::runs(&bot, &store.data, store.database_url(), limit))
            .map(|o| (o, true)),
        HandlerCommand::Test {
            bot,
            handler,
            conversation,
            event,
            store,
        } => rt.block_on(cli::test(
            &bot,
            &store.data,
            store.database_url(),
            &handler,
            &conversation,
            event.as_deref(),
        )),
    };
    match result {
        Ok((out, ok)) => {
            print!("{out}");
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("natter: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("NATTER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let bots_dir = match args.bots {
        Some(dir) => dir,
        None if Path::new("bots").is_dir() => "bots".into(),
        None => {
            let dir =
                natter_server::embedded::write_demo_bots(&args.store.data).with_context(|| {
                    format!(
                        "writing the built-in demo bot under {}",
                        args.store.data.display()
                    )
                })?;
            tracing::info!(bots = %dir.display(), "no ./bots folder: serving the built-in demo bot");
            dir
        }
    };
    let mut config = ServerConfig {
        addr: args.addr,
        data_dir: args.store.data,
        database_url: args.store.database_url.filter(|u| !u.is_empty()),
        objects: args.s3.config(),
        postgres: natter_server::store::postgres::PgOptions {
            pool_size: args.db_pool.max(2),
            run_lease: Duration::from_secs_f64(args.run_lease.max(1.0)),
        },
        bots_dir,
        durability: match args.durability {
            DurabilityArg::Full => Durability::Full,
            DurabilityArg::Normal => Durability::Normal,
        },
        header_read_timeout: Duration::from_secs_f64(args.header_read_timeout.max(0.001)),
        ..ServerConfig::default()
    };
    let http = &mut config.http;
    http.www_dir = args.www;
    http.widget_dir = args.widget;
    http.limits.max_body_bytes = args.max_body_bytes;
    http.limits.max_message_chars = args.max_message_chars;
    http.limits.per_ip = Rate {
        per_sec: args.rate_per_ip,
        burst: (args.rate_per_ip * 3.0).max(1.0),
    };
    http.limits.per_thread = Rate {
        per_sec: args.rate_per_thread,
        burst: 10.0,
    };
    http.limits.crm_per_ip = Rate {
        per_sec: args.rate_crm_per_ip,
        burst: (args.rate_crm_per_ip * 4.0).max(1.0),
    };
    http.sse_keepalive = Duration::from_secs_f64(args.sse_keepalive.max(0.01));
    http.admin_token = args
        .admin_token
        .filter(|t| !t.is_empty())
        .map(natter_server::actions::admin::AdminToken);
    let sandbox = match args.python_sandbox {
        SandboxArg::Auto => SandboxPolicy::Auto,
        SandboxArg::Required => SandboxPolicy::Require,
        SandboxArg::Off => SandboxPolicy::Disable,
    };
    config.actions.python.sandbox = sandbox;
    config.lifecycle.python.sandbox = sandbox;
    // Python actions: start the runtime and each bot's warm processes now, not on the first call.
    config.actions.prewarm = true;

    let shutdown = CancellationToken::new();
    let server = Server::start(config, shutdown.clone()).await?;
    if let Some(file) = &args.addr_file {
        write_addr_file(file, server.local_addr())?;
    }
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("signal received");
        shutdown.cancel();
    });
    server.run().await
}

/// Writes `addr` to `file` whole or not at all (a reader polling the file never sees half an
/// address): a sibling temp file, then a rename.
fn write_addr_file(file: &Path, addr: std::net::SocketAddr) -> anyhow::Result<()> {
    let tmp = file.with_extension("tmp");
    std::fs::write(&tmp, format!("{addr}\n"))
        .and_then(|()| std::fs::rename(&tmp, file))
        .with_context(|| format!("writing the listen address to {}", file.display()))
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
