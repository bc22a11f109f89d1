-- The day's most viewed listings.
SELECT listing_id, count(*) AS views
FROM views
WHERE dt = DATE '2024-01-15' AND event_type = 'view'
GROUP BY listing_id
ORDER BY views DESC, listing_id
LIMIT 20
