-- A daily funnel by platform for a week, written with CASE as analysts do.
SELECT dt, platform,
       sum(CASE WHEN event_type = 'view' THEN 1 ELSE 0 END) AS views,
       sum(CASE WHEN event_type = 'click' THEN 1 ELSE 0 END) AS clicks,
       sum(CASE WHEN event_type = 'favorite' THEN 1 ELSE 0 END) AS favorites,
       sum(CASE WHEN event_type = 'call' THEN 1 ELSE 0 END) AS calls
FROM views
WHERE dt BETWEEN DATE '2024-01-08' AND DATE '2024-01-14'
GROUP BY dt, platform
