-- Calls and their mean price by hour of day over two weeks (extract, avg, a text filter).
SELECT extract(hour FROM event_time) AS hour_of_day, count(*) AS calls, avg(price) AS mean_price
FROM views
WHERE dt BETWEEN DATE '2024-01-01' AND DATE '2024-01-14' AND event_type = 'call'
GROUP BY 1
