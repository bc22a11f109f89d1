-- Views per listing per month (January).
SELECT listing_id, CAST(date_trunc('month', dt) AS DATE) AS month, count(*) AS views
FROM views
WHERE dt BETWEEN DATE '2024-01-01' AND DATE '2024-01-31' AND event_type = 'view'
GROUP BY 1, 2
