-- Users active in week w and again in week w + 1.
WITH weekly AS (
  SELECT DISTINCT CAST(date_trunc('week', dt) AS DATE) AS week, user_id
  FROM views
  WHERE dt BETWEEN DATE '2024-01-08' AND DATE '2024-02-04'
)
SELECT a.week, count(*) AS returning_users
FROM weekly a JOIN weekly b ON b.user_id = a.user_id AND b.week = a.week + INTERVAL '7' DAY
GROUP BY a.week
