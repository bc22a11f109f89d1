//! Errors that point: the statement's line under the message, and a caret at the column the
//! engine names (`EngineError::position`), psql's way.

use minerva_engine::Position;
use unicode_width::UnicodeWidthStr;

/// At most this many characters of a line are shown around the caret.
const WINDOW: usize = 72;

/// `message`, then `LINE n: …` and a caret under `position` in `sql`, if it is known and in
/// the statement.
pub fn render(message: &str, sql: &str, position: Option<Position>) -> String {
    let Some(position) = position else {
        return message.to_string();
    };
    let Some(line) = usize::try_from(position.line)
        .ok()
        .and_then(|n| n.checked_sub(1))
        .and_then(|n| sql.lines().nth(n))
    else {
        return message.to_string();
    };
    let line = line.replace('\t', " ");
    let chars: Vec<char> = line.chars().collect();
    let column = usize::try_from(position.column)
        .unwrap_or(1)
        .saturating_sub(1)
        .min(chars.len());
    // A long line: a window around the column, cut ends marked with `…`.
    let from = column.saturating_sub(WINDOW / 2);
    let to = (from + WINDOW).min(chars.len());
    let from = to.saturating_sub(WINDOW).min(from);
    let head = if from > 0 { "…" } else { "" };
    let tail = if to < chars.len() { "…" } else { "" };
    let shown: String = chars[from..to].iter().collect();
    let before: String = chars[from..column].iter().collect();
    let prefix = format!("LINE {}: {head}", position.line);
    format!(
        "{message}\n{prefix}{}{tail}\n{}^",
        shown.trim_end(),
        " ".repeat(prefix.width() + before.width())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: u64, column: u64) -> Option<Position> {
        Some(Position { line, column })
    }

    #[test]
    fn carets_point_at_the_column_in_display_width() {
        insta::assert_snapshot!(
            "caret_table",
            render(
                "error: table 'veiws' not found in catalog 'catalog'; did you mean 'views'?",
                "SELECT *\nFROM veiws",
                at(2, 6)
            )
        );
        insta::assert_snapshot!(
            "caret_korean",
            render(
                "error: no field named regoin. Did you mean 'views.region'?",
                "SELECT '서울' AS city, regoin FROM views",
                at(1, 22)
            )
        );
    }

    #[test]
    fn long_lines_are_windowed_and_unknown_places_left_out() {
        let sql = format!("SELECT {} FROM t WHERE x = 1 +", "a, ".repeat(60));
        let shown = render("error: syntax error", &sql, at(1, 206));
        let lines: Vec<&str> = shown.lines().collect();
        assert!(lines[1].starts_with("LINE 1: …"), "{shown}");
        // The caret is under the 206th character: `1` of `x = 1 +`, shown near the end.
        let caret = lines[2].chars().count() - 1;
        assert_eq!(lines[1].chars().nth(caret), Some('1'), "{shown}");
        assert_eq!(render("error: x", "SELECT 1", None), "error: x");
        assert_eq!(render("error: x", "SELECT 1", at(5, 1)), "error: x");
    }
}
