-- Sessions of one day: distinct (user, session) pairs.
SELECT count(*) AS sessions
FROM (SELECT DISTINCT user_id, session_id FROM views WHERE dt = DATE '2024-01-15') AS s
