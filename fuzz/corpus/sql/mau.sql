-- Monthly active users.
SELECT CAST(date_trunc('month', dt) AS DATE) AS month, count(DISTINCT user_id) AS mau
FROM views
GROUP BY 1
