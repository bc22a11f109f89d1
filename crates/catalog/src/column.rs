//! A column: a name, an Athena type, a comment.

use crate::types::ColumnType;

/// A column: its name, declared type and optional comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The column's name as SQL sees it.
    pub name: String,
    /// The declared type.
    pub ty: ColumnType,
    /// Free text for people.
    pub comment: Option<String>,
}

impl Column {
    /// A column with no comment.
    pub fn new(name: impl Into<String>, ty: ColumnType) -> Self {
        Self {
            name: name.into(),
            ty,
            comment: None,
        }
    }
}
