//! How views and live tables are planned: as a statement of the session would be, in Trino's
//! dialect and with the session's functions (`scan::Planner`).

use std::sync::{Arc, Weak};

use async_trait::async_trait;
use datafusion::execution::SessionState;
use datafusion::logical_expr::LogicalPlan;
use datafusion::sql::parser::Statement;
use datafusion::sql::sqlparser::ast::Statement as SqlStatement;

use crate::error::{EngineError, Result};
use crate::scan::{Planner, Tables};

/// The session's planner. It holds the session weakly: the session holds it (through the
/// catalog), and an engine dropped must free both.
pub(crate) struct SessionPlanner {
    state: Box<dyn Fn() -> Option<SessionState> + Send + Sync>,
    tables: Weak<Tables>,
}

impl std::fmt::Debug for SessionPlanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionPlanner")
    }
}

impl SessionPlanner {
    /// Plans with the state `state` returns (the session's, as it is when asked).
    pub(crate) fn new(
        state: impl Fn() -> Option<SessionState> + Send + Sync + 'static,
        tables: &Arc<Tables>,
    ) -> Self {
        Self {
            state: Box::new(state),
            tables: Arc::downgrade(tables),
        }
    }
}

#[async_trait]
impl Planner for SessionPlanner {
    async fn plan_query(&self, sql: &str) -> Result<LogicalPlan> {
        let state = (self.state)().ok_or(EngineError::Unsupported {
            statement: "planning a view after its engine was dropped",
        })?;
        let mut statement =
            state.sql_to_statement(sql, &state.config().options().sql_parser.dialect)?;
        if !matches!(&statement, Statement::Statement(s) if matches!(s.as_ref(), SqlStatement::Query(_)))
        {
            return Err(EngineError::NotAQuery);
        }
        crate::trino::rewrite(&mut statement, &|name| {
            crate::trino::is_function(&state, name)
        })?;
        if let Some(tables) = self.tables.upgrade() {
            tables.check_exist(&state, &statement)?;
        }
        Ok(state.statement_to_plan(statement).await?)
    }
}
