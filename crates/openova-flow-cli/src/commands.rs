//! The subcommands. I/O lives here; what is shown is computed by the pure
//! [`crate::render`] and [`crate::summary`] functions.

use std::io::{IsTerminal, Read, Write};
use std::ops::ControlFlow;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use openova_flow_contract::log_lines::decode_log_lines;
use openova_flow_contract::{FlowMessage, FlowState, decode_message, is_valid_flow_id};

use crate::client::Api;
use crate::follow::{FollowEvent, follow};
use crate::render::{ScreenOptions, changes, counts_text, screen};
use crate::summary::{Summary, summarise};
use crate::{
    Cli, Command, EXIT_FAILED_NODES, EXIT_TIMEOUT, PostArgs, SnapshotArgs, TailArgs, WatchArgs,
};

/// Runs one parsed command line.
pub async fn run(cli: Cli) -> Result<ExitCode> {
    let api = Api::new(&cli.global.server, cli.global.token.clone())?;
    match cli.command {
        Command::Watch(a) => watch(&api, a).await,
        Command::Snapshot(a) => snapshot(&api, a).await,
        Command::Post(a) => post(&api, a).await,
        Command::Tail(a) => tail(&api, a).await,
    }
}

fn check_flow_id(id: &str) -> Result<()> {
    if is_valid_flow_id(id) {
        Ok(())
    } else {
        bail!("invalid flow id {id:?}: expected 1-128 characters of A-Z a-z 0-9 . _ : -")
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Writes lines to stdout; `false` when stdout is gone (e.g. `| head`).
fn emit(lines: &[String]) -> bool {
    let mut out = std::io::stdout().lock();
    for l in lines {
        if writeln!(out, "{l}").is_err() {
            return false;
        }
    }
    out.flush().is_ok()
}

/// Applies one event frame's data to `state` (stamped with the URL flowId).
pub fn apply_frame(state: &mut FlowState, flow_id: &str, data: &str) -> Result<(), String> {
    let mut msg: FlowMessage = decode_message(data.as_bytes()).map_err(|e| e.to_string())?;
    msg.stamp_flow_id(flow_id);
    state.apply_unchecked(msg);
    Ok(())
}

// ------------------------------------------------------------------ snapshot

async fn snapshot(api: &Api, a: SnapshotArgs) -> Result<ExitCode> {
    check_flow_id(&a.flow_id)?;
    let (body, id) = api.snapshot(&a.flow_id).await?;
    if !a.summary {
        emit(&[body.trim_end_matches('\n').to_owned()]);
        return Ok(ExitCode::SUCCESS);
    }
    let mut state = FlowState::new();
    apply_frame(&mut state, &a.flow_id, body.trim_end()).map_err(|e| {
        anyhow!(
            "GET {}: the snapshot does not decode: {e}",
            api.url(&a.flow_id, "snapshot")
        )
    })?;
    let opts = ScreenOptions {
        width: 200,
        color: false,
        connection: format!("snapshot {}", id.as_deref().unwrap_or("-")),
        now_ms: now_ms(),
        max_listed: usize::MAX,
    };
    emit(&screen(&summarise(&state, &a.flow_id), &a.flow_id, &opts));
    Ok(ExitCode::SUCCESS)
}

// ------------------------------------------------------------------ post

/// Splits an input into bodies: one JSON document, or one per non-empty line.
pub fn split_bodies(input: &str) -> Vec<(usize, String)> {
    if serde_json::from_str::<serde_json::Value>(input).is_ok() {
        return vec![(1, input.trim().to_owned())];
    }
    input
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| (i + 1, l.trim().to_owned()))
        .collect()
}

async fn post(api: &Api, a: PostArgs) -> Result<ExitCode> {
    check_flow_id(&a.flow_id)?;
    let (name, input) = match &a.file {
        Some(path) => (
            path.display().to_string(),
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?,
        ),
        None => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("cannot read stdin")?;
            ("stdin".to_owned(), s)
        }
    };
    let bodies = split_bodies(&input);
    if bodies.is_empty() {
        bail!("{name}: nothing to post (expected a JSON document or JSON Lines)");
    }
    // Validate everything first: a bad line posts nothing.
    for (line, body) in &bodies {
        let res = if a.log_lines {
            decode_log_lines(body.as_bytes(), 0)
                .map(|_| ())
                .map_err(|e| e.to_string())
        } else {
            decode_message(body.as_bytes())
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        res.map_err(|e| anyhow!("{name} line {line}: {e}; nothing was posted"))?;
    }
    let resource = if a.log_lines { "log-lines" } else { "events" };
    for (i, (line, body)) in bodies.iter().enumerate() {
        let resp = api
            .post(&a.flow_id, resource, body.clone().into_bytes())
            .await
            .map_err(|e| {
                anyhow!(
                    "{name} line {line}: {e} ({i} of {} posted before)",
                    bodies.len()
                )
            })?;
        if !emit(&[resp.trim_end().to_owned()]) {
            break;
        }
    }
    Ok(ExitCode::SUCCESS)
}

// ------------------------------------------------------------------ tail

/// The line `tail` prints for a frame.
pub fn tail_line(f: &openova_flow_contract::sse::Frame, data_only: bool) -> String {
    if data_only {
        f.data.clone()
    } else {
        format!("{} {} {}", f.event, f.id.as_deref().unwrap_or("-"), f.data)
    }
}

async fn tail(api: &Api, a: TailArgs) -> Result<ExitCode> {
    check_flow_id(&a.flow_id)?;
    let mut printed = 0usize;
    if a.count == Some(0) {
        return Ok(ExitCode::SUCCESS);
    }
    let fut = follow(api, &a.flow_id, a.last_event_id.clone(), |ev| match ev {
        FollowEvent::Frame(f) => {
            if f.event == "heartbeat" && !a.heartbeats {
                return ControlFlow::Continue(());
            }
            if !emit(&[tail_line(&f, a.data_only)]) {
                return ControlFlow::Break(());
            }
            printed += 1;
            if a.count.is_some_and(|c| printed >= c) {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        }
        FollowEvent::Disconnected { why, retry_in } => {
            eprintln!("tail: {why}; reconnecting in {}s", retry_in.as_secs_f32());
            ControlFlow::Continue(())
        }
        FollowEvent::Connected | FollowEvent::Tick => ControlFlow::Continue(()),
    });
    tokio::select! {
        r = fut => r.map(|()| ExitCode::SUCCESS),
        _ = tokio::signal::ctrl_c() => Ok(ExitCode::from(130)),
    }
}

// ------------------------------------------------------------------ watch

struct Watch {
    flow_id: String,
    state: FlowState,
    tty: bool,
    color: bool,
    connection: String,
    prev: Option<Summary>,
    drawn: usize,
    dirty: bool,
    last_draw: Option<Instant>,
    max_listed: usize,
    until_done: Option<usize>,
}

impl Watch {
    fn summary(&self) -> Summary {
        summarise(&self.state, &self.flow_id)
    }

    fn on_event(&mut self, ev: FollowEvent) -> ControlFlow<u8> {
        match ev {
            FollowEvent::Connected => {
                self.connection = "live".to_owned();
                self.dirty = true;
            }
            FollowEvent::Frame(f) => {
                if f.event == "heartbeat" {
                    return ControlFlow::Continue(());
                }
                if let Err(e) = apply_frame(&mut self.state, &self.flow_id, &f.data) {
                    eprintln!(
                        "watch: ignored a {} frame that does not decode: {e}",
                        f.event
                    );
                    return ControlFlow::Continue(());
                }
                self.connection = format!("live {}", f.id.as_deref().unwrap_or("-"));
                self.dirty = true;
                let sum = self.summary();
                if !self.tty && !emit(&changes(self.prev.as_ref(), &sum)) {
                    return ControlFlow::Break(1);
                }
                let done = self
                    .until_done
                    .is_some_and(|min| sum.overall.done() && sum.overall.total >= min);
                let failed = sum.overall.failed > 0;
                self.prev = Some(sum);
                if done {
                    return ControlFlow::Break(if failed { EXIT_FAILED_NODES } else { 0 });
                }
            }
            FollowEvent::Disconnected { why, retry_in } => {
                self.connection = format!("reconnecting in {}s: {why}", retry_in.as_secs());
                self.dirty = true;
                if !self.tty {
                    eprintln!("watch: {why}; reconnecting in {}s", retry_in.as_secs_f32());
                }
            }
            FollowEvent::Tick => {}
        }
        if self.tty {
            let stale = self
                .last_draw
                .is_none_or(|t| t.elapsed() >= Duration::from_secs(1));
            let due = self
                .last_draw
                .is_none_or(|t| t.elapsed() >= Duration::from_millis(100));
            if (self.dirty && due) || stale {
                self.draw();
            }
        }
        ControlFlow::Continue(())
    }

    fn draw(&mut self) {
        let (width, height) = terminal_size::terminal_size()
            .map_or((100, 40), |(w, h)| (usize::from(w.0), usize::from(h.0)));
        let opts = ScreenOptions {
            width: width.saturating_sub(1).max(20),
            color: self.color,
            connection: self.connection.clone(),
            now_ms: now_ms(),
            max_listed: self.max_listed,
        };
        let mut lines = screen(&self.summary(), &self.flow_id, &opts);
        lines.truncate(height.saturating_sub(1).max(3));
        let mut out = String::new();
        if self.drawn > 0 {
            out.push_str(&format!("\x1b[{}F", self.drawn));
        }
        out.push_str("\x1b[J");
        for l in &lines {
            out.push_str(l);
            out.push('\n');
        }
        let mut stdout = std::io::stdout().lock();
        let _ = stdout
            .write_all(out.as_bytes())
            .and_then(|()| stdout.flush());
        self.drawn = lines.len();
        self.dirty = false;
        self.last_draw = Some(Instant::now());
    }
}

async fn watch(api: &Api, a: WatchArgs) -> Result<ExitCode> {
    check_flow_id(&a.flow_id)?;
    let tty = !a.plain && std::io::stdout().is_terminal();
    let mut w = Watch {
        flow_id: a.flow_id.clone(),
        state: FlowState::new(),
        tty,
        color: tty && std::env::var_os("NO_COLOR").is_none(),
        connection: "connecting".to_owned(),
        prev: None,
        drawn: 0,
        dirty: true,
        last_draw: None,
        max_listed: a.max_listed,
        until_done: a.until_done.then_some(a.min_nodes),
    };
    if tty {
        print!("\x1b[?25l");
    }
    let outcome = {
        let fut = follow(api, &a.flow_id, None, |ev| w.on_event(ev));
        let timed = async {
            match a.timeout {
                Some(d) => tokio::time::timeout(d, fut).await.ok(),
                None => Some(fut.await),
            }
        };
        tokio::select! {
            r = timed => r,
            _ = tokio::signal::ctrl_c() => Some(Ok(130)),
        }
    };
    if tty {
        w.draw();
        print!("\x1b[?25h");
        let _ = std::io::stdout().flush();
    }
    match outcome {
        None => {
            let sum = w.summary();
            eprintln!(
                "watch: timed out after {}: {}",
                humantime::format_duration(a.timeout.unwrap_or_default()),
                counts_text(&sum.overall)
            );
            Ok(ExitCode::from(EXIT_TIMEOUT))
        }
        Some(Err(e)) => Err(e),
        Some(Ok(code)) => {
            if a.until_done && code != 130 {
                let sum = w.summary();
                let verdict = if code == 0 {
                    "done"
                } else {
                    "done with failures"
                };
                eprintln!("watch: {verdict}: {}", counts_text(&sum.overall));
            }
            Ok(ExitCode::from(code))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_one_document_or_json_lines() {
        assert_eq!(
            split_bodies("{\n \"type\": \"x\"\n}\n"),
            vec![(1, "{\n \"type\": \"x\"\n}".to_owned())]
        );
        assert_eq!(
            split_bodies("{\"a\":1}\n\n  {\"b\":2}\n"),
            vec![(1, "{\"a\":1}".to_owned()), (3, "{\"b\":2}".to_owned())]
        );
        assert!(split_bodies("  \n").is_empty());
    }

    #[test]
    fn tail_lines() {
        let f = openova_flow_contract::sse::Frame {
            event: "upsert-nodes".into(),
            id: Some("E-2".into()),
            data: "{}".into(),
            retry: None,
        };
        assert_eq!(tail_line(&f, false), "upsert-nodes E-2 {}");
        assert_eq!(tail_line(&f, true), "{}");
        let hb = openova_flow_contract::sse::Frame {
            event: "heartbeat".into(),
            id: None,
            data: "{}".into(),
            retry: None,
        };
        assert_eq!(tail_line(&hb, false), "heartbeat - {}");
    }

    #[test]
    fn frames_fold_with_stamping() {
        let mut s = FlowState::new();
        apply_frame(
            &mut s,
            "dep",
            r#"{"type":"upsert-nodes","nodes":[{"id":"a","label":"A","status":"running"}]}"#,
        )
        .unwrap();
        assert_eq!(s.node("dep", "a").unwrap().status, "running");
        assert!(
            apply_frame(&mut s, "dep", "{not json")
                .unwrap_err()
                .starts_with("decode FlowMessage: ")
        );
    }

    #[test]
    fn flow_ids_are_checked_before_any_request() {
        assert!(check_flow_id("dep-abc:1").is_ok());
        let e = check_flow_id("a/b").unwrap_err().to_string();
        assert!(e.contains("invalid flow id \"a/b\""), "{e}");
    }
}
