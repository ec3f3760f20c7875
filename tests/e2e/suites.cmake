troupe_e2e(saga saga_e2e.py)
troupe_e2e(cancel cancel_e2e.py)
troupe_e2e(cancel_cluster cancel_cluster_e2e.py)
troupe_e2e(tracing tracing_e2e.py)
troupe_e2e(lines lines_e2e.py)
troupe_e2e(intake intake_e2e.py)
troupe_e2e(admission admission_e2e.py)
troupe_e2e(cluster cluster_e2e.py)
troupe_e2e(rolling rolling_e2e.py)
troupe_e2e(pg_outage pg_outage_e2e.py)
troupe_e2e(kafka_outage kafka_outage_e2e.py)
troupe_e2e(poison poison_e2e.py)
troupe_e2e(metrics metrics_e2e.py)
troupe_e2e(ui ui_e2e.py)
# Configuration checks need no database or broker.
add_test(NAME e2e.config COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/e2e/config_e2e.py)
set_tests_properties(e2e.config PROPERTIES LABELS e2e TIMEOUT 300
  ENVIRONMENT "TROUPE_SOURCE_DIR=${PROJECT_SOURCE_DIR};TROUPE_BUILD_DIR=${CMAKE_BINARY_DIR}")
troupe_e2e(claim_outage claim_outage_e2e.py)
troupe_e2e(kafka_start kafka_start_e2e.py)
troupe_e2e(hostile hostile_e2e.py)
troupe_e2e(security security_e2e.py)
# One command-line dialect and exit-code policy in the three programs; needs
# no database (the broker it starts is local).
add_test(NAME e2e.cli COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/e2e/cli_e2e.py)
set_tests_properties(e2e.cli PROPERTIES LABELS e2e TIMEOUT 300
  ENVIRONMENT "TROUPE_SOURCE_DIR=${PROJECT_SOURCE_DIR};TROUPE_BUILD_DIR=${CMAKE_BINARY_DIR}")
# The in-memory event bus (engine.mode = memory): no database, no broker.
add_test(NAME e2e.memory COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/e2e/memory_e2e.py)
set_tests_properties(e2e.memory PROPERTIES LABELS e2e TIMEOUT 300
  ENVIRONMENT "TROUPE_SOURCE_DIR=${PROJECT_SOURCE_DIR};TROUPE_BUILD_DIR=${CMAKE_BINARY_DIR}")
