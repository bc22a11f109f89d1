-- Weekly views by region over four weeks.
SELECT CAST(date_trunc('week', dt) AS DATE) AS week, region, count(*) AS views
FROM views
WHERE dt BETWEEN DATE '2024-01-08' AND DATE '2024-02-04' AND event_type = 'view'
GROUP BY 1, 2
