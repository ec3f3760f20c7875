troupe_e2e(saga saga_e2e.py)
troupe_e2e(cluster cluster_e2e.py)
