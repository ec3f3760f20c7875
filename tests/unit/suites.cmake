# Deterministic suites (test coordinator, simulated time, in-memory store).
foreach(suite orchestrator saga_router services rules offset_tracker backoff
        supervisor delivery utf8 codec order_request pg_errors secrets metrics
        vocabulary readiness consumer_core relay_core node_config sim_kafka
        memory_store contract_memory intake tracing group_commit_core)
  troupe_suite(${suite} unit)
endforeach()
