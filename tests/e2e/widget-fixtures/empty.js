// intentionally empty: loaded with ?delay= to hold the HTML parser
