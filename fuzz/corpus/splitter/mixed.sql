select 1; select 'a;b' -- c;
/* x; */ select "q;";
show tables in web; describe x.y;