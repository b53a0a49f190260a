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
    /// Protected attributes (any layout): these columns and every feature derived from them
    /// are kept out of the model and measured beside it for fairness. Default: CODE_GENDER
    /// for the Home Credit tables, none for one table; `none` protects nothing.
    #[arg(long, value_delimiter = ',', value_name = "COL[,COL...]")]
    pub protected: Option<Vec<String>>,
    /// Single table: the applicant's age column, in years (or Home Credit's DAYS_BIRTH, days
    /// before the application): fairness is measured by age band, with Regulation B's age rule,
    /// and `train --monotone-age` constrains it. The Home Credit tables' age is DAYS_BIRTH.
    #[arg(long, value_name = "COL")]
    pub age: Option<String>,
}

impl TableArgs {
    /// How `train` and `validate` read the data.
    pub fn options(&self) -> riskscore_model::input::TableOptions {
        riskscore_model::input::TableOptions {
            id: self.id.clone(),
            target: self.target.clone(),
            categorical: self.categorical.clone(),
            numeric: self.numeric.clone(),
            protected: self.protected(),
            age: self.age.clone(),
            max_categories: None,
        }
    }

    /// The protected attributes asked for: None for the layout's default, empty for `none`.
    pub fn protected(&self) -> Option<Vec<String>> {
        self.protected.as_ref().map(|names| {
            names
                .iter()
                .map(|n| n.trim().to_owned())
                .filter(|n| !n.is_empty() && n != "none")
                .collect()
        })
    }
}

/// A path given on the command line must exist: said as such, before anything else reads it.
pub fn must_exist(path: &std::path::Path, flag: &str) -> anyhow::Result<()> {
    if path.exists() {
        Ok(())
    } else {
        anyhow::bail!("{flag} {}: no such file or folder", path.display())
    }
}
