-- Views of a week by a five-row inline dimension's label.
SELECT d.segment, count(*) AS views, count(DISTINCT v.user_id) AS users
FROM views v
JOIN (VALUES ('oneroom', 'rent'), ('officetel', 'rent'), ('villa', 'rent'),
             ('apt', 'sale'), ('store', 'commercial')) AS d(service, segment)
  ON v.service = d.service
WHERE v.dt BETWEEN DATE '2024-01-08' AND DATE '2024-01-14' AND v.event_type = 'view'
GROUP BY d.segment
