// Deliberate defects, for the simulator only: `troupe-sim --mutant=NAME`
// switches one on to show that its invariants catch it. They exist only in
// code compiled with TROUPE_MUTANTS (apps/troupe-sim builds its own copy of
// the sources it runs); everywhere else `TROUPE_MUTANT(x)` is `false` and
// the compiler drops the branch.
#pragma once

#ifdef TROUPE_MUTANTS

#include <string>

namespace troupe::mutants {

/// The defect switched on; empty: none. Defined by troupe-sim.
extern std::string active;

} // namespace troupe::mutants

#define TROUPE_MUTANT(name) (::troupe::mutants::active == (name))

#else

#define TROUPE_MUTANT(name) false

#endif
