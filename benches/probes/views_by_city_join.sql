-- Views and their total price per city, regions mapped by an inline table (a join with a dimension).
SELECT c.city, count(*) AS views, sum(v.price) AS total
FROM views v
JOIN (VALUES ('서울 강남구', 'Seoul'), ('서울 서초구', 'Seoul'), ('서울 송파구', 'Seoul'),
             ('부산 중구', 'Busan'), ('부산 서구', 'Busan'), ('인천 중구', 'Incheon')) AS c(region, city)
  ON v.region = c.region
WHERE v.dt BETWEEN DATE '2024-01-01' AND DATE '2024-01-07'
GROUP BY c.city
