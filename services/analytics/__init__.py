"""Analytics: program figures computed continuously from the event streams."""
