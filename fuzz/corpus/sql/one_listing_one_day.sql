-- Views of one listing on one day (1000000 is the demo lake's most viewed listing).
SELECT count(*) AS views
FROM views
WHERE listing_id = 1000000 AND dt = DATE '2024-01-15' AND event_type = 'view'
