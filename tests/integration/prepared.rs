//! Queries planned once (`Engine::describe`) and run many times (`Engine::execute_planned`),
//! as the Postgres-wire server's prepared statements are: the same answers as from the text,
//! the scan limit still applied, and partitions chosen when it runs.

use datafusion::common::ParamValues;
use datafusion::scalar::ScalarValue;
use futures::TryStreamExt;

use crate::support::{DemoLake, render, seed_spec};

#[tokio::test]
async fn a_planned_query_answers_as_its_text_does_each_time() {
    let lake = DemoLake::new(seed_spec());
    let engine = lake.engine();
    let sql = "SELECT region, count(*) AS n FROM views WHERE dt = $1 AND listing_id > $2 GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5";
    let description = engine.describe(sql).await.unwrap();
    assert_eq!(description.schema.as_ref().unwrap().fields().len(), 2);
    assert_eq!(description.parameters.len(), 2);
    let planned = description.planned.expect("a query is planned");
    for day in ["2024-01-22", "2024-02-05"] {
        let params = || {
            ParamValues::List(vec![
                ScalarValue::Date32(Some(
                    (chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").unwrap()
                        - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap())
                    .num_days() as i32,
                ))
                .into(),
                ScalarValue::Int64(Some(0)).into(),
            ])
        };
        let planned_rows: Vec<_> = engine
            .execute_planned(&planned, Some(params()))
            .await
            .unwrap()
            .stream
            .try_collect()
            .await
            .unwrap();
        let text_rows: Vec<_> = engine
            .execute_with_params(sql, params())
            .await
            .unwrap()
            .stream
            .try_collect()
            .await
            .unwrap();
        assert!(!planned_rows.is_empty());
        assert_eq!(render(&planned_rows), render(&text_rows), "{day}");
    }
    // The scan limit set after planning holds when it runs.
    engine.set_max_scan(Some(1));
    let one_day = ParamValues::List(vec![
        ScalarValue::Date32(Some(19_744)).into(),
        ScalarValue::Int64(Some(0)).into(),
    ]);
    let refused = match engine.execute_planned(&planned, Some(one_day)).await {
        Ok(output) => output
            .stream
            .try_collect::<Vec<_>>()
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Err(error) => Err(error.to_string()),
    };
    let message = refused.expect_err("the scan limit stops it");
    assert!(message.contains("would read more than"), "{message}");
}

#[tokio::test]
async fn explain_and_commands_are_not_planned_ahead() {
    let lake = DemoLake::new(seed_spec());
    let engine = lake.engine();
    let explain = engine
        .describe("EXPLAIN SELECT count(*) FROM views")
        .await
        .unwrap();
    assert!(explain.schema.is_some() && explain.planned.is_none());
    let command = engine.describe("SHOW TABLES").await.unwrap();
    assert!(command.schema.is_some() && command.planned.is_none());
    let write = engine
        .describe("INSERT INTO views SELECT * FROM views")
        .await
        .unwrap();
    assert!(write.schema.is_none() && write.planned.is_none());
}
