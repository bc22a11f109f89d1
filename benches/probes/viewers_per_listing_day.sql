-- Unique viewers per listing on one day.
SELECT listing_id, count(DISTINCT user_id) AS viewers
FROM views
WHERE dt = DATE '2024-01-10'
GROUP BY listing_id
