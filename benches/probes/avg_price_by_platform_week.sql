-- Mean asking price and events per platform over a week (avg).
SELECT platform, avg(price) AS mean_price, count(*) AS events
FROM views
WHERE dt BETWEEN DATE '2024-01-08' AND DATE '2024-01-14'
GROUP BY platform
