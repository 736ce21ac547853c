//! `cp`: the copy itself is `kafkit::store::ops::copy`; this adds a progress bar, Ctrl-C,
//! and errors in terms of the command's options.

use anyhow::{anyhow, bail};
use kafkit::store::ops::copy::{copy, Copied, CopyError, CopyPlan};
use kafkit::store::ops::exactly_once::copy_exactly_once;
use kafkit::store::{AnyStorage, Storage};

use crate::shell::ReadArgs;

/// `cp`: copies records (keeping partitions, timestamps and headers unless told otherwise),
/// creating the target topic with the source's partition count when missing. An error says
/// how far the copy got: everything before the positions it names is in the target.
pub async fn cp(
    (source, topic): (&AnyStorage, &str),
    (target, target_topic): (&AnyStorage, &str),
    args: &ReadArgs,
    mut plan: CopyPlan<'_>,
) -> anyhow::Result<Copied> {
    if plan.groups && !plan.keep_partitions {
        bail!("--groups needs the partitions kept (drop --repartition)");
    }
    if plan.into_existing == kafkit::store::ops::copy::IntoExisting::Resume
        && (args.offsets.is_some() || args.from.is_some() || args.group.is_some())
    {
        bail!("--resume reads from where the target ends: drop --offsets, --from and --group");
    }
    plan.read = args.spec(topic, None, args.follow)?;
    if plan.into_existing == kafkit::store::ops::copy::IntoExisting::Resume {
        // The copy reads from where the target ends.
        plan.read.start = None;
    }
    let bar = progress_bar(source, topic, args, plan.limit).await;
    let shown = bar.clone();
    let copied = copy(
        (source, topic),
        (target, target_topic),
        &plan,
        &move |n| shown.set_position(n),
        ctrl_c(),
    )
    .await;
    settle(bar, copied, |e| match e {
        CopyError::TargetHolds { .. } => {
            anyhow!("{e} (--append adds anyway; --resume goes on with a copy that stopped)")
        }
        CopyError::CannotResume => anyhow!(
            "--resume needs a copy that keeps offsets (a cluster into local files, \
             nothing changed); resume this one with --offsets P=N,... --append as the \
             stopped copy said, or copy as a --group"
        ),
        other => anyhow!(other),
    })
}

/// Ctrl-C, the stop of a copy run from a terminal.
async fn ctrl_c() {
    let _ = tokio::signal::ctrl_c().await;
}

/// Ends a copy's progress bar (cleared when done, left as it was when the copy stopped) and
/// words its error with `explain`.
fn settle(
    bar: indicatif::ProgressBar,
    copied: Result<Copied, CopyError>,
    explain: impl FnOnce(CopyError) -> anyhow::Error,
) -> anyhow::Result<Copied> {
    match copied {
        Ok(c) => {
            bar.finish_and_clear();
            Ok(c)
        }
        Err(e) => {
            bar.abandon();
            Err(explain(e))
        }
    }
}

/// `cp --exactly-once`: cluster to cluster in transactions, the copy's progress kept as
/// `--group`'s commits in the target, so running it again after a crash leaves no
/// duplicates for read_committed readers of the target.
pub async fn cp_exactly_once(
    (source, topic): (&AnyStorage, &str),
    (target, target_topic): (&AnyStorage, &str),
    args: &ReadArgs,
    mut plan: CopyPlan<'_>,
) -> anyhow::Result<Copied> {
    let (AnyStorage::Kafka(from), AnyStorage::Kafka(into)) = (source, target) else {
        bail!("--exactly-once copies from a cluster to a cluster (transactions are Kafka's)");
    };
    let Some(group) = args.group_of(topic) else {
        bail!(
            "--exactly-once needs --group G: the copy keeps its progress as G's commits in \
             the target, committed with each transaction"
        );
    };
    if plan.into_existing == kafkit::store::ops::copy::IntoExisting::Resume {
        bail!("--exactly-once always goes on from its group's commits: drop --resume");
    }
    if args.partitions.is_some() {
        bail!("--exactly-once copies every partition: drop --partitions");
    }
    let mut read = args.clone();
    read.group = None;
    plan.read = read.spec(topic, None, args.follow)?;
    let bar = progress_bar(source, topic, args, plan.limit).await;
    let shown = bar.clone();
    let copied = copy_exactly_once(
        (from, topic),
        (into, target_topic),
        &group,
        &plan,
        &move |n| shown.set_position(n),
        ctrl_c(),
    )
    .await;
    settle(bar, copied, |e| match e {
        CopyError::TargetHolds { .. } => {
            anyhow!("{e} and group '{group}' has no commits there (--append copies anyway)")
        }
        other => anyhow!(other),
    })
}

/// A progress bar on stderr for a copy (hidden when stderr is not a terminal): records read
/// out of those between the watermarks now.
async fn progress_bar(
    source: &AnyStorage,
    topic: &str,
    args: &ReadArgs,
    limit: Option<u64>,
) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let total: Option<u64> = match (args.follow, source.watermarks(topic).await) {
        (false, Ok(marks)) => Some(
            marks
                .iter()
                .filter(|(p, _)| args.partitions.as_ref().is_none_or(|ps| ps.contains(p)))
                .map(|(_, (l, h))| (h - l).max(0) as u64)
                .sum(),
        ),
        _ => None,
    };
    let total = match (total, limit) {
        (Some(t), Some(n)) => Some(t.min(n)),
        (t, n) => t.or(n),
    };
    let bar = match total {
        Some(t) => indicatif::ProgressBar::new(t).with_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {human_pos}/{human_len} records, {per_sec}, eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        ),
        None => indicatif::ProgressBar::new_spinner().with_style(
            indicatif::ProgressStyle::with_template("{spinner} {human_pos} records, {per_sec}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        ),
    };
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    bar
}
