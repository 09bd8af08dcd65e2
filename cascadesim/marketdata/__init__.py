"""Today's market in: scenario files from venue APIs (ccxt), the exchanges' public data files,
and an exchange's own book of positions."""
