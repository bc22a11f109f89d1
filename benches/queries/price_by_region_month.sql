-- Price range of what was viewed in each region over a month.
SELECT region, min(price) AS lowest, max(price) AS highest, sum(price) AS total, count(price) AS priced
FROM views
WHERE dt BETWEEN DATE '2024-01-01' AND DATE '2024-01-31' AND event_type = 'view'
GROUP BY region
