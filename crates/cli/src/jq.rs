//! The jq options of record commands (`--filter`, `--map`, `--flatmap`); the pipeline itself
//! is `kafkit::store::ops::jq`.

use kafkit::store::ops::jq::Pipeline;

/// The jq options of record commands.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct JqArgs {
    /// Keep only records for which this jq expression is true, e.g. `.value.amount > 100`.
    #[arg(long, value_name = "JQ")]
    pub filter: Option<String>,
    /// Replace each record by this jq expression's output, e.g. `.key |= ascii_upcase`.
    #[arg(long, value_name = "JQ")]
    pub map: Option<String>,
    /// Replace each record by every output of this jq expression (none drops it), e.g.
    /// `.value.items[] as $i | .value = $i`.
    #[arg(long, value_name = "JQ")]
    pub flatmap: Option<String>,
}

impl JqArgs {
    /// Compiles the expressions; an error names the option and where the expression is bad.
    pub fn pipeline(&self) -> anyhow::Result<Pipeline> {
        Pipeline::new(
            self.filter.as_deref(),
            self.map.as_deref(),
            self.flatmap.as_deref(),
        )
        .map_err(|e| anyhow::anyhow!("--{e}"))
    }
}
