-- Users who called, and all users, per platform for a week.
SELECT platform,
       count(DISTINCT CASE WHEN event_type = 'call' THEN user_id END) AS callers,
       count(DISTINCT user_id) AS users
FROM views
WHERE dt BETWEEN DATE '2024-01-08' AND DATE '2024-01-14'
GROUP BY platform
