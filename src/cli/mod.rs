//! The `vmcp` command line, as `DESIGN.md` fixes it. This is the only place that
//! uses `anyhow`: everything below returns typed errors, and here they become a
//! message on stderr and an exit code.

mod remote;
mod start;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};

use crate::config;

#[derive(Parser, Debug)]
#[command(name = "vmcp", version, about = "A virtual MCP gateway: one MCP endpoint in front of many MCP servers")]
pub struct Cli {
    /// Log filter (error, warn, info, debug, trace, or directives like vmcp=debug); VMCP_LOG overrides.
    #[arg(long, global = true, default_value = "info")]
    pub log_level: String,
    /// Log as JSON lines instead of text.
    #[arg(long, global = true)]
    pub log_json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the gateway (in the foreground, or detached with --daemon).
    Start(start::StartArgs),
    /// Write, check or import configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Run a configurable MCP server for tests and experiments.
    Mock(crate::mock::MockArgs),
    /// Stop a running gateway gracefully; returns once it is gone.
    Stop(remote::Target),
    /// Show a running gateway's status.
    Status(remote::ReadArgs),
    /// List a running gateway's servers.
    List(remote::ReadArgs),
    /// Show one server (or every server) in detail.
    Info(remote::InfoArgs),
    /// Mount a server at runtime (it persists across restarts).
    Mount(remote::MountArgs),
    /// Unmount a server mounted at runtime.
    Unmount(remote::IdArgs),
    /// Check a running gateway's health: exit 0 healthy, 1 degraded, 2 down or unreachable.
    #[command(subcommand)]
    Health(HealthCommand),
    /// A running gateway's metrics.
    #[command(subcommand)]
    Metrics(MetricsCommand),
    /// Load-test an MCP server: calls/s, errors and latency percentiles.
    Bench(crate::bench::BenchArgs),
}

#[derive(Subcommand, Debug)]
pub enum HealthCommand {
    /// Check every server: exit 0 healthy, 1 degraded, 2 down or unreachable.
    Check(remote::Target),
}

#[derive(Subcommand, Debug)]
pub enum MetricsCommand {
    /// A readable summary of the gateway's metrics.
    Show(remote::ReadArgs),
}

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Write a commented starter configuration.
    Init {
        /// Where to write it ("-" for stdout).
        #[arg(long, short, default_value = "vmcp.toml")]
        output: PathBuf,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Check a configuration file; exits 1 and lists every error found.
    Validate {
        /// The file (default: $VMCP_CONFIG, ./vmcp.toml, $XDG_CONFIG_HOME/vmcp/config.toml).
        file: Option<PathBuf>,
    },
    /// Convert a desktop or IDE client's mcpServers JSON (Claude Desktop, Cursor, VS Code, ...) to vmcp TOML.
    Import(ImportArgs),
}

/// `vmcp config import MCP_JSON [--output FILE] [--force]`.
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The client's JSON: {"mcpServers": {...}} or VS Code's {"servers": {...}} ("-" for stdin).
    #[arg(value_name = "MCP_JSON")]
    input: PathBuf,
    /// Where to write the TOML ("-" for stdout).
    #[arg(long, short, value_name = "FILE", default_value = "-")]
    output: PathBuf,
    /// Overwrite an existing output file.
    #[arg(long)]
    force: bool,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // `start --log-file` (and the child of `start --daemon`): everything this
    // process writes to stderr, logs included, goes to the file.
    if let Command::Start(a) = &cli.command
        && let (Some(file), false) = (&a.log_file, a.daemon)
        && let Err(e) = start::redirect_stderr(file)
    {
        eprintln!("vmcp: error: cannot write the log file {}: {e}", file.display());
        return ExitCode::from(1);
    }
    crate::observe::init_logging(&cli.log_level, cli.log_json);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("vmcp: error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Start(args) => start::run(args),
        Command::Mock(args) => {
            let rt = runtime()?;
            let outcome = rt.block_on(crate::mock::run(args));
            // As in `start`: a blocked stdin read must not keep the process alive.
            rt.shutdown_timeout(std::time::Duration::from_millis(100));
            outcome.map(|_| ExitCode::SUCCESS)
        }
        Command::Config(ConfigCommand::Init { output, force }) => config_init(&output, force),
        Command::Config(ConfigCommand::Validate { file }) => config_validate(file),
        Command::Config(ConfigCommand::Import(args)) => config_import(&args),
        Command::Stop(a) => on_runtime(remote::stop(a)),
        Command::Status(a) => on_runtime(remote::status(a)),
        Command::List(a) => on_runtime(remote::list(a)),
        Command::Info(a) => on_runtime(remote::info(a)),
        Command::Mount(a) => on_runtime(remote::mount(a)),
        Command::Unmount(a) => on_runtime(remote::unmount(a)),
        Command::Health(HealthCommand::Check(a)) => on_runtime(remote::health(a)),
        Command::Metrics(MetricsCommand::Show(a)) => on_runtime(remote::metrics(a)),
        Command::Bench(args) => bench(&args),
    }
}

/// Runs a command that talks to a running gateway.
fn on_runtime(fut: impl Future<Output = anyhow::Result<ExitCode>>) -> anyhow::Result<ExitCode> {
    let rt =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start the async runtime")?;
    rt.block_on(fut)
}

/// `vmcp bench`: the report on stdout (text, or JSON with --json); notes and progress on stderr.
fn bench(args: &crate::bench::BenchArgs) -> anyhow::Result<ExitCode> {
    let rt = runtime()?;
    let outcome = rt.block_on(crate::bench::run(args));
    // Nothing may linger: server processes were stopped by the run itself.
    rt.shutdown_timeout(std::time::Duration::from_millis(100));
    let report = outcome?;
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_text());
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    runtime_with(0)
}

/// A multi-threaded runtime with `workers` threads (0: tokio's default, one per
/// core, or `TOKIO_WORKER_THREADS`).
pub(crate) fn runtime_with(workers: u32) -> anyhow::Result<tokio::runtime::Runtime> {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    if workers > 0 {
        b.worker_threads(workers as usize);
    }
    b.enable_all().build().context("cannot start the async runtime")
}

/// The configuration files to read: those given, else the first default that exists.
pub(crate) fn config_paths(given: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    if !given.is_empty() {
        return Ok(given.to_vec());
    }
    match config::default_path() {
        Some(p) => Ok(vec![p]),
        None => bail!(
            "no configuration file found: looked at $VMCP_CONFIG, ./vmcp.toml and $XDG_CONFIG_HOME/vmcp/config.toml; \
             pass --config FILE or create one with `vmcp config init`"
        ),
    }
}

fn config_init(output: &PathBuf, force: bool) -> anyhow::Result<ExitCode> {
    if output.as_os_str() == "-" {
        print!("{}", config::STARTER);
        return Ok(ExitCode::SUCCESS);
    }
    if output.exists() && !force {
        bail!("{} already exists; pass --force to overwrite it", output.display());
    }
    std::fs::write(output, config::STARTER).with_context(|| format!("cannot write {}", output.display()))?;
    eprintln!("wrote {}; check it with `vmcp config validate {}`", output.display(), output.display());
    Ok(ExitCode::SUCCESS)
}

fn config_import(args: &ImportArgs) -> anyhow::Result<ExitCode> {
    let stdin = args.input.as_os_str() == "-";
    let origin = if stdin { "<stdin>".to_owned() } else { args.input.display().to_string() };
    let text = if stdin {
        std::io::read_to_string(std::io::stdin()).context("cannot read the JSON from stdin")?
    } else {
        std::fs::read_to_string(&args.input).with_context(|| format!("cannot read {origin}"))?
    };
    let to_stdout = args.output.as_os_str() == "-";
    if !to_stdout {
        if args.output.exists() && !args.force {
            bail!("{} already exists; pass --force to overwrite it", args.output.display());
        }
        if !stdin && std::fs::canonicalize(&args.output).ok() == std::fs::canonicalize(&args.input).ok() {
            bail!("--output {} is the file being imported; write the TOML somewhere else", args.output.display());
        }
    }
    let imported = match config::import_mcp_json(&origin, &text) {
        Ok(imported) => imported,
        Err(errors) => {
            eprintln!("{errors}");
            let n = errors.0.len();
            eprintln!("{n} error{} found; nothing written", if n == 1 { "" } else { "s" });
            return Ok(ExitCode::from(1));
        }
    };
    for note in &imported.notes {
        eprintln!("note: {note}");
    }
    let n = imported.ids.len();
    let summary = format!("{n} server{}", if n == 1 { "" } else { "s" });
    if to_stdout {
        print!("{}", imported.toml);
        eprintln!("imported {summary} from {origin}");
    } else {
        std::fs::write(&args.output, &imported.toml)
            .with_context(|| format!("cannot write {}", args.output.display()))?;
        let out = args.output.display();
        eprintln!("wrote {out} ({summary} from {origin}); check it with `vmcp config validate {out}`");
    }
    Ok(ExitCode::SUCCESS)
}

fn config_validate(file: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let paths = config_paths(file.as_slice())?;
    match config::load(&paths) {
        Ok(cfg) => {
            let names: Vec<_> = cfg.servers.keys().cloned().collect();
            println!(
                "{}: ok ({} server{}: {})",
                paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
                names.len(),
                if names.len() == 1 { "" } else { "s" },
                names.join(", ")
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!("{} error{} found", errors.0.len(), if errors.0.len() == 1 { "" } else { "s" });
            Ok(ExitCode::from(1))
        }
    }
}
