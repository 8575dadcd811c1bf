//! Pure rendering: summary → lines. The TTY view ([`screen`]) is redrawn in
//! place; the plain view ([`changes`]) prints one line per change, for logs
//! and pipes.

use crate::summary::{Counts, NodeInfo, Status, Summary};

/// Options of the in-place view.
#[derive(Debug, Clone)]
pub struct ScreenOptions {
    /// Terminal width in columns; every line is cut to it.
    pub width: usize,
    /// ANSI colours (off with `NO_COLOR` or when not a terminal).
    pub color: bool,
    /// Connection text for the first line (e.g. `live E-42`).
    pub connection: String,
    /// For running durations (unix ms).
    pub now_ms: i64,
    /// At most this many running and failed nodes are listed (each).
    pub max_listed: usize,
}

const GREEN: &str = "\x1b[32m";
const BLUE: &str = "\x1b[34m";
const RED: &str = "\x1b[31m";
const DIM: &str = "\x1b[2m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

fn paint(on: bool, code: &str, s: &str) -> String {
    if on {
        format!("{code}{s}{RESET}")
    } else {
        s.to_owned()
    }
}

/// The status symbol (also readable without colour).
pub fn icon(s: Status) -> char {
    match s {
        Status::Pending => '○',
        Status::Running => '◐',
        Status::Succeeded => '✓',
        Status::Failed => '✗',
    }
}

/// `57/86 succeeded (66%), 2 running, 1 failed`.
pub fn counts_text(c: &Counts) -> String {
    let mut s = format!("{}/{} succeeded ({}%)", c.succeeded, c.total, c.percent());
    if c.running > 0 {
        s.push_str(&format!(", {} running", c.running));
    }
    if c.failed > 0 {
        s.push_str(&format!(", {} failed", c.failed));
    }
    s
}

/// A progress bar of `width` cells: `#` succeeded, `>` running, `x` failed,
/// `.` pending (proportional, every non-empty class gets at least one cell
/// when there is room).
pub fn bar(c: &Counts, width: usize, color: bool) -> String {
    if width == 0 {
        return String::new();
    }
    let classes = [
        (c.succeeded, '#', GREEN),
        (c.running, '>', BLUE),
        (c.failed, 'x', RED),
    ];
    let mut cells: Vec<usize> = classes
        .iter()
        .map(|(n, ..)| (n * width).checked_div(c.total).unwrap_or(0))
        .collect();
    for (i, (n, ..)) in classes.iter().enumerate() {
        if *n > 0 && cells[i] == 0 && cells.iter().sum::<usize>() < width {
            cells[i] = 1;
        }
    }
    let used: usize = cells.iter().sum();
    let mut out = String::new();
    for (i, (_, ch, code)) in classes.iter().enumerate() {
        if cells[i] > 0 {
            out.push_str(&paint(color, code, &ch.to_string().repeat(cells[i])));
        }
    }
    out.push_str(&paint(color, DIM, &".".repeat(width.saturating_sub(used))));
    out
}

/// Cuts `s` to `width` characters (by `char`), ending with `…` when cut.
/// ANSI sequences are not counted.
pub fn cut(s: &str, width: usize) -> String {
    let mut out = String::new();
    let mut visible = 0;
    let mut chars = s.chars().peekable();
    let total_visible = visible_len(s);
    while let Some(ch) = chars.next() {
        if ch == '\x1b' {
            out.push(ch);
            for c in chars.by_ref() {
                out.push(c);
                if c == 'm' {
                    break;
                }
            }
            continue;
        }
        if total_visible > width && visible + 1 == width {
            out.push('…');
            if s.contains('\x1b') {
                out.push_str(RESET);
            }
            return out;
        }
        if visible == width {
            break;
        }
        out.push(ch);
        visible += 1;
    }
    out
}

/// Characters of `s` that take a column (ANSI colour codes excluded).
pub fn visible_len(s: &str) -> usize {
    let mut n = 0;
    let mut in_esc = false;
    for ch in s.chars() {
        match (in_esc, ch) {
            (false, '\x1b') => in_esc = true,
            (true, 'm') => in_esc = false,
            (true, _) => {}
            (false, _) => n += 1,
        }
    }
    n
}

/// `1h 2m 3s`, `4m 5s`, `6s`.
pub fn duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    let (h, m, s) = (s / 3600, (s / 60) % 60, s % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m {s}s"),
        _ => format!("{h}h {m}m {s}s"),
    }
}

fn node_line(n: &NodeInfo, region_w: usize, label_w: usize, now_ms: i64, color: bool) -> String {
    let code = match n.status {
        Status::Failed => RED,
        Status::Running => BLUE,
        Status::Succeeded => GREEN,
        Status::Pending => DIM,
    };
    let mut detail = n.reason.clone().unwrap_or_default();
    if n.status == Status::Failed
        && let Some(m) = &n.message
    {
        detail = if detail.is_empty() {
            m.clone()
        } else {
            format!("{detail}: {m}")
        };
    }
    if n.status == Status::Running
        && let Some(start) = n.started_at
    {
        let d = duration(now_ms - start);
        detail = if detail.is_empty() {
            d
        } else {
            format!("{detail} ({d})")
        };
    }
    let detail = detail.replace(['\n', '\r', '\t'], " ");
    format!(
        "  {} {:<region_w$}  {:<label_w$}  {}",
        paint(color, code, &icon(n.status).to_string()),
        region_label(&n.region),
        n.label,
        detail
    )
    .trim_end()
    .to_owned()
}

fn region_label(id: &str) -> &str {
    if id.is_empty() { "(none)" } else { id }
}

/// The in-place view: header, one bar per region, then failed and running
/// nodes. Every line fits `opts.width`.
pub fn screen(sum: &Summary, flow_id: &str, opts: &ScreenOptions) -> Vec<String> {
    let width = opts.width.max(20);
    let c = opts.color;
    let mut lines = Vec::new();
    let status = if sum.flow_status.is_empty() {
        "-"
    } else {
        &sum.flow_status
    };
    lines.push(format!(
        "{} · {} · {} region{} · {}   [{}]",
        paint(c, BOLD, flow_id),
        status,
        sum.regions.len(),
        if sum.regions.len() == 1 { "" } else { "s" },
        counts_text(&sum.overall),
        opts.connection
    ));
    let name_w = sum
        .regions
        .iter()
        .map(|r| r.label.chars().count())
        .max()
        .unwrap_or(0)
        .min(20);
    for r in &sum.regions {
        let nums = format!(
            "{:>4}/{:<4} {:>3}%{}{}",
            r.counts.succeeded,
            r.counts.total,
            r.counts.percent(),
            if r.counts.running > 0 {
                format!("  {} running", r.counts.running)
            } else {
                String::new()
            },
            if r.counts.failed > 0 {
                format!("  {} failed", r.counts.failed)
            } else {
                String::new()
            },
        );
        let bar_w = width
            .saturating_sub(name_w + visible_len(&nums) + 6)
            .clamp(0, 50);
        let label: String = r.label.chars().take(name_w).collect();
        lines.push(format!(
            "{label:<name_w$}  [{}]  {nums}",
            bar(&r.counts, bar_w, c)
        ));
    }
    let region_w = sum
        .nodes
        .values()
        .map(|n| region_label(&n.region).chars().count())
        .max()
        .unwrap_or(0)
        .min(16);
    let label_w = sum
        .nodes
        .values()
        .map(|n| n.label.chars().count())
        .max()
        .unwrap_or(0)
        .min(32);
    for (title, status) in [("Failed", Status::Failed), ("Running", Status::Running)] {
        let list: Vec<&NodeInfo> = sum.nodes.values().filter(|n| n.status == status).collect();
        if list.is_empty() {
            continue;
        }
        lines.push(format!("{title} ({}):", list.len()));
        for n in list.iter().take(opts.max_listed) {
            lines.push(node_line(n, region_w, label_w, opts.now_ms, c));
        }
        if list.len() > opts.max_listed {
            lines.push(format!("  … and {} more", list.len() - opts.max_listed));
        }
    }
    if sum.overall.total == 0 {
        lines.push("(no nodes yet)".to_owned());
    }
    lines.into_iter().map(|l| cut(&l, width)).collect()
}

/// Plain output: the lines describing what changed from `prev` to `next`
/// (everything, as a first report, when `prev` is `None`): node status
/// transitions, removed nodes, and the region lines whose counts changed.
pub fn changes(prev: Option<&Summary>, next: &Summary) -> Vec<String> {
    let mut out = Vec::new();
    let Some(prev) = prev else {
        if !next.flow_status.is_empty() {
            out.push(format!("flow {}", next.flow_status));
        }
        for r in &next.regions {
            out.push(region_line(&r.label, &r.counts));
        }
        for n in next
            .nodes
            .values()
            .filter(|n| matches!(n.status, Status::Failed | Status::Running))
        {
            out.push(transition_line(n, None));
        }
        return out;
    };
    if prev.flow_status != next.flow_status {
        out.push(format!("flow {} -> {}", prev.flow_status, next.flow_status));
    }
    for n in next.nodes.values() {
        match prev.nodes.get(&n.id) {
            Some(p) if p.status == n.status && p.reason == n.reason => {}
            Some(p) => out.push(transition_line(n, Some(p.status))),
            None => out.push(transition_line(n, None)),
        }
    }
    for p in prev
        .nodes
        .values()
        .filter(|p| !next.nodes.contains_key(&p.id))
    {
        out.push(format!("{} {} removed", region_label(&p.region), p.label));
    }
    for r in &next.regions {
        let before = prev.regions.iter().find(|x| x.id == r.id).map(|x| x.counts);
        if before != Some(r.counts) {
            out.push(region_line(&r.label, &r.counts));
        }
    }
    out
}

fn region_line(label: &str, c: &Counts) -> String {
    format!("region {label}: {}", counts_text(c))
}

fn transition_line(n: &NodeInfo, from: Option<Status>) -> String {
    let mut s = format!("{} {} ", region_label(&n.region), n.label);
    match from {
        Some(f) if f != n.status => s.push_str(&format!("{} -> {}", f.as_str(), n.status.as_str())),
        _ => s.push_str(n.status.as_str()),
    }
    if let Some(r) = &n.reason {
        s.push_str(&format!(" ({r})"));
    }
    if n.status == Status::Failed
        && let Some(m) = &n.message
    {
        s.push_str(&format!(": {}", m.replace(['\n', '\r'], " ")));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::{RegionSummary, summarise};
    use openova_flow_contract::{FlowLimits, FlowState, decode_message};

    fn state(msgs: &[&str]) -> FlowState {
        let mut s = FlowState::new();
        for m in msgs {
            let mut msg = decode_message(m.as_bytes()).unwrap();
            msg.stamp_flow_id("dep");
            s.apply(msg, &FlowLimits::UNLIMITED).unwrap();
        }
        s
    }

    fn two_regions() -> Summary {
        summarise(
            &state(&[
                r#"{"type":"upsert-flow","flow":{"id":"dep","status":"running","startedAt":1}}"#,
                r#"{"type":"upsert-nodes","nodes":[
                  {"id":"fsn1","label":"fsn1","status":"running","region":"fsn1","meta":{"isGroup":true}},
                  {"id":"hel1","label":"hel1","status":"running","region":"hel1","meta":{"isGroup":true}},
                  {"id":"fsn1:bp-cilium","label":"bp-cilium","status":"succeeded","region":"fsn1"},
                  {"id":"fsn1:bp-harbor","label":"bp-harbor","status":"failed","region":"fsn1","meta":{"reason":"InstallFailed","message":"timed out\nwaiting"}},
                  {"id":"hel1:bp-cilium","label":"bp-cilium","status":"running","region":"hel1","startedAt":1000,"meta":{"reason":"Progressing"}},
                  {"id":"hel1:bp-app","label":"bp-app","status":"pending","region":"hel1"}]}"#,
                r#"{"type":"upsert-rels","relationships":[
                  {"fromId":"fsn1:bp-cilium","toId":"fsn1","type":"contains"},
                  {"fromId":"fsn1:bp-harbor","toId":"fsn1","type":"contains"},
                  {"fromId":"hel1:bp-cilium","toId":"hel1","type":"contains"},
                  {"fromId":"hel1:bp-app","toId":"hel1","type":"contains"}]}"#,
            ]),
            "dep",
        )
    }

    fn opts(width: usize) -> ScreenOptions {
        ScreenOptions {
            width,
            color: false,
            connection: "live E-3".into(),
            now_ms: 63_000,
            max_listed: 10,
        }
    }

    #[test]
    fn screen_shows_regions_failed_and_running() {
        let lines = screen(&two_regions(), "dep", &opts(100));
        assert_eq!(
            lines[0],
            "dep · running · 2 regions · 1/4 succeeded (25%), 1 running, 1 failed   [live E-3]"
        );
        assert!(
            lines[1].starts_with("fsn1  [#########################xxxxxxxxxxxxxxxxxxxxxxxxx]"),
            "{}",
            lines[1]
        );
        assert!(lines[1].ends_with("1/2     50%  1 failed"), "{}", lines[1]);
        assert!(lines[2].starts_with("hel1  [>"), "{}", lines[2]);
        assert!(lines[2].ends_with("0/2      0%  1 running"), "{}", lines[2]);
        assert_eq!(lines[3], "Failed (1):");
        assert_eq!(
            lines[4],
            "  ✗ fsn1  bp-harbor  InstallFailed: timed out waiting"
        );
        assert_eq!(lines[5], "Running (1):");
        assert_eq!(lines[6], "  ◐ hel1  bp-cilium  Progressing (1m 2s)");
        assert_eq!(lines.len(), 7);
    }

    #[test]
    fn every_line_fits_the_width() {
        for w in [20, 40, 61, 80, 200] {
            for l in screen(
                &two_regions(),
                "a-very-long-flow-identifier-indeed",
                &opts(w),
            ) {
                assert!(visible_len(&l) <= w, "{w}: {l:?}");
            }
        }
    }

    #[test]
    fn colour_codes_only_when_asked() {
        let plain = screen(&two_regions(), "dep", &opts(100)).join("\n");
        assert!(!plain.contains('\x1b'));
        let mut o = opts(100);
        o.color = true;
        let coloured = screen(&two_regions(), "dep", &o);
        assert!(coloured[1].contains("\x1b[32m#"));
        assert!(coloured.iter().all(|l| visible_len(l) <= 100));
    }

    #[test]
    fn long_lists_are_capped() {
        let mut o = opts(100);
        o.max_listed = 0;
        let lines = screen(&two_regions(), "dep", &o);
        assert!(lines.contains(&"  … and 1 more".to_owned()));
    }

    #[test]
    fn empty_flow() {
        let lines = screen(&Summary::default(), "dep", &opts(80));
        assert_eq!(
            lines[0],
            "dep · - · 0 regions · 0/0 succeeded (0%)   [live E-3]"
        );
        assert_eq!(lines[1], "(no nodes yet)");
    }

    #[test]
    fn bars_are_proportional_and_exact_width() {
        let c = Counts {
            total: 10,
            pending: 5,
            running: 1,
            succeeded: 3,
            failed: 1,
        };
        assert_eq!(bar(&c, 10, false), "###>x.....");
        assert_eq!(bar(&c, 20, false), "######>>xx..........");
        let tiny = Counts {
            total: 1000,
            pending: 998,
            running: 1,
            succeeded: 0,
            failed: 1,
        };
        assert_eq!(
            bar(&tiny, 10, false),
            ">x........",
            "rare classes still show"
        );
        assert_eq!(bar(&Counts::default(), 5, false), ".....");
        assert_eq!(bar(&c, 0, false), "");
    }

    #[test]
    fn cut_counts_visible_characters() {
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(cut("abcd", 4), "abcd");
        assert_eq!(cut("é✓xyz", 3), "é✓…");
        assert_eq!(cut("\x1b[31mabcdef\x1b[0m", 3), "\x1b[31mab…\x1b[0m");
        assert_eq!(visible_len("\x1b[31mab\x1b[0m"), 2);
    }

    #[test]
    fn durations() {
        assert_eq!(duration(999), "0s");
        assert_eq!(duration(62_000), "1m 2s");
        assert_eq!(duration(3_723_000), "1h 2m 3s");
        assert_eq!(duration(-5), "0s");
    }

    #[test]
    fn plain_first_report_then_only_changes() {
        let first = two_regions();
        let lines = changes(None, &first);
        assert_eq!(
            lines,
            [
                "flow running",
                "region fsn1: 1/2 succeeded (50%), 1 failed",
                "region hel1: 0/2 succeeded (0%), 1 running",
                "fsn1 bp-harbor failed (InstallFailed): timed out waiting",
                "hel1 bp-cilium running (Progressing)",
            ]
        );
        assert!(changes(Some(&first), &first).is_empty());

        let mut next = first.clone();
        let n = next.nodes.get_mut("hel1:bp-cilium").unwrap();
        n.status = Status::Succeeded;
        n.reason = Some("InstallSucceeded".into());
        next.regions[1] = RegionSummary {
            counts: Counts {
                total: 2,
                pending: 1,
                running: 0,
                succeeded: 1,
                failed: 0,
            },
            ..next.regions[1].clone()
        };
        next.nodes.remove("fsn1:bp-cilium");
        assert_eq!(
            changes(Some(&first), &next),
            [
                "hel1 bp-cilium running -> succeeded (InstallSucceeded)",
                "fsn1 bp-cilium removed",
                "region hel1: 1/2 succeeded (50%)",
            ]
        );
    }
}
