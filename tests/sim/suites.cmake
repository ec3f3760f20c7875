# The whole-saga simulation (apps/troupe-sim): a fixed range of seeds must
# keep every invariant, and every deliberate defect must be caught (exit 1,
# an invariant violation, within the range; a crash does not count).
add_test(NAME sim.seeds COMMAND troupe-sim --seeds=1..1000)
set_tests_properties(sim.seeds PROPERTIES LABELS sim TIMEOUT 600)
# Seeds whose store outage outlasted its start by seconds: the liveness bound
# runs from when the outage's last refused write happened.
add_test(NAME sim.liveness_regressions
  COMMAND sh -c "\"$0\" --seeds=7301..7301 && \"$0\" --seeds=9011..9011"
          $<TARGET_FILE:troupe-sim>)
set_tests_properties(sim.liveness_regressions PROPERTIES LABELS sim)
foreach(mutant commit-before-write skip-dedup release-twice
        confirm-without-inventory skip-fence drop-cancel-event)
  add_test(NAME sim.mutant.${mutant}
    COMMAND sh -c "\"$0\" --mutant=${mutant} --seeds=1..2000 --stop-on-failure; test $? -eq 1"
            $<TARGET_FILE:troupe-sim>)
  set_tests_properties(sim.mutant.${mutant} PROPERTIES LABELS sim TIMEOUT 600)
endforeach()
# Every defect troupe-sim knows is in the list above.
add_test(NAME sim.mutant_list
  COMMAND sh -c "test \"$(\"$0\" --list-mutants | tr '\\n' ' ')\" = 'commit-before-write skip-dedup release-twice confirm-without-inventory skip-fence drop-cancel-event '"
          $<TARGET_FILE:troupe-sim>)
set_tests_properties(sim.mutant_list PROPERTIES LABELS sim)
# Worker processes change nothing but the time: the report of a range with
# failures (each failure, the first one's trace) is the same from one
# process and from several, line for line but the timing.
add_test(NAME sim.jobs_same_report
  COMMAND sh -c "a=$(\"$0\" --mutant=release-twice --seeds=1..60 --jobs=1 | sed '$d'); b=$(\"$0\" --mutant=release-twice --seeds=1..60 --jobs=3 | sed '$d'); test -n \"$a\" && test \"$a\" = \"$b\""
          $<TARGET_FILE:troupe-sim>)
set_tests_properties(sim.jobs_same_report PROPERTIES LABELS sim TIMEOUT 300)
