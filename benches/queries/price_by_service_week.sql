-- Listing prices seen per service over a week: sum, extremes and the rounded mean.
SELECT service, sum(price) AS total, min(price) AS lowest, max(price) AS highest,
       CAST(round(avg(price)) AS BIGINT) AS mean, count(price) AS priced
FROM views
WHERE dt BETWEEN DATE '2024-01-08' AND DATE '2024-01-14'
GROUP BY service
