# Integration suites: a real PostgreSQL (ctest fixture) and a Kafka-protocol
# broker over TCP.
foreach(suite migrations connection outbox_relay redelivery fencing retention
        contract_postgres group_commit)
  troupe_suite(${suite} integration)
endforeach()
