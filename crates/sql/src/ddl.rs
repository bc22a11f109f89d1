//! Athena's DDL, read from SQL and written back: `CREATE EXTERNAL TABLE`, `SHOW CREATE TABLE`,
//! `DROP TABLE`, `CREATE DATABASE`, `SHOW DATABASES`, `MSCK REPAIR TABLE`, and
//! `ALTER TABLE … ADD|DROP PARTITION`.
//!
//! DataFusion's parser knows its own `CREATE EXTERNAL TABLE`, not Hive's (`ROW FORMAT SERDE`,
//! `TBLPROPERTIES`, `array<struct<…>>`, either quote style for strings), so these statements are
//! read here from sqlparser's tokens.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

use minerva_catalog::{
    Column, ColumnType, DEFAULT_DATABASE, Format, Location, Serde, TableDefinition,
};
use sqlparser::dialect::HiveDialect;
use sqlparser::tokenizer::{Token, Tokenizer};

use crate::error::{DdlError, Found};

/// A DDL statement Minerva runs against its catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ddl {
    /// `CREATE EXTERNAL TABLE …`
    CreateTable {
        /// The table to write (checked when it is written, as if it were read back).
        table: Box<TableDefinition>,
        /// `IF NOT EXISTS`
        if_not_exists: bool,
    },
    /// `CREATE DATABASE|SCHEMA [IF NOT EXISTS] name`
    CreateDatabase { name: String, if_not_exists: bool },
    /// `DROP TABLE [IF EXISTS] t`
    DropTable {
        database: String,
        table: String,
        if_exists: bool,
    },
    /// `SHOW CREATE TABLE t`
    ShowCreateTable { database: String, table: String },
    /// `SHOW DATABASES|SCHEMAS`
    ShowDatabases,
    /// `MSCK REPAIR TABLE t`
    MsckRepair { database: String, table: String },
    /// `ALTER TABLE t ADD [IF NOT EXISTS] PARTITION (…) [LOCATION '…'] …`
    AddPartitions {
        database: String,
        table: String,
        if_not_exists: bool,
        partitions: Vec<(PartitionSpec, Option<String>)>,
    },
    /// `ALTER TABLE t DROP [IF EXISTS] PARTITION (…), …`
    DropPartitions {
        database: String,
        table: String,
        if_exists: bool,
        partitions: Vec<PartitionSpec>,
    },
}

/// `(k='v', k2=3)`: partition column names and their values as written.
pub type PartitionSpec = Vec<(String, String)>;

/// Recognizes a DDL statement. `None` leaves the statement to DataFusion; `Some(Err)` is a
/// statement that is ours but malformed.
pub fn parse(sql: &str, catalog_root: &Path) -> Option<Result<Ddl, DdlError>> {
    let tokens = Tokenizer::new(&HiveDialect {}, sql).tokenize().ok()?;
    let mut p = Parser {
        tokens: tokens
            .into_iter()
            .filter(|t| !matches!(t, Token::Whitespace(_)))
            .collect(),
        at: 0,
    };
    if p.tokens.last() == Some(&Token::SemiColon) {
        p.tokens.pop();
    }
    let statement = if p.keywords(&["create", "external", "table"]) {
        p.create_table(catalog_root)
    } else if p.keywords(&["create", "database"]) || p.keywords(&["create", "schema"]) {
        p.create_database()
    } else if p.keywords(&["drop", "table"]) {
        p.drop_table()
    } else if p.keywords(&["show", "create", "table"]) {
        p.table_name()
            .map(|(database, table)| Ddl::ShowCreateTable { database, table })
    } else if p.keywords(&["show", "databases"]) || p.keywords(&["show", "schemas"]) {
        Ok(Ddl::ShowDatabases)
    } else if p.keywords(&["msck", "repair", "table"]) {
        p.table_name()
            .map(|(database, table)| Ddl::MsckRepair { database, table })
    } else if p.keywords(&["alter", "table"]) {
        p.alter_partitions()?
    } else {
        return None;
    };
    Some(statement.and_then(|ddl| match p.tokens.get(p.at) {
        None => Ok(ddl),
        Some(token) => Err(DdlError::Unexpected {
            token: token.to_string(),
            place: "after the statement",
        }),
    }))
}

/// The name a word token spells, as Hive resolves it: unquoted names are lower-cased.
pub(crate) fn name_of(token: &Token) -> Option<String> {
    match token {
        Token::Word(w) if w.quote_style.is_some() => Some(w.value.clone()),
        Token::Word(w) => Some(w.value.to_lowercase()),
        _ => None,
    }
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek_keyword(&self, keyword: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Token::Word(w))
            if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(keyword))
    }

    /// Consumes `words` if they come next, all of them.
    fn keywords(&mut self, words: &[&str]) -> bool {
        let matches = words.iter().enumerate().all(|(i, k)| {
            matches!(self.tokens.get(self.at + i), Some(Token::Word(w))
                if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(k))
        });
        if matches {
            self.at += words.len();
        }
        matches
    }

    fn expect_keywords(&mut self, words: &[&str]) -> Result<(), DdlError> {
        if self.keywords(words) {
            Ok(())
        } else {
            Err(self.expected(words.join(" ").to_uppercase()))
        }
    }

    /// `expected` belongs where the next token is.
    fn expected(&self, expected: impl Into<String>) -> DdlError {
        DdlError::Expected {
            expected: expected.into(),
            found: match self.tokens.get(self.at) {
                Some(token) => Found::Token(token.to_string()),
                None => Found::End,
            },
        }
    }

    fn eat(&mut self, token: &Token) -> bool {
        if self.tokens.get(self.at) == Some(token) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, token: &Token) -> Result<(), DdlError> {
        if self.eat(token) {
            Ok(())
        } else {
            Err(self.expected(format!("'{token}'")))
        }
    }

    /// A string literal: `'…'`, or `"…"` as Athena's documentation also writes them.
    fn string(&mut self) -> Result<String, DdlError> {
        let value = match self.tokens.get(self.at) {
            Some(Token::SingleQuotedString(s) | Token::DoubleQuotedString(s)) => s.clone(),
            Some(Token::Word(w)) if w.quote_style == Some('"') => w.value.clone(),
            _ => return Err(self.expected("a quoted string")),
        };
        self.at += 1;
        Ok(value)
    }

    /// An identifier as Hive resolves it: unquoted names are lower-cased.
    fn identifier(&mut self) -> Result<String, DdlError> {
        let name = self
            .tokens
            .get(self.at)
            .and_then(name_of)
            .ok_or_else(|| self.expected("a name"))?;
        self.at += 1;
        Ok(name)
    }

    /// `table` or `database.table`.
    fn table_name(&mut self) -> Result<(String, String), DdlError> {
        let first = self.identifier()?;
        if self.eat(&Token::Period) {
            Ok((first, self.identifier()?))
        } else {
            Ok((DEFAULT_DATABASE.to_string(), first))
        }
    }

    fn if_not_exists(&mut self) -> bool {
        self.keywords(&["if", "not", "exists"])
    }

    fn create_database(&mut self) -> Result<Ddl, DdlError> {
        let if_not_exists = self.if_not_exists();
        let name = self.identifier()?;
        // Athena accepts a comment, a location and properties; a catalog directory has no use
        // for them.
        while self.at < self.tokens.len() {
            self.at += 1;
        }
        Ok(Ddl::CreateDatabase {
            name,
            if_not_exists,
        })
    }

    fn drop_table(&mut self) -> Result<Ddl, DdlError> {
        let if_exists = self.keywords(&["if", "exists"]);
        let (database, table) = self.table_name()?;
        Ok(Ddl::DropTable {
            database,
            table,
            if_exists,
        })
    }

    /// `ALTER TABLE t ADD|DROP … PARTITION`; `None` for any other `ALTER TABLE`.
    fn alter_partitions(&mut self) -> Option<Result<Ddl, DdlError>> {
        let (database, table) = match self.table_name() {
            Ok(name) => name,
            Err(e) => return Some(Err(e)),
        };
        if self.keywords(&["add"]) {
            let if_not_exists = self.if_not_exists();
            if !self.peek_keyword("partition") {
                return None;
            }
            let mut partitions = Vec::new();
            while self.keywords(&["partition"]) {
                let spec = match self.partition_spec() {
                    Ok(spec) => spec,
                    Err(e) => return Some(Err(e)),
                };
                let location = if self.keywords(&["location"]) {
                    match self.string() {
                        Ok(l) => Some(l),
                        Err(e) => return Some(Err(e)),
                    }
                } else {
                    None
                };
                partitions.push((spec, location));
                self.eat(&Token::Comma);
            }
            return Some(Ok(Ddl::AddPartitions {
                database,
                table,
                if_not_exists,
                partitions,
            }));
        }
        if self.keywords(&["drop"]) {
            let if_exists = self.keywords(&["if", "exists"]);
            if !self.peek_keyword("partition") {
                return None;
            }
            let mut partitions = Vec::new();
            while self.keywords(&["partition"]) {
                match self.partition_spec() {
                    Ok(spec) => partitions.push(spec),
                    Err(e) => return Some(Err(e)),
                }
                self.eat(&Token::Comma);
            }
            return Some(Ok(Ddl::DropPartitions {
                database,
                table,
                if_exists,
                partitions,
            }));
        }
        None
    }

    /// `(k='v', k2=3)`
    fn partition_spec(&mut self) -> Result<PartitionSpec, DdlError> {
        self.expect(&Token::LParen)?;
        let mut spec = Vec::new();
        loop {
            let key = self.identifier()?;
            self.expect(&Token::Eq)?;
            let value = match self.tokens.get(self.at) {
                Some(Token::Number(n, _)) => {
                    let n = n.clone();
                    self.at += 1;
                    n
                }
                Some(Token::Minus) => {
                    self.at += 1;
                    match self.tokens.get(self.at) {
                        Some(Token::Number(n, _)) => {
                            let n = format!("-{n}");
                            self.at += 1;
                            n
                        }
                        _ => return Err(self.expected("a number")),
                    }
                }
                _ => self.string()?,
            };
            spec.push((key, value));
            if self.eat(&Token::RParen) {
                return Ok(spec);
            }
            self.expect(&Token::Comma)?;
        }
    }

    /// `(name type [COMMENT '…'], …)`
    fn columns(&mut self) -> Result<Vec<Column>, DdlError> {
        self.expect(&Token::LParen)?;
        let mut columns = Vec::new();
        loop {
            let name = self.identifier()?;
            let ty = self.column_type()?;
            let comment = if self.keywords(&["comment"]) {
                Some(self.string()?)
            } else {
                None
            };
            columns.push(Column { name, ty, comment });
            if self.eat(&Token::RParen) {
                return Ok(columns);
            }
            self.expect(&Token::Comma)?;
        }
    }

    /// A type's tokens up to the `,` or `)` that ends the column, read as a Hive type name.
    fn column_type(&mut self) -> Result<ColumnType, DdlError> {
        let mut text = String::new();
        let mut depth = 0i32;
        while let Some(token) = self.tokens.get(self.at) {
            match token {
                Token::Comma | Token::RParen if depth == 0 => break,
                Token::Word(w) if depth == 0 && w.value.eq_ignore_ascii_case("comment") => break,
                Token::Lt | Token::LParen => depth += 1,
                Token::Gt | Token::RParen => depth -= 1,
                Token::ShiftRight => depth -= 2,
                _ => {}
            }
            // Words are written back with their quotes (backquoted struct field names).
            write!(text, "{token} ").expect("writing to a string");
            self.at += 1;
        }
        Ok(text.parse::<ColumnType>()?)
    }

    /// `('k'='v', …)`
    fn properties(&mut self) -> Result<BTreeMap<String, String>, DdlError> {
        self.expect(&Token::LParen)?;
        let mut properties = BTreeMap::new();
        if self.eat(&Token::RParen) {
            return Ok(properties);
        }
        loop {
            let key = self.string()?;
            self.expect(&Token::Eq)?;
            let value = self.string()?;
            properties.insert(key, value);
            if self.eat(&Token::RParen) {
                return Ok(properties);
            }
            self.expect(&Token::Comma)?;
        }
    }

    /// One loop over Hive's clauses, which may come in any order (long by design: one
    /// branch per clause).
    fn create_table(&mut self, catalog_root: &Path) -> Result<Ddl, DdlError> {
        let if_not_exists = self.if_not_exists();
        let (database, name) = self.table_name()?;
        let mut columns = Vec::new();
        if self.tokens.get(self.at) == Some(&Token::LParen) {
            columns = self.columns()?;
        }
        let mut comment = None;
        let mut partition_columns = Vec::new();
        let mut serde: Option<Serde> = None;
        let mut stored_as: Option<String> = None;
        let mut input_format: Option<String> = None;
        let mut location = None;
        let mut properties = BTreeMap::new();
        while self.at < self.tokens.len() {
            if self.keywords(&["comment"]) {
                comment = Some(self.string()?);
            } else if self.keywords(&["partitioned", "by"]) {
                partition_columns = self.columns()?;
            } else if self.keywords(&["row", "format", "serde"]) {
                serde = Some(Serde {
                    library: self.string()?,
                    properties: BTreeMap::new(),
                });
            } else if self.keywords(&["row", "format", "delimited"]) {
                serde = Some(self.delimited()?);
            } else if self.keywords(&["with", "serdeproperties"]) {
                let extra = self.properties()?;
                serde
                    .get_or_insert_with(|| Serde {
                        library: Serde::LAZY_SIMPLE.to_string(),
                        properties: BTreeMap::new(),
                    })
                    .properties
                    .extend(extra);
            } else if self.keywords(&["stored", "as", "inputformat"]) {
                input_format = Some(self.string()?);
                self.expect_keywords(&["outputformat"])?;
                self.string()?;
            } else if self.keywords(&["stored", "as"]) {
                stored_as = Some(self.identifier()?);
            } else if self.keywords(&["location"]) {
                location = Some(self.string()?);
            } else if self.keywords(&["tblproperties"]) {
                properties = self.properties()?;
            } else if self.peek_keyword("clustered") {
                return Err(DdlError::Bucketed);
            } else {
                return Err(DdlError::Unexpected {
                    token: self.tokens[self.at].to_string(),
                    place: "in CREATE EXTERNAL TABLE",
                });
            }
        }
        let location = location.ok_or(DdlError::NoLocation)?;
        let format = format_of(
            stored_as.as_deref(),
            input_format.as_deref(),
            serde.as_ref(),
        )?;
        if format == Format::Parquet {
            // Parquet carries its own encoding: a ParquetHiveSerDe says nothing Minerva needs.
            serde = None;
        } else if serde.is_none() {
            // Hive's text default: delimited by \x01, unquoted.
            serde = Some(Serde {
                library: Serde::LAZY_SIMPLE.to_string(),
                properties: BTreeMap::new(),
            });
        }
        let location = Location::parse(&location, catalog_root)?;
        Ok(Ddl::CreateTable {
            table: Box::new(TableDefinition {
                database,
                name,
                location,
                format,
                columns: (!columns.is_empty()).then_some(columns),
                partition_columns,
                properties,
                comment,
                serde,
            }),
            if_not_exists,
        })
    }

    /// `ROW FORMAT DELIMITED [FIELDS TERMINATED BY 'c' [ESCAPED BY 'e']] …`, as Hive stores it:
    /// a LazySimpleSerDe with `field.delim`.
    fn delimited(&mut self) -> Result<Serde, DdlError> {
        let mut properties = BTreeMap::new();
        loop {
            if self.keywords(&["fields", "terminated", "by"]) {
                properties.insert("field.delim".to_string(), self.string()?);
                if self.keywords(&["escaped", "by"]) {
                    properties.insert("escape.delim".to_string(), self.string()?);
                }
            } else if self.keywords(&["collection", "items", "terminated", "by"]) {
                properties.insert("collection.delim".to_string(), self.string()?);
            } else if self.keywords(&["map", "keys", "terminated", "by"]) {
                properties.insert("mapkey.delim".to_string(), self.string()?);
            } else if self.keywords(&["lines", "terminated", "by"]) {
                properties.insert("line.delim".to_string(), self.string()?);
            } else if self.keywords(&["null", "defined", "as"]) {
                properties.insert("serialization.null.format".to_string(), self.string()?);
            } else {
                break;
            }
        }
        Ok(Serde {
            library: Serde::LAZY_SIMPLE.to_string(),
            properties,
        })
    }
}

/// The file format a Hive storage clause stands for.
fn format_of(
    stored_as: Option<&str>,
    input_format: Option<&str>,
    serde: Option<&Serde>,
) -> Result<Format, DdlError> {
    let serde_library = serde.map(|s| s.library.to_ascii_lowercase());
    if let Some(stored) = stored_as {
        return match stored.to_ascii_lowercase().as_str() {
            "parquet" | "parquetfile" => Ok(Format::Parquet),
            "textfile" => Ok(text_format(serde_library.as_deref())),
            "json" => Ok(Format::Json),
            other => Err(DdlError::StoredAs(other.to_uppercase())),
        };
    }
    let input = input_format.unwrap_or_default().to_ascii_lowercase();
    if input.contains("parquet")
        || serde_library
            .as_deref()
            .is_some_and(|s| s.contains("parquet"))
    {
        return Ok(Format::Parquet);
    }
    if input.is_empty() || input.contains("textinputformat") {
        return Ok(text_format(serde_library.as_deref()));
    }
    Err(DdlError::InputFormat(
        input_format.unwrap_or_default().to_string(),
    ))
}

fn text_format(serde_library: Option<&str>) -> Format {
    match serde_library {
        Some(s) if s.contains("json") => Format::Json,
        _ => Format::Csv,
    }
}

/// DDL that recreates `table`, with `columns` as its data columns (declared or read from its
/// files).
pub fn show_create_table(table: &TableDefinition, columns: &[Column]) -> String {
    let quote = |s: &str| format!("'{}'", s.replace('\'', "''"));
    let column_list = |columns: &[Column]| {
        columns
            .iter()
            .map(|c| {
                let mut line = format!("  `{}` {}", c.name, c.ty);
                if let Some(comment) = &c.comment {
                    write!(line, " COMMENT {}", quote(comment)).expect("string");
                }
                line
            })
            .collect::<Vec<_>>()
            .join(",\n")
    };
    let property_list = |properties: &BTreeMap<String, String>| {
        properties
            .iter()
            .map(|(k, v)| format!("  {}={}", quote(k), quote(v)))
            .collect::<Vec<_>>()
            .join(",\n")
    };
    // A table that declares no columns (Parquet, read from its files) prints none: `()` is
    // not DDL (found by the `ddl` fuzz target).
    let mut ddl = if columns.is_empty() {
        format!(
            "CREATE EXTERNAL TABLE `{}`.`{}`\n",
            table.database, table.name
        )
    } else {
        format!(
            "CREATE EXTERNAL TABLE `{}`.`{}`(\n{})\n",
            table.database,
            table.name,
            column_list(columns)
        )
    };
    if let Some(comment) = &table.comment {
        writeln!(ddl, "COMMENT {}", quote(comment)).expect("string");
    }
    if !table.partition_columns.is_empty() {
        writeln!(
            ddl,
            "PARTITIONED BY (\n{})",
            column_list(&table.partition_columns)
        )
        .expect("string");
    }
    match table.format {
        Format::Parquet => ddl.push_str("STORED AS PARQUET\n"),
        _ => {
            let serde = table.serde.clone().unwrap_or_else(|| match table.format {
                Format::Json => Serde {
                    library: Serde::JSON.to_string(),
                    properties: BTreeMap::new(),
                },
                _ => Serde {
                    library: Serde::OPEN_CSV.to_string(),
                    properties: BTreeMap::from([("separatorChar".to_string(), ",".to_string())]),
                },
            });
            writeln!(ddl, "ROW FORMAT SERDE {}", quote(&serde.library)).expect("string");
            if !serde.properties.is_empty() {
                writeln!(
                    ddl,
                    "WITH SERDEPROPERTIES (\n{})",
                    property_list(&serde.properties)
                )
                .expect("string");
            }
            ddl.push_str("STORED AS TEXTFILE\n");
        }
    }
    writeln!(ddl, "LOCATION {}", quote(table.location.as_written())).expect("string");
    if !table.properties.is_empty() {
        writeln!(
            ddl,
            "TBLPROPERTIES (\n{})",
            property_list(&table.properties)
        )
        .expect("string");
    }
    ddl.truncate(ddl.trim_end().len());
    ddl
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(sql: &str) -> TableDefinition {
        match parse(sql, Path::new("/catalog")) {
            Some(Ok(Ddl::CreateTable { table, .. })) => *table,
            other => panic!("{sql}: {other:?}"),
        }
    }

    #[test]
    fn reads_hive_ddl_with_either_quote_style() {
        let table = create(
            r#"CREATE EXTERNAL TABLE IF NOT EXISTS web.my_ingested_data (
                 `event_time` timestamp COMMENT 'when',
                 user_id bigint,
                 tags array<string>,
                 attrs map<string,string>,
                 geo struct<lat:double,lon:double>,
                 nested array<struct<a:int,b:array<string>>>
               )
               PARTITIONED BY (datehour STRING)
               ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
               LOCATION "s3://amzn-s3-demo-bucket/prefix/"
               TBLPROPERTIES (
                 "projection.enabled" = "true",
                 'projection.datehour.type' = 'date'
               );"#,
        );
        assert_eq!(table.qualified_name(), "web.my_ingested_data");
        assert_eq!(table.format, Format::Json);
        let columns = table.columns.as_ref().unwrap();
        assert_eq!(columns[0].comment.as_deref(), Some("when"));
        assert_eq!(
            columns[5].ty.to_string(),
            "array<struct<a:int,b:array<string>>>"
        );
        assert_eq!(table.partition_columns[0].ty, ColumnType::String);
        assert_eq!(
            table.location.as_written(),
            "s3://amzn-s3-demo-bucket/prefix/"
        );
        assert_eq!(table.properties["projection.enabled"], "true");
        assert_eq!(table.properties["projection.datehour.type"], "date");
    }

    #[test]
    fn storage_clauses_map_to_formats() {
        let base = "CREATE EXTERNAL TABLE t (a int) ";
        let cases = [
            ("STORED AS PARQUET LOCATION 's3://b/t/'", Format::Parquet),
            (
                "ROW FORMAT SERDE 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' STORED AS INPUTFORMAT 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat' OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat' LOCATION 's3://b/t/'",
                Format::Parquet,
            ),
            (
                "ROW FORMAT DELIMITED FIELDS TERMINATED BY '\t' LOCATION 's3://b/t/'",
                Format::Csv,
            ),
            (
                "ROW FORMAT SERDE 'org.apache.hive.hcatalog.data.JsonSerDe' STORED AS TEXTFILE LOCATION 's3://b/t/'",
                Format::Json,
            ),
        ];
        for (rest, format) in cases {
            let table = create(&format!("{base}{rest}"));
            assert_eq!(table.format, format, "{rest}");
        }
        let tsv =
            minerva_catalog::Table::new(create(&format!("{base}{}", cases[2].0)), Path::new("/"))
                .unwrap();
        assert_eq!(tsv.csv_delimiter(), b'\t');
        assert_eq!(tsv.csv_quote(), None);
        for (rest, error) in [
            (
                "STORED AS ORC LOCATION 's3://b/t/'",
                "STORED AS ORC is not supported",
            ),
            ("STORED AS PARQUET", "needs a LOCATION"),
            ("LOCATION 's3://b/t/' BOGUS", "unexpected 'BOGUS'"),
        ] {
            let sql = format!("{base}{rest}");
            let message = parse(&sql, Path::new("/"))
                .unwrap()
                .unwrap_err()
                .to_string();
            assert!(message.contains(error), "{message}");
        }
    }

    #[test]
    fn partition_statements() {
        let parsed = parse(
            "ALTER TABLE views ADD IF NOT EXISTS PARTITION (dt='2024-01-01', hour=3) LOCATION 's3://b/x/' PARTITION (dt = '2024-01-02', hour = -1)",
            Path::new("/"),
        );
        assert_eq!(
            parsed,
            Some(Ok(Ddl::AddPartitions {
                database: "default".into(),
                table: "views".into(),
                if_not_exists: true,
                partitions: vec![
                    (
                        vec![
                            ("dt".into(), "2024-01-01".into()),
                            ("hour".into(), "3".into())
                        ],
                        Some("s3://b/x/".into())
                    ),
                    (
                        vec![
                            ("dt".into(), "2024-01-02".into()),
                            ("hour".into(), "-1".into())
                        ],
                        None
                    ),
                ],
            }))
        );
        assert!(matches!(
            parse("alter table v drop partition (dt='x'), partition (dt='y')", Path::new("/")),
            Some(Ok(Ddl::DropPartitions { partitions, .. })) if partitions.len() == 2
        ));
        assert_eq!(parse("ALTER TABLE v RENAME TO w", Path::new("/")), None);
        assert_eq!(
            parse("msck repair table web.hits;", Path::new("/")),
            Some(Ok(Ddl::MsckRepair {
                database: "web".into(),
                table: "hits".into()
            }))
        );
        assert_eq!(parse("select 1", Path::new("/")), None);
    }

    #[test]
    fn show_create_table_round_trips() {
        let sql = r#"CREATE EXTERNAL TABLE web.logs (
              `a` string COMMENT 'it''s a',
              b map<string,array<int>>
            )
            COMMENT 'raw logs'
            PARTITIONED BY (`day` string, hour int)
            ROW FORMAT DELIMITED FIELDS TERMINATED BY '|'
            LOCATION 's3://bucket/logs/'
            TBLPROPERTIES ('skip.header.line.count'='1')"#;
        let table = create(sql);
        let shown = show_create_table(&table, table.columns.as_deref().unwrap());
        assert_eq!(create(&shown), table, "{shown}");
        assert!(
            shown.starts_with(
                "CREATE EXTERNAL TABLE `web`.`logs`(\n  `a` string COMMENT 'it''s a',"
            ),
            "{shown}"
        );
    }

    /// Found by the `ddl` fuzz target: a table without a column list printed `()`.
    #[test]
    fn a_table_without_columns_prints_without_a_column_list() {
        let table = create("CREATE EXTERNAL TABLE viewT LOCATION 's3://bucket/views/'");
        let shown = show_create_table(&table, &[]);
        assert!(!shown.contains("()"), "{shown}");
        assert_eq!(create(&shown), table, "{shown}");
    }
}
