//! `ci/fail/*.yaml`: values that must fail to render. The first line names the
//! substring the error must contain: `# expect: <substring>`.

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum FailCaseError {
    #[error("first line must be `# expect: <substring of the render error>`")]
    MissingHeader,
    #[error("`# expect:` needs a non-empty substring")]
    EmptyExpectation,
}

/// The expected error substring of a fail-case file.
pub fn expectation(text: &str) -> Result<&str, FailCaseError> {
    let first = text.lines().next().unwrap_or_default();
    let rest = first
        .strip_prefix('#')
        .map(str::trim_start)
        .and_then(|l| l.strip_prefix("expect:"))
        .ok_or(FailCaseError::MissingHeader)?;
    let want = rest.trim();
    if want.is_empty() {
        return Err(FailCaseError::EmptyExpectation);
    }
    Ok(want)
}

/// Checks an error message against a fail case: `Ok(())` when it contains the
/// expected substring, otherwise a one-line explanation.
pub fn matches(error: Option<&str>, expected: &str) -> Result<(), String> {
    match error {
        None => Err(format!(
            "rendered successfully, but must fail with `{expected}`"
        )),
        Some(e) if e.contains(expected) => Ok(()),
        Some(e) => Err(format!(
            "failed with `{}`, expected it to contain `{expected}`",
            e.trim().replace('\n', " ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_header() {
        assert_eq!(
            expectation("# expect: a: b (c)\nimage: {}\n"),
            Ok("a: b (c)")
        );
        assert_eq!(expectation("#expect:   /replicas  \n"), Ok("/replicas"));
    }

    #[test]
    fn header_is_mandatory_and_non_empty() {
        assert_eq!(
            expectation("image: {}\n"),
            Err(FailCaseError::MissingHeader)
        );
        assert_eq!(expectation(""), Err(FailCaseError::MissingHeader));
        assert_eq!(
            expectation("# expect:   \n"),
            Err(FailCaseError::EmptyExpectation)
        );
        assert_eq!(
            expectation("\n# expect: x\n"),
            Err(FailCaseError::MissingHeader)
        );
    }

    #[test]
    fn matching() {
        assert!(
            matches(
                Some("execution error: chart: x is required"),
                "x is required"
            )
            .is_ok()
        );
        let e = matches(Some("other\nfailure"), "x is required").unwrap_err();
        assert!(e.contains("other failure") && e.contains("x is required"));
        assert!(
            matches(None, "x")
                .unwrap_err()
                .contains("rendered successfully")
        );
    }
}
