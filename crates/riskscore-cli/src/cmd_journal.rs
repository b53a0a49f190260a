//! `riskscore journal verify`: checks the decision journal's hash chain.

use anyhow::{bail, Result};
use riskscore_server::journal::{verify, Location};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Detects edited, removed or reordered entries.
    Verify {
        /// A SQLite file, or postgres://user:password@host/db.
        #[arg(
            long,
            env = "RISKSCORE_JOURNAL",
            default_value = "riskscore-journal.sqlite"
        )]
        journal: String,
        /// Print the verdict as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(args: Args) -> Result<()> {
    match args.command {
        Command::Verify { journal, json } => {
            let loc = Location::parse(&journal);
            if let Some(path) = riskscore_server::journal::sqlite_path(&loc) {
                crate::table_args::must_exist(path, "--journal")?;
            }
            let v = verify(&loc)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else if v.ok {
                println!(
                    "journal {}: {} entries, chain intact",
                    loc.display(),
                    v.entries
                );
            } else {
                for p in &v.problems {
                    println!("{p}");
                }
            }
            if !v.ok {
                bail!(
                    "journal {}: {} problem(s) in {} entries",
                    loc.display(),
                    v.problems.len(),
                    v.entries
                );
            }
            Ok(())
        }
    }
}
