-- Distinct (user, listing) pairs of one day (distinct over two integer columns).
SELECT count(*) AS pairs
FROM (SELECT DISTINCT user_id, listing_id FROM views WHERE dt = DATE '2024-01-10') AS p
