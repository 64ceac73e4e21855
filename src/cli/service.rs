//! The service commands: `qf serve`, `qf worker`, `qf migrate`, `qf config show`, and
//! `qf admin …` for bootstrapping without the API.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use qf_server::config::Config;

/// Where the configuration comes from, and the overrides every service command takes.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Configuration file (default: ./qf.toml if present; or QF_CONFIG).
    #[arg(long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    /// Data directory for the embedded database and object store (data_dir / QF_DATA_DIR).
    #[arg(long, value_name = "DIR", global = true)]
    data_dir: Option<PathBuf>,
}

impl ConfigArgs {
    fn load(&self) -> anyhow::Result<Config> {
        let mut c = Config::from_process_env(self.config.as_deref())?;
        if let Some(d) = &self.data_dir {
            c.data_dir = d.clone();
        }
        c.validate()?;
        Ok(c)
    }
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Address to listen on (addr / QF_ADDR; default 127.0.0.1:8080; port 0 picks one).
    #[arg(long, value_name = "HOST:PORT")]
    addr: Option<SocketAddr>,
    /// In-process job workers (workers / QF_WORKERS).
    #[arg(long, value_name = "N")]
    workers: Option<usize>,
    /// Create a demo tenant with an owner, sample data and a sample strategy, and print an
    /// API key with a curl line to paste.
    #[arg(long)]
    demo: bool,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Workers in this process (workers / QF_WORKERS).
    #[arg(long, value_name = "N")]
    workers: Option<usize>,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration (defaults < qf.toml < QF_* environment), secrets masked.
    Show(ConfigArgs),
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage people's accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Key(KeyCommand),
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant and an owner API key (and an owner account with --owner-email).
    Create {
        /// The tenant's name.
        name: String,
        /// Also create an owner account with this email (password from QF_ADMIN_PASSWORD).
        #[arg(long)]
        owner_email: Option<String>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: ConfigArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account (password from QF_ADMIN_PASSWORD), optionally as a member of a tenant.
    Create {
        /// Email address (the sign-in name).
        #[arg(long)]
        email: String,
        /// Display name (default: the email).
        #[arg(long)]
        name: Option<String>,
        /// Make the account a member of this tenant (ten_…).
        #[arg(long)]
        tenant: Option<String>,
        /// Role in the tenant: owner, admin, developer, viewer.
        #[arg(long, default_value = "developer")]
        role: String,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: ConfigArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create an API key in a tenant; the key is printed once.
    Create {
        /// The tenant (ten_…).
        #[arg(long)]
        tenant: String,
        /// What the key is for.
        #[arg(long, default_value = "admin-created key")]
        name: String,
        /// The key's role: owner, admin, developer, viewer.
        #[arg(long, default_value = "developer")]
        role: String,
        /// Days until it expires (none by default).
        #[arg(long)]
        expires_in_days: Option<u32>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: ConfigArgs,
    },
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// `qf serve`.
pub fn serve(a: ServeArgs) -> anyhow::Result<()> {
    let mut c = a.config.load()?;
    if let Some(addr) = a.addr {
        c.addr = addr;
    }
    if let Some(w) = a.workers {
        c.workers = w;
    }
    c.validate()?;
    qf_server::logging::init(&c)?;
    runtime()?.block_on(async move {
        let state = qf_server::serve::state(c).await?;
        let demo = if a.demo {
            Some(qf_server::demo::setup(&state).await?)
        } else {
            None
        };
        qf_server::serve::serve(state, |addr, _| {
            // The one line tests and scripts wait for, then the demo's banner.
            println!("qf listening on http://{addr}");
            if let Some(d) = &demo {
                println!("\n{}", d.banner(addr));
            }
        })
        .await
    })
}

/// `qf worker`.
pub fn worker(a: WorkerArgs) -> anyhow::Result<()> {
    let mut c = a.config.load()?;
    if let Some(w) = a.workers {
        c.workers = w;
    }
    c.validate()?;
    qf_server::logging::init(&c)?;
    runtime()?.block_on(async move {
        let state = qf_server::serve::state(c).await?;
        qf_server::serve::workers(state).await
    })
}

/// `qf migrate`.
pub fn migrate(a: ConfigArgs) -> anyhow::Result<()> {
    let c = a.load()?;
    runtime()?.block_on(async move {
        let store = qf_store::Store::connect(&c.database_url()).await?;
        let applied = store.migrate().await?;
        if applied.is_empty() {
            println!("the database is up to date");
        }
        for m in applied {
            println!("applied {m}");
        }
        Ok(())
    })
}

/// `qf config show`.
pub fn config(c: ConfigCommand) -> anyhow::Result<()> {
    match c {
        ConfigCommand::Show(a) => {
            print!("{}", a.load()?.show());
            Ok(())
        }
    }
}

fn password() -> anyhow::Result<String> {
    std::env::var("QF_ADMIN_PASSWORD").map_err(|_| {
        anyhow::anyhow!("set QF_ADMIN_PASSWORD to the new account's password (kept out of the command line and shell history)")
    })
}

fn print(json: bool, value: &impl serde::Serialize, human: String) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(value)?);
    } else {
        println!("{human}");
    }
    Ok(())
}

/// `qf admin …`.
pub fn admin(c: AdminCommand) -> anyhow::Result<()> {
    let rt = runtime()?;
    match c {
        AdminCommand::Tenant(TenantCommand::Create {
            name,
            owner_email,
            json,
            config,
        }) => {
            let c = config.load()?;
            rt.block_on(async {
                let store = qf_server::serve::open_store(&c).await?;
                let pw = match &owner_email {
                    Some(_) => Some(password()?),
                    None => None,
                };
                let owner = owner_email
                    .as_deref()
                    .zip(pw.as_deref())
                    .map(|(e, p)| (e, e, p));
                let t = qf_server::admin::create_tenant(&store, &name, owner).await?;
                let human = format!(
                    "tenant {} ({})\nowner API key (shown once): {}",
                    t.tenant_id, t.name, t.api_key
                );
                print(json, &t, human)
            })
        }
        AdminCommand::User(UserCommand::Create {
            email,
            name,
            tenant,
            role,
            json,
            config,
        }) => {
            let c = config.load()?;
            rt.block_on(async {
                let store = qf_server::serve::open_store(&c).await?;
                let pw = password()?;
                let u = qf_server::admin::create_member(
                    &store,
                    &email,
                    name.as_deref().unwrap_or(&email),
                    &pw,
                    tenant.as_deref(),
                    &role,
                )
                .await?;
                let human = format!("user {} ({})", u.user_id, u.email);
                print(json, &u, human)
            })
        }
        AdminCommand::Key(KeyCommand::Create {
            tenant,
            name,
            role,
            expires_in_days,
            json,
            config,
        }) => {
            let c = config.load()?;
            rt.block_on(async {
                let store = qf_server::serve::open_store(&c).await?;
                let k =
                    qf_server::admin::create_key(&store, &tenant, &name, &role, expires_in_days)
                        .await?;
                let human = format!("API key {} (shown once): {}", k.key_id, k.api_key);
                print(json, &k, human)
            })
        }
    }
}
