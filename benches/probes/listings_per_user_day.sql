-- Distinct listings each user viewed on one day (count(DISTINCT) per integer id).
SELECT user_id, count(DISTINCT listing_id) AS listings
FROM views
WHERE dt = DATE '2024-01-10' AND event_type = 'view'
GROUP BY user_id
