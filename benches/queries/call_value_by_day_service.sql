-- The asking price behind calls, per day and service, for a month.
SELECT dt, service,
       sum(CASE WHEN event_type = 'call' THEN price ELSE 0 END) AS called_value,
       max(CASE WHEN event_type = 'call' THEN price END) AS top_called_price
FROM views
WHERE dt BETWEEN DATE '2024-01-01' AND DATE '2024-01-31'
GROUP BY dt, service
