-- Views and the highest price per hour of one day (date_trunc key, max).
SELECT date_trunc('hour', event_time) AS hour, count(*) AS views, max(price) AS top_price
FROM views
WHERE dt = DATE '2024-01-20'
GROUP BY 1
