-- Views by region and service for a month.
SELECT region, service, count(*) AS views
FROM views
WHERE dt BETWEEN DATE '2024-01-01' AND DATE '2024-01-31' AND event_type = 'view'
GROUP BY 1, 2
