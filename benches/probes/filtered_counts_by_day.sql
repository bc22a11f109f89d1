-- Calls, favourites and all events per day over two weeks (count(*) FILTER).
SELECT dt, count(*) FILTER (WHERE event_type = 'call') AS calls,
       count(*) FILTER (WHERE event_type = 'favorite') AS favorites,
       count(*) AS events
FROM views
WHERE dt BETWEEN DATE '2024-01-01' AND DATE '2024-01-14'
GROUP BY dt
