-- When in the day people look, over a month: views by UTC hour.
SELECT hour(event_time) AS hour_of_day, count(*) AS views
FROM views
WHERE dt BETWEEN DATE '2024-01-01' AND DATE '2024-01-31'
GROUP BY 1
