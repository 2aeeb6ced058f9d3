"""Rosters (who holds which grid, when, with which handset) and the working calendar.

`rosterfile` and `calendarfile` read and check the CSV files (pure);
`store` writes them and reads them back; `shifts` turns roster entries into
concrete shifts with UTC bounds for any day, which the attendance engine uses.
"""
