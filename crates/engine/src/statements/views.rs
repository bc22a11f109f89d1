//! The view statements: `CREATE [OR REPLACE] VIEW` (planned before it is kept, so a view that
//! does not plan is never written), `DROP VIEW`, `SHOW CREATE VIEW`, `SHOW VIEWS`. A view is
//! `<database>/<view>.sql` in the catalog directory, its query as written.

use datafusion::arrow::array::RecordBatch;
use minerva_catalog::{Catalog, Entry, View};
use minerva_sql::{ViewStatement, matches_athena_pattern};

use super::answer::{Values, batch, result};
use super::lock::lock_catalog;
use crate::error::{Rejection, Result};
use crate::scan::Tables;

/// Carries out a view statement on the catalog of `tables`.
pub(crate) async fn run_view(tables: &Tables, statement: ViewStatement) -> Result<RecordBatch> {
    match statement {
        ViewStatement::Create {
            name: (database, name),
            or_replace,
            query,
        } => {
            let _lock = lock_catalog(tables).await?;
            let catalog = tables.catalog();
            let view = View::new(&database, &name, &query);
            let exists = match catalog.entry(&database, &name) {
                None => false,
                Some(Ok(Entry::View(_))) if or_replace => true,
                Some(Ok(Entry::View(_))) => {
                    return Err(Rejection::ViewExists {
                        view: view.qualified_name(),
                    }
                    .into());
                }
                Some(Ok(Entry::Table(_))) => return Err(wrong(&view, "a table")),
                Some(Ok(Entry::Live(_))) => return Err(wrong(&view, "a live table")),
                Some(Err(_)) => return Err(wrong(&view, "a table (whose file is broken)")),
            };
            if !catalog.databases().contains(&database.as_str()) {
                return Err(Rejection::NoDatabase { database }.into());
            }
            // It must plan now, and not by reading itself.
            tables.plan_view(&view).await?;
            Catalog::write_view(catalog.root(), &view)?;
            tables.reload()?;
            Ok(result(format!(
                "{} view {}",
                if exists { "replaced" } else { "created" },
                view.qualified_name()
            )))
        }
        ViewStatement::Drop {
            name: (database, name),
            if_exists,
        } => {
            let _lock = lock_catalog(tables).await?;
            let catalog = tables.catalog();
            let qualified = format!("{database}.{name}");
            match catalog.entry(&database, &name) {
                Some(Ok(Entry::View(_))) => {}
                None if if_exists => return Ok(result(format!("view {qualified} does not exist"))),
                None => {
                    catalog.find(&database, &name)?;
                }
                Some(Ok(Entry::Table(_)) | Err(_)) => {
                    return Err(Rejection::WrongKind {
                        name: qualified,
                        is: "a table",
                        expected: "a view",
                        instead: "use DROP TABLE",
                    }
                    .into());
                }
                Some(Ok(Entry::Live(_))) => {
                    return Err(Rejection::WrongKind {
                        name: qualified,
                        is: "a live table",
                        expected: "a view",
                        instead: "use DROP TABLE",
                    }
                    .into());
                }
            }
            Catalog::remove_view(catalog.root(), &database, &name)?;
            tables.reload()?;
            Ok(result(format!("dropped view {qualified}")))
        }
        ViewStatement::ShowCreate {
            name: (database, name),
        } => match tables.catalog().find(&database, &name)? {
            Entry::View(view) => {
                let lines = view
                    .create_statement()
                    .lines()
                    .map(|l| Some(l.to_string()))
                    .collect();
                Ok(batch(vec![("createview_stmt", Values::Text(lines))]))
            }
            Entry::Table(_) | Entry::Live(_) => Err(Rejection::WrongKind {
                name: format!("{database}.{name}"),
                is: "a table",
                expected: "a view",
                instead: "use SHOW CREATE TABLE",
            }
            .into()),
        },
        ViewStatement::Show { database, like } => {
            let catalog = tables.catalog();
            let names = catalog
                .view_names(&database)
                .into_iter()
                .filter(|name| {
                    like.as_deref()
                        .is_none_or(|p| matches_athena_pattern(p, name))
                })
                .map(|name| Some(name.to_string()))
                .collect();
            Ok(batch(vec![("views", Values::Text(names))]))
        }
    }
}

fn wrong(view: &View, is: &'static str) -> crate::error::EngineError {
    Rejection::WrongKind {
        name: view.qualified_name(),
        is,
        expected: "a view",
        instead: "choose another name, or DROP TABLE it first",
    }
    .into()
}
