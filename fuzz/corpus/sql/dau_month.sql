-- Daily active users over a month.
SELECT dt, count(DISTINCT user_id) AS dau
FROM views
WHERE dt BETWEEN DATE '2024-01-01' AND DATE '2024-01-31'
GROUP BY dt
