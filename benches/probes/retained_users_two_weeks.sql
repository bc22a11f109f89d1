-- Users active in the first week of January who came back in the second (a join of two distinct sets).
SELECT count(*) AS retained
FROM (SELECT DISTINCT user_id FROM views WHERE dt BETWEEN DATE '2024-01-01' AND DATE '2024-01-07') a
JOIN (SELECT DISTINCT user_id FROM views WHERE dt BETWEEN DATE '2024-01-08' AND DATE '2024-01-14') b
  ON a.user_id = b.user_id
