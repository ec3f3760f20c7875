# Writes the commit the sources are at (`git describe --always --dirty`, or
# "unknown" outside a git checkout) as TROUPE_COMMIT into a header. Invoked
# at every build: cmake -DSRC_DIR=... -DOUT=... -P BuildCommit.cmake
# The header is only rewritten when the commit changed, so an unchanged
# commit recompiles nothing.
execute_process(
  COMMAND git -C "${SRC_DIR}" describe --always --dirty --abbrev=12
  OUTPUT_VARIABLE commit
  OUTPUT_STRIP_TRAILING_WHITESPACE
  ERROR_QUIET
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR commit STREQUAL "")
  set(commit "unknown")
endif()
set(text "// Generated at build time; do not edit.\n#define TROUPE_COMMIT \"${commit}\"\n")
set(old "")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUT}" "${text}")
endif()
