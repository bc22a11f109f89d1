-- Views per listing per ISO week, four weeks.
SELECT listing_id, CAST(date_trunc('week', dt) AS DATE) AS week, count(*) AS views
FROM views
WHERE dt BETWEEN DATE '2024-01-08' AND DATE '2024-02-04' AND event_type = 'view'
GROUP BY 1, 2
