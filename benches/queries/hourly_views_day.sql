-- Views and viewers per hour of one day.
SELECT date_trunc('hour', event_time) AS hour, count(*) AS views, count(DISTINCT user_id) AS users
FROM views
WHERE dt = DATE '2024-01-15' AND event_type = 'view'
GROUP BY 1
