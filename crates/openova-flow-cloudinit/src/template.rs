//! HCL templates with Go HCL's exact whitespace-stripping rules.
//!
//! hcl-edit parses templates into literals, interpolations and directives.
//! Go HCL (the engine behind `templatefile()`) applies `~` strip markers not
//! to a whole literal but to the one adjacent *scanner token*, and its scanner
//! ends a literal token after every newline and around every `$`/`%` that
//! does not start a sequence. So `%{ if x ~}` followed by `"\n\n  y"` strips
//! one newline, not two, and `%{~ endif}` indented on its own line strips only
//! the indentation. This module re-tokenises each literal's raw source the way
//! Go's scanner does, applies the markers token by token, handles `<<-`
//! heredoc flushing on those tokens, and rebuilds a tree ready to evaluate.

use hcl_edit::Span as _;
use hcl_edit::expr::Expression;
use hcl_edit::template::{Element, Strip, Template};
use unicode_segmentation::UnicodeSegmentation;

/// How the template was written, which decides literal tokenisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A template file (`templatefile()`): tokens end after each newline.
    Bare,
    /// A quoted string `"…"`: backslash escapes, no raw newlines.
    Quoted,
    /// A heredoc; `flush` for `<<-`.
    Heredoc {
        /// `<<-`: remove the common leading indentation.
        flush: bool,
    },
}

/// One compiled template part.
#[derive(Debug)]
pub enum Part<'a> {
    /// Literal text, strip markers applied.
    Lit(String),
    /// `${ expr }`.
    Interp(&'a Expression),
    /// `%{ if }…%{ else }…%{ endif }`.
    If {
        /// The condition.
        cond: &'a Expression,
        /// Parts when true.
        then: Vec<Part<'a>>,
        /// Parts when false.
        otherwise: Vec<Part<'a>>,
    },
    /// `%{ for k, v in coll }…%{ endfor }`.
    For {
        /// Key variable name.
        key: Option<&'a str>,
        /// Value variable name.
        value: &'a str,
        /// The collection.
        coll: &'a Expression,
        /// The body.
        body: Vec<Part<'a>>,
    },
}

/// A compiled template.
#[derive(Debug)]
pub struct Compiled<'a> {
    /// The parts, in order.
    pub parts: Vec<Part<'a>>,
    /// `true` when the template is exactly one interpolation: its value is
    /// returned unconverted, as HCL's `TemplateWrapExpr` does.
    pub passthrough: Option<&'a Expression>,
}

#[derive(Debug)]
enum Flat<'a> {
    Lit(String),
    Interp(&'a Expression, Strip),
    If(&'a Expression, Strip),
    Else(Strip),
    EndIf(Strip),
    For(Option<&'a str>, &'a str, &'a Expression, Strip),
    EndFor(Strip),
}

impl Flat<'_> {
    fn strip(&self) -> Strip {
        match self {
            Flat::Lit(_) => Strip::None,
            Flat::Interp(_, s)
            | Flat::If(_, s)
            | Flat::Else(s)
            | Flat::EndIf(s)
            | Flat::For(_, _, _, s)
            | Flat::EndFor(s) => *s,
        }
    }
}

/// Compiles a parsed template. `source` is the text the template's spans
/// point into (the template file, or the `.tf` file holding the string).
pub fn compile<'a>(template: &'a Template, source: &str, mode: Mode) -> Compiled<'a> {
    let mut flat = Vec::new();
    flatten(template, source, mode, &mut flat);
    apply_strip_markers(&mut flat);
    if let Mode::Heredoc { flush: true } = mode {
        flush_heredoc(&mut flat);
    }
    let passthrough = match flat.as_slice() {
        [Flat::Interp(e, _)] => Some(*e),
        _ => None,
    };
    let mut iter = flat.into_iter().peekable();
    let parts = build(&mut iter);
    Compiled { parts, passthrough }
}

fn flatten<'a>(template: &'a Template, source: &str, mode: Mode, out: &mut Vec<Flat<'a>>) {
    for element in template.iter() {
        match element {
            Element::Literal(lit) => {
                let raw = lit.span().and_then(|s| source.get(s)).map(str::to_string);
                match raw {
                    Some(raw) => out.extend(go_tokens(&raw, mode).into_iter().map(Flat::Lit)),
                    // No span (never produced by the parser): use the decoded text whole.
                    None => out.push(Flat::Lit(lit.as_str().to_string())),
                }
            }
            Element::Interpolation(interp) => out.push(Flat::Interp(&interp.expr, interp.strip)),
            Element::Directive(directive) => match directive.as_ref() {
                hcl_edit::template::Directive::If(d) => {
                    out.push(Flat::If(&d.if_expr.cond_expr, d.if_expr.strip));
                    flatten(&d.if_expr.template, source, mode, out);
                    if let Some(e) = &d.else_expr {
                        out.push(Flat::Else(e.strip));
                        flatten(&e.template, source, mode, out);
                    }
                    out.push(Flat::EndIf(d.endif_expr.strip));
                }
                hcl_edit::template::Directive::For(d) => {
                    let f = &d.for_expr;
                    out.push(Flat::For(
                        f.key_var.as_ref().map(|k| k.as_str()),
                        f.value_var.as_str(),
                        &f.collection_expr,
                        f.strip,
                    ));
                    flatten(&f.template, source, mode, out);
                    out.push(Flat::EndFor(d.endfor_expr.strip));
                }
            },
        }
    }
}

/// Go HCL's `parseTemplateParts` trimming: `~` trims the single adjacent
/// literal token.
fn apply_strip_markers(flat: &mut [Flat<'_>]) {
    let mut ltrim_next = false;
    let mut can_trim_prev = false;
    for i in 0..flat.len() {
        let ltrim = std::mem::take(&mut ltrim_next);
        let can_trim = std::mem::take(&mut can_trim_prev);
        let strip = flat[i].strip();
        if let Flat::Lit(s) = &mut flat[i] {
            if ltrim {
                *s = s.trim_start_matches(is_go_space).to_string();
            }
            can_trim_prev = true;
            continue;
        }
        if can_trim
            && strip.strip_start()
            && i > 0
            && let Flat::Lit(prev) = &mut flat[i - 1]
        {
            *prev = prev.trim_end_matches(is_go_space).to_string();
        }
        if strip.strip_end() {
            ltrim_next = true;
        }
    }
}

/// Go's `unicode.IsSpace`.
fn is_go_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{85}' | '\u{a0}'
    ) || (u32::from(c) > 0xff && c.is_whitespace())
}

/// Go HCL's `flushHeredocTemplateParts`: find the smallest indentation (in
/// grapheme clusters) of tokens that begin a line, ignoring blank lines, and
/// remove it from every line-leading literal token. A non-literal at the
/// start of a line counts as indentation 0.
fn flush_heredoc(flat: &mut [Flat<'_>]) {
    let mut min_spaces = usize::MAX;
    let mut newline = true;
    let mut adjust = Vec::new();
    for (i, tok) in flat.iter().enumerate() {
        if newline {
            newline = false;
            let mut spaces = 0;
            if let Flat::Lit(s) = tok {
                let trimmed = s.trim_start_matches(is_go_space);
                if trimmed.is_empty() && s.ends_with('\n') {
                    spaces = usize::MAX;
                } else {
                    spaces = s[..s.len() - trimmed.len()].graphemes(true).count();
                    adjust.push(i);
                }
            }
            min_spaces = min_spaces.min(spaces);
        }
        if let Flat::Lit(s) = tok
            && s.ends_with('\n')
        {
            newline = true;
        }
    }
    if min_spaces == usize::MAX {
        return;
    }
    for i in adjust {
        if let Flat::Lit(s) = &mut flat[i] {
            let cut: usize = s.graphemes(true).take(min_spaces).map(str::len).sum();
            *s = s[cut..].to_string();
        }
    }
}

fn build<'a, I: Iterator<Item = Flat<'a>>>(iter: &mut std::iter::Peekable<I>) -> Vec<Part<'a>> {
    let mut parts: Vec<Part<'a>> = Vec::new();
    while let Some(tok) = iter.peek() {
        if matches!(tok, Flat::Else(_) | Flat::EndIf(_) | Flat::EndFor(_)) {
            break;
        }
        let Some(tok) = iter.next() else { break };
        match tok {
            Flat::Lit(s) => match parts.last_mut() {
                Some(Part::Lit(prev)) => prev.push_str(&s),
                _ => parts.push(Part::Lit(s)),
            },
            Flat::Interp(e, _) => parts.push(Part::Interp(e)),
            Flat::If(cond, _) => {
                let then = build(iter);
                let otherwise = if matches!(iter.peek(), Some(Flat::Else(_))) {
                    iter.next();
                    build(iter)
                } else {
                    Vec::new()
                };
                // The parser guarantees the closing endif.
                iter.next();
                parts.push(Part::If {
                    cond,
                    then,
                    otherwise,
                });
            }
            Flat::For(key, value, coll, _) => {
                let body = build(iter);
                iter.next();
                parts.push(Part::For {
                    key,
                    value,
                    coll,
                    body,
                });
            }
            Flat::Else(_) | Flat::EndIf(_) | Flat::EndFor(_) => {}
        }
    }
    parts
}

/// Splits a literal's raw source into Go HCL scanner tokens and decodes each
/// (`$${` → `${`, `%%{` → `%{`; backslash escapes in quoted mode).
pub fn go_tokens(raw: &str, mode: Mode) -> Vec<String> {
    let quoted = mode == Mode::Quoted;
    let bytes = raw.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let c = bytes[i];
        if c == b'$' || c == b'%' {
            // TemplateNotInterp / TemplateNotControl: the marker alone, or
            // the escape `$${` / `%%{` (with an optional `~`).
            i += 1;
            if bytes.get(i) == Some(&c) && bytes.get(i + 1) == Some(&b'{') {
                i += 2;
                if bytes.get(i) == Some(&b'~') {
                    i += 1;
                }
            }
        } else if quoted {
            while i < bytes.len() && bytes[i] != b'$' && bytes[i] != b'%' {
                if bytes[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
        } else {
            while i < bytes.len() && !matches!(bytes[i], b'$' | b'%' | b'\n') {
                if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
                    break;
                }
                i += 1;
            }
        }
        if !quoted {
            // `Newline?` closes any bare/heredoc token.
            if raw[i.min(raw.len())..].starts_with("\r\n") {
                i += 2;
            } else if bytes.get(i) == Some(&b'\n') {
                i += 1;
            }
        }
        let i_clamped = i.min(bytes.len());
        let mut end = i_clamped;
        while !raw.is_char_boundary(end) {
            end += 1;
        }
        i = end;
        tokens.push(decode_token(&raw[start..end], quoted));
    }
    tokens
}

fn decode_token(tok: &str, quoted: bool) -> String {
    let unescaped_markers = if let Some(rest) = tok.strip_prefix("$${") {
        format!("${{{rest}")
    } else if let Some(rest) = tok.strip_prefix("%%{") {
        format!("%{{{rest}")
    } else {
        tok.to_string()
    };
    if !quoted || !unescaped_markers.contains('\\') {
        return unescaped_markers;
    }
    let mut out = String::with_capacity(unescaped_markers.len());
    let mut chars = unescaped_markers.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('\\') => out.push('\\'),
            Some('"') => out.push('"'),
            Some(u @ ('u' | 'U')) => {
                let n = if u == 'u' { 4 } else { 8 };
                let hex: String = chars.by_ref().take(n).collect();
                if let Some(ch) = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    out.push(ch);
                }
            }
            // The parser has rejected every other escape already.
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(raw: &str) -> Vec<String> {
        go_tokens(raw, Mode::Bare)
    }

    #[test]
    fn bare_tokens_end_after_newlines_and_around_markers() {
        assert_eq!(toks("a\n\n  b"), ["a\n", "\n", "  b"]);
        assert_eq!(toks("cost $5 \n"), ["cost ", "$", "5 \n"]);
        assert_eq!(toks("a$${x}"), ["a", "${", "x}"]);
        assert_eq!(toks("$$${x}"), ["$", "${", "x}"]);
        assert_eq!(toks("%%{ x"), ["%{", " x"]);
        assert_eq!(toks("100%"), ["100", "%"]);
        assert_eq!(toks("x\r\ny"), ["x\r\n", "y"]);
        assert_eq!(toks("é\n"), ["é\n"]);
        assert!(toks("").is_empty());
    }

    #[test]
    fn quoted_tokens_decode_escapes() {
        assert_eq!(
            go_tokens(r#"a\n\"b\u00e9$${c}"#, Mode::Quoted),
            ["a\n\"bé", "${", "c}"]
        );
        assert_eq!(go_tokens(r"\U0001F600", Mode::Quoted), ["\u{1F600}"]);
    }

    fn render_literal(src: &str) -> String {
        // Literal-only evaluation of a compiled template (directives with
        // `true` conditions taken) for testing stripping in isolation.
        let t = hcl_edit::parser::parse_template(src).unwrap();
        let c = compile(&t, src, Mode::Bare);
        fn walk(parts: &[Part<'_>], out: &mut String) {
            for p in parts {
                match p {
                    Part::Lit(s) => out.push_str(s),
                    Part::Interp(_) => out.push('X'),
                    Part::If { then, .. } => walk(then, out),
                    Part::For { body, .. } => walk(body, out),
                }
            }
        }
        let mut out = String::new();
        walk(&c.parts, &mut out);
        out
    }

    #[test]
    fn strip_markers_affect_one_token_like_go() {
        // Recorded from Terraform 1.11: `a\n\n%{ if true ~}\n\nb\n  %{~ if true }c…`.
        assert_eq!(
            render_literal("a\n\n%{ if true ~}\n\nb\n  %{~ if true }c%{ endif }%{ endif }\n"),
            "a\n\n\nb\nc\n"
        );
        assert_eq!(render_literal("d  \n${~ x}"), "dX");
        assert_eq!(render_literal("a$  ${~ x}"), "a$X");
        assert_eq!(render_literal("${x ~}$ \n b"), "X$ \n b");
        assert_eq!(
            render_literal("x\n%{ if true ~}\n   y\n%{~ endif }\nz"),
            "x\n   y\nz"
        );
    }

    #[test]
    fn strip_end_does_not_cross_interpolations() {
        assert_eq!(render_literal("${x ~}${y}  z"), "XX  z");
        assert_eq!(render_literal("a  ${x}${~ y}"), "a  XX");
    }

    #[test]
    fn single_interpolation_is_passthrough() {
        let src = "${x}";
        let t = hcl_edit::parser::parse_template(src).unwrap();
        assert!(compile(&t, src, Mode::Bare).passthrough.is_some());
        let src = "${x}\n";
        let t = hcl_edit::parser::parse_template(src).unwrap();
        assert!(compile(&t, src, Mode::Bare).passthrough.is_none());
    }

    #[test]
    fn heredoc_flush_counts_line_leading_tokens() {
        let mut flat = vec![
            Flat::Lit("    a\n".into()),
            Flat::Lit("\n".into()),
            Flat::Lit("      b\n".into()),
        ];
        flush_heredoc(&mut flat);
        let got: Vec<_> = flat
            .iter()
            .map(|f| match f {
                Flat::Lit(s) => s.clone(),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(got, ["a\n", "\n", "  b\n"]);
    }

    #[test]
    fn go_space_matches_unicode_is_space() {
        for c in [
            '\t', '\n', '\u{b}', '\u{c}', '\r', ' ', '\u{85}', '\u{a0}', '\u{2028}', '\u{3000}',
        ] {
            assert!(is_go_space(c), "{c:?}");
        }
        for c in ['a', '\u{200b}', '\u{feff}'] {
            assert!(!is_go_space(c), "{c:?}");
        }
    }
}
