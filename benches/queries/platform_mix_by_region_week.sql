-- Each region's platform mix over a week, with FILTER.
SELECT region,
       count(*) FILTER (WHERE platform = 'ios') AS ios,
       count(*) FILTER (WHERE platform = 'android') AS android,
       count(*) FILTER (WHERE platform = 'web') AS web,
       count(*) AS events
FROM views
WHERE dt BETWEEN DATE '2024-01-08' AND DATE '2024-01-14'
GROUP BY region
