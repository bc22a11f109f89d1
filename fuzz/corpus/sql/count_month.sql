-- Events in a month.
SELECT count(*) AS events
FROM views
WHERE dt BETWEEN DATE '2024-01-01' AND DATE '2024-01-31'
