//! `kafkit shell`: the commands at a prompt, parsed as the command line parses them, on the
//! storage chosen at start (`-s`) or with `use STORAGE`. Tab completes commands, their
//! options, and the topic and group names of the storage in use; history is kept in
//! `$KAFKIT_HOME/history` (else `~/.kafkit_history`).

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::{CommandFactory, Parser};
use kafkit::store::Storage;
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{Config, Editor, Helper, Highlighter, Hinter, Validator};

use crate::args::{Cli, Command};
use crate::storages;

/// How long listing topics and groups for completion may take.
const LIST_TIMEOUT: Duration = Duration::from_secs(5);
/// Lines of history kept.
const HISTORY_LINES: usize = 1000;

/// What the shell's own words are (beside the commands).
const BUILTINS: [&str; 4] = ["use", "exit", "quit", "help"];

/// Runs one parsed command line; the shell hands each line to it.
pub type Exec<'a> = &'a dyn Fn(Cli) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + 'a>>;

/// The names completion offers: topics and groups of the storage in use.
#[derive(Default)]
struct Names {
    topics: Vec<String>,
    groups: Vec<String>,
}

/// Completes command names, their options, topics and groups.
#[derive(Helper, Highlighter, Hinter, Validator)]
struct Completion {
    commands: Vec<String>,
    names: Arc<Mutex<Names>>,
}

impl Completion {
    fn new(names: Arc<Mutex<Names>>) -> Self {
        let mut commands: Vec<String> = Cli::command()
            .get_subcommands()
            .flat_map(|c| {
                std::iter::once(c.get_name().to_string())
                    .chain(c.get_all_aliases().map(String::from))
            })
            .chain(BUILTINS.iter().map(|b| b.to_string()))
            .collect();
        commands.sort();
        commands.dedup();
        Completion { commands, names }
    }

    /// The long options of `command` (and the global ones), as `--name`.
    fn options_of(command: &str) -> Vec<String> {
        let root = Cli::command();
        let mut out: Vec<String> = root
            .get_arguments()
            .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
            .collect();
        if let Some(sub) = root.find_subcommand(command) {
            out.extend(
                sub.get_arguments()
                    .filter_map(|a| a.get_long().map(|l| format!("--{l}"))),
            );
        }
        out.sort();
        out.dedup();
        out
    }
}

impl Completer for Completion {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let start = before.rfind(char::is_whitespace).map_or(0, |i| i + 1);
        let word = &before[start..];
        let earlier: Vec<&str> = before[..start].split_whitespace().collect();
        let candidates: Vec<String> = match earlier.first() {
            None => self.commands.clone(),
            Some(command) if word.starts_with('-') => Self::options_of(command),
            Some(_) => {
                let names = self.names.lock().unwrap_or_else(|e| e.into_inner());
                names.topics.iter().chain(&names.groups).cloned().collect()
            }
        };
        let mut matches: Vec<Pair> = candidates
            .into_iter()
            .filter(|c| c.starts_with(word))
            .map(|c| Pair {
                display: c.clone(),
                replacement: format!("{c} "),
            })
            .collect();
        matches.dedup_by(|a, b| a.display == b.display);
        Ok((start, matches))
    }
}

/// Where the history is kept.
fn history_file() -> Option<PathBuf> {
    if let Some(home) = std::env::var_os("KAFKIT_HOME") {
        return Some(PathBuf::from(home).join("history"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".kafkit_history"))
}

/// The topics and groups of `spec`'s storage (empty when it cannot be reached in time).
async fn list_names(spec: &str, properties: &[String]) -> Names {
    let listed = async {
        let spec: storages::StorageSpec = spec.parse().ok()?;
        let resolved = storages::resolve(&spec).ok()?;
        let props = storages::parse_properties(properties).ok()?;
        let storage = storages::open(&resolved, &props).await.ok()?;
        let topics = storage.list_topics().await.ok()?;
        let groups = storage.list_groups().await.unwrap_or_default();
        let _ = storage.close().await;
        Some(Names {
            topics: topics.into_iter().map(|t| t.name).collect(),
            groups,
        })
    };
    tokio::time::timeout(LIST_TIMEOUT, listed)
        .await
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// The shell, starting on `storage` (a `--storage` value) with the client `properties`
/// given on the command line; each line runs through `exec`.
pub async fn run(storage: String, properties: Vec<String>, exec: Exec<'_>) -> anyhow::Result<()> {
    let names = Arc::new(Mutex::new(Names::default()));
    let config = Config::builder()
        .max_history_size(HISTORY_LINES)?
        .auto_add_history(false)
        .build();
    let mut editor: Editor<Completion, DefaultHistory> = Editor::with_config(config)?;
    editor.set_helper(Some(Completion::new(names.clone())));
    let history = history_file();
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    let mut current = storage;
    *names.lock().unwrap_or_else(|e| e.into_inner()) = list_names(&current, &properties).await;
    println!("kafkit shell on {current}: commands as on the command line, `use STORAGE` to switch, tab completes, `exit` ends");
    loop {
        let prompt = format!("kafkit {current}> ");
        let (back, read) = tokio::task::spawn_blocking(move || {
            let line = editor.readline(&prompt);
            (editor, line)
        })
        .await?;
        editor = back;
        let line = match read {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        };
        let words = match shlex::split(&line) {
            Some(w) => w,
            None => {
                eprintln!("kafkit: unbalanced quotes in: {line}");
                continue;
            }
        };
        let Some(first) = words.first() else {
            continue;
        };
        let _ = editor.add_history_entry(line.as_str());
        match first.as_str() {
            "exit" | "quit" => break,
            "help" => {
                let _ = Cli::command().print_help();
                println!();
                continue;
            }
            "use" => {
                match words.get(1) {
                    Some(next) if next.parse::<storages::StorageSpec>().is_ok() => {
                        current = next.clone();
                        println!("now on {current}");
                    }
                    _ => eprintln!(
                        "kafkit: use STORAGE (local:DIR, kafka:HOST:PORT, s3:..., a config name)"
                    ),
                }
                *names.lock().unwrap_or_else(|e| e.into_inner()) =
                    list_names(&current, &properties).await;
                continue;
            }
            _ => {}
        }
        let mut argv = vec!["kafkit".to_string(), "--storage".into(), current.clone()];
        for p in &properties {
            argv.push("-X".into());
            argv.push(p.clone());
        }
        argv.extend(words);
        match Cli::try_parse_from(&argv) {
            Ok(cli) if matches!(cli.command, Command::Shell) => {
                eprintln!("kafkit: already in the shell")
            }
            Ok(cli) => {
                if let Err(e) = exec(cli).await {
                    eprintln!("kafkit: {e:#}");
                }
            }
            Err(e) => {
                let _ = e.print();
            }
        }
        *names.lock().unwrap_or_else(|e| e.into_inner()) = list_names(&current, &properties).await;
    }
    if let Some(h) = &history {
        let _ = editor.save_history(h);
    }
    Ok(())
}
