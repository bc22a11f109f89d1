//! Counting words for reports: `1 partition`, `3 files`.

/// `1 row`, `2 rows`.
pub(crate) fn plural(n: u64, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else if what.ends_with('x') || what.ends_with('s') {
        format!("{n} {what}es")
    } else {
        format!("{n} {what}s")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_is_singular_and_everything_else_plural() {
        assert_eq!(super::plural(0, "file"), "0 files");
        assert_eq!(super::plural(1, "file"), "1 file");
        assert_eq!(super::plural(2, "file"), "2 files");
        assert_eq!(super::plural(2, "prefix"), "2 prefixes");
    }
}
