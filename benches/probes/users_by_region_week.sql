-- Distinct viewers per region over a week (count(DISTINCT) per group, a text filter).
SELECT region, count(DISTINCT user_id) AS users
FROM views
WHERE dt BETWEEN DATE '2024-01-15' AND DATE '2024-01-21' AND event_type = 'view'
GROUP BY region
