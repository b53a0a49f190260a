/// How a single CSV/Parquet table is read (ignored for a Home Credit folder).
#[derive(Debug, clap::Args)]
pub struct TableArgs {
    /// Single table: the id column.
    #[arg(long)]
    pub id: Option<String>,
    /// Single table: the 0/1 target column.
    #[arg(long)]
    pub target: Option<String>,
    /// Single table: columns to one-hot encode whatever their type (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub categorical: Vec<String>,
    /// Single table: columns to read as numbers whatever their inferred type (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub numeric: Vec<String>,
}

/// A path given on the command line must exist: said as such, before anything else reads it.
pub fn must_exist(path: &std::path::Path, flag: &str) -> anyhow::Result<()> {
    if path.exists() {
        Ok(())
    } else {
        anyhow::bail!("{flag} {}: no such file or folder", path.display())
    }
}
