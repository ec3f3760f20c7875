troupe_e2e(saga saga_e2e.py)
troupe_e2e(cluster cluster_e2e.py)
troupe_e2e(rolling rolling_e2e.py)
troupe_e2e(pg_outage pg_outage_e2e.py)
