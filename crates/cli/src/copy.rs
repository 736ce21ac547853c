//! `cp`: the copy itself is `kafkit::store::ops::copy`; this adds a progress bar, Ctrl-C,
//! and errors in terms of the command's options.

use anyhow::{anyhow, bail};
use kafkit::store::ops::copy::{copy, Copied, CopyError, CopyPlan};
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
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let copied = copy(
        (source, topic),
        (target, target_topic),
        &plan,
        &move |n| shown.set_position(n),
        stop,
    )
    .await;
    match copied {
        Ok(c) => {
            bar.finish_and_clear();
            Ok(c)
        }
        Err(e) => {
            bar.abandon();
            Err(match e {
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
    }
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
