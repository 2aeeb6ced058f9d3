"""On-post attendance: did each rostered worker really work their shift in their grid?

`engine.judge_shift` is the pure core (numpy arrays of fixes, a shapely polygon,
a shift in UTC -> minutes on post, coverage, verdict, flags); `store` and `job`
are the database edges: load a shift's fixes, save its result, recompute the
shifts that new heartbeats touched.
"""
