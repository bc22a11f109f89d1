-- Per service over a month: value of calls, cheapest favourite, web events (CASE with ELSE NULL, min of a CASE, CASE 1/0).
SELECT service,
       sum(CASE WHEN event_type = 'call' THEN price END) AS called_value,
       min(CASE WHEN event_type = 'favorite' THEN price END) AS cheapest_favorite,
       sum(CASE WHEN platform = 'web' THEN 1 ELSE 0 END) AS web_events
FROM views
WHERE dt BETWEEN DATE '2024-01-01' AND DATE '2024-01-31'
GROUP BY service
