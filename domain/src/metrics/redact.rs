//! Statement texts without their secrets. pg_stat_statements replaces the constants of
//! SELECT/INSERT/UPDATE/DELETE/MERGE with `$1`, but keeps utility statements verbatim, so on
//! PostgreSQL 12–15 `ALTER ROLE app PASSWORD 'hunter2'` (and `CREATE USER … PASSWORD`,
//! `COPY … PROGRAM '…'`, `CREATE USER MAPPING … OPTIONS (password '…')`, `DO $$…$$`) would reach
//! every viewer of the query pages. [`redact_statement`] replaces every string literal of every
//! utility statement; the collector runs it before sending and the server again when it parses
//! a batch, so a collector that does not is covered too.
//!
//! What it understands, from PostgreSQL's lexer: `'…'` with `''` escapes, `E'…'` with backslash
//! escapes, `$tag$…$tag$`, `"quoted identifiers"` (kept), `--` and nested `/* */` comments
//! (kept), `$1` parameters, and `;` between statements (each statement is judged on its own
//! first keyword). A literal left open (a text cut at the collector's 4000 characters) is
//! redacted to the end.
//!
//! The placeholder is never longer than what it replaces (`'***'`, or `'*'`/`'**'` for the
//! shortest literals; `$$***$$` for dollar quotes), so a redacted text stays within the bounds
//! its original passed, and redacting twice changes nothing.

use std::borrow::Cow;
use std::collections::BTreeMap;

/// First keywords of statements whose constants pg_stat_statements already normalized.
const PLANNABLE: [&str; 7] = [
    "select", "insert", "update", "delete", "with", "values", "merge",
];

/// `text` with every string literal of its utility statements replaced by a placeholder;
/// borrowed when there was nothing to replace.
// Over 60 lines on purpose: a small lexer: one loop over the statement's characters, its states (quote, dollar quote, comment) in one place.
pub fn redact_statement(text: &str) -> Cow<'_, str> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    // Per statement: `None` until its first keyword (or literal) decides.
    let mut utility: Option<bool> = None;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            '-' if next == Some('-') => {
                let end = find_from(&chars, i, |c| c == '\n' || c == '\r').unwrap_or(chars.len());
                push(&mut out, &chars[i..end]);
                i = end;
            }
            '/' if next == Some('*') => {
                let end = block_comment_end(&chars, i);
                push(&mut out, &chars[i..end]);
                i = end;
            }
            '"' => {
                let end = quoted_end(&chars, i, '"', false).unwrap_or(chars.len());
                push(&mut out, &chars[i..end]);
                i = end;
            }
            '\'' => {
                let closed = quoted_end(&chars, i, '\'', false);
                i = literal(
                    &mut out,
                    &mut utility,
                    &chars[i..],
                    closed.map(|e| e - i),
                    i,
                );
            }
            '$' => match dollar_tag(&chars, i) {
                Some(tag_len) => {
                    let delimiter = &chars[i..i + tag_len];
                    let body = i + tag_len;
                    let closed = find_seq(&chars, body, delimiter).map(|e| e + tag_len);
                    let end = closed.unwrap_or(chars.len());
                    if *utility.get_or_insert(true) {
                        let n = end - i;
                        if closed.is_some() || n >= 4 {
                            out.push_str("$$");
                            out.push_str(&"*".repeat((n - 4).min(3)));
                            out.push_str("$$");
                        } else {
                            out.push_str("$$");
                        }
                    } else {
                        push(&mut out, &chars[i..end]);
                    }
                    i = end;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            },
            ';' => {
                utility = None;
                out.push(c);
                i += 1;
            }
            c if is_word_start(c) => {
                let end = find_from(&chars, i, |c| !is_word_char(c)).unwrap_or(chars.len());
                let word: String = chars[i..end].iter().collect();
                if utility.is_none() {
                    utility = Some(!PLANNABLE.contains(&word.to_lowercase().as_str()));
                }
                out.push_str(&word);
                i = end;
                if (word == "e" || word == "E") && chars.get(i) == Some(&'\'') {
                    let closed = quoted_end(&chars, i, '\'', true);
                    i = literal(
                        &mut out,
                        &mut utility,
                        &chars[i..],
                        closed.map(|e| e - i),
                        i,
                    );
                }
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    if out == text {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(out)
    }
}

/// Redacts every text of a batch's statements; whether any changed.
pub fn redact_statements(statements: &mut BTreeMap<String, String>) -> bool {
    let mut changed = false;
    for text in statements.values_mut() {
        if let Cow::Owned(redacted) = redact_statement(text) {
            *text = redacted;
            changed = true;
        }
    }
    changed
}

/// Writes a `'…'` literal (`rest` starts at its quote, `closed` is its length when it ends) or
/// its placeholder; returns the index after it.
fn literal(
    out: &mut String,
    utility: &mut Option<bool>,
    rest: &[char],
    closed: Option<usize>,
    at: usize,
) -> usize {
    let n = closed.unwrap_or(rest.len());
    if *utility.get_or_insert(true) {
        match (closed, n) {
            (None, 1) => out.push('\''),
            _ => {
                out.push('\'');
                out.push_str(&"*".repeat(n.saturating_sub(2).min(3)));
                out.push('\'');
            }
        }
    } else {
        push(out, &rest[..n]);
    }
    at + n
}

fn push(out: &mut String, chars: &[char]) {
    out.extend(chars);
}

fn find_from(chars: &[char], from: usize, what: impl Fn(char) -> bool) -> Option<usize> {
    chars[from..]
        .iter()
        .position(|c| what(*c))
        .map(|p| p + from)
}

fn find_seq(chars: &[char], from: usize, seq: &[char]) -> Option<usize> {
    if seq.is_empty() || chars.len() < seq.len() {
        return None;
    }
    (from..=chars.len() - seq.len()).find(|&i| chars[i..i + seq.len()] == *seq)
}

/// The index after a `quote`-delimited token starting at `start` (doubled quotes escape; with
/// `backslash`, `\` escapes the next character too), or `None` when it never closes.
fn quoted_end(chars: &[char], start: usize, quote: char, backslash: bool) -> Option<usize> {
    let mut i = start + 1;
    while i < chars.len() {
        let c = chars[i];
        if backslash && c == '\\' {
            i += 2;
        } else if c == quote {
            if chars.get(i + 1) == Some(&quote) {
                i += 2;
            } else {
                return Some(i + 1);
            }
        } else {
            i += 1;
        }
    }
    None
}

/// PostgreSQL's block comments nest.
fn block_comment_end(chars: &[char], start: usize) -> usize {
    let mut depth = 0usize;
    let mut i = start;
    while i < chars.len() {
        match (chars[i], chars.get(i + 1)) {
            ('/', Some('*')) => {
                depth += 1;
                i += 2;
            }
            ('*', Some('/')) => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return i;
                }
            }
            _ => i += 1,
        }
    }
    chars.len()
}

/// The length of a `$tag$` opening at `start` (the tag may be empty), or `None` (`$1`, a lone
/// `$`).
fn dollar_tag(chars: &[char], start: usize) -> Option<usize> {
    let mut i = start + 1;
    if chars.get(i).is_some_and(|c| is_word_start(*c)) {
        i += 1;
        while chars.get(i).is_some_and(|c| *c != '$' && is_word_char(*c)) {
            i += 1;
        }
    }
    (chars.get(i) == Some(&'$')).then_some(i + 1 - start)
}

fn is_word_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || !c.is_ascii()
}

fn is_word_char(c: char) -> bool {
    is_word_start(c) || c.is_ascii_digit() || c == '$'
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn r(s: &str) -> String {
        redact_statement(s).into_owned()
    }

    #[test]
    fn passwords_of_utility_statements_are_replaced() {
        assert_eq!(
            r("ALTER ROLE app PASSWORD 'hunter2'"),
            "ALTER ROLE app PASSWORD '***'"
        );
        assert_eq!(
            r("create user bob with password 'it''s secret' valid until 'infinity'"),
            "create user bob with password '***' valid until '***'"
        );
        assert_eq!(
            r(r"ALTER USER x PASSWORD E'a\'b\\c'"),
            "ALTER USER x PASSWORD E'***'"
        );
        assert_eq!(
            r("CREATE USER MAPPING FOR u SERVER s OPTIONS (user 'u', password $pw$top$secret$pw$)"),
            "CREATE USER MAPPING FOR u SERVER s OPTIONS (user '*', password $$***$$)"
        );
        assert_eq!(
            r("COPY t TO PROGRAM 'curl -d @- https://x/?k=secret'"),
            "COPY t TO PROGRAM '***'"
        );
        assert_eq!(r("DO $$BEGIN PERFORM 1; END$$"), "DO $$***$$");
    }

    #[test]
    fn planned_statements_comments_and_identifiers_are_kept() {
        for kept in [
            "SELECT * FROM t WHERE a = $1 AND b = 'x'",
            "with q as (select 1) select * from q",
            "  /* app */ INSERT INTO t VALUES ($1, 'k')",
            "(SELECT 'a')",
            "ALTER ROLE \"it's\" SET search_path = app",
            "ALTER ROLE app -- it's\n NOLOGIN",
            "VACUUM /* it's /* nested */ still */ t",
            "SELECT $1::int",
            "",
        ] {
            assert_eq!(r(kept), kept);
            assert!(matches!(redact_statement(kept), Cow::Borrowed(_)));
        }
    }

    #[test]
    fn each_statement_is_judged_on_its_own_and_a_cut_literal_to_the_end() {
        assert_eq!(
            r("SELECT 'a'; ALTER ROLE x PASSWORD 'y'"),
            "SELECT 'a'; ALTER ROLE x PASSWORD '*'"
        );
        assert_eq!(
            r("ALTER ROLE x PASSWORD 'hunter2 and the rest was cut"),
            "ALTER ROLE x PASSWORD '***'"
        );
        assert_eq!(
            r("ALTER ROLE x PASSWORD $$hunt"),
            "ALTER ROLE x PASSWORD $$**$$"
        );
        assert_eq!(r("'secret' ALTER"), "'***' ALTER");
    }

    #[test]
    fn a_batch_reports_whether_it_changed() {
        let mut statements = BTreeMap::from([
            ("1".to_owned(), "SELECT $1".to_owned()),
            ("2".to_owned(), "ALTER ROLE a PASSWORD 'b'".to_owned()),
        ]);
        assert!(redact_statements(&mut statements));
        assert_eq!(statements["2"], "ALTER ROLE a PASSWORD '*'");
        assert!(!redact_statements(&mut statements), "already redacted");
    }

    fn password() -> impl Strategy<Value = String> {
        // A marker no statement keyword contains, then anything a password may hold.
        "[a-zA-Z0-9 '\"\\\\$;*/\\-_!@#%é]{0,24}".prop_map(|s| format!("Zq9{s}"))
    }

    proptest! {
        #[test]
        fn never_panics_never_grows_and_is_idempotent(text in any::<String>()) {
            let once = r(&text);
            prop_assert!(once.len() <= text.len());
            prop_assert_eq!(r(&once), once);
        }

        #[test]
        fn sql_like_text_is_idempotent(text in "[a-zA-Z$;'\"E\\\\ */\\-\n()]{0,40}") {
            let once = r(&text);
            prop_assert!(once.len() <= text.len());
            prop_assert_eq!(r(&once), once);
        }

        #[test]
        fn no_quoted_password_survives_an_alter_role(
            role in "[a-z_][a-z0-9_]{0,10}",
            pw in password(),
            form in 0..4usize,
            verb in prop::sample::select(vec!["ALTER ROLE", "ALTER USER", "CREATE ROLE", "create user"]),
            comment in prop::sample::select(vec!["", "/* c */ ", "-- x\n"]),
        ) {
            let literal = match form {
                0 => format!("'{}'", pw.replace('\'', "''")),
                1 => format!("E'{}'", pw.replace('\\', "\\\\").replace('\'', "\\'")),
                2 => format!("$pw${pw}$pw$"),
                _ => format!("'{}", pw.replace('\'', "''")),
            };
            // A dollar quote whose body holds its own delimiter is not valid SQL.
            prop_assume!(form != 2 || !pw.contains('$'));
            // Form 3 is a text cut inside the literal, as the collector's 4000 characters do.
            let rest = if form == 3 { "" } else { " VALID UNTIL 'infinity'" };
            let statement = format!("{comment}{verb} \"{role}\" WITH LOGIN PASSWORD {literal}{rest}");
            let redacted = r(&statement);
            prop_assert!(!redacted.contains(&pw), "{statement} -> {redacted}");
            prop_assert!(!redacted.contains("Zq9"), "{statement} -> {redacted}");
        }
    }
}
