-- Views per listing per day, for the four weeks of 2024-01-08 .. 2024-02-04.
SELECT listing_id, dt, count(*) AS views
FROM views
WHERE dt BETWEEN DATE '2024-01-08' AND DATE '2024-02-04' AND event_type = 'view'
GROUP BY listing_id, dt
