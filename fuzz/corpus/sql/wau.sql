-- Weekly active users, four weeks.
SELECT CAST(date_trunc('week', dt) AS DATE) AS week, count(DISTINCT user_id) AS wau
FROM views
WHERE dt BETWEEN DATE '2024-01-08' AND DATE '2024-02-04'
GROUP BY 1
