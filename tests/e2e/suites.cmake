troupe_e2e(saga saga_e2e.py)
