# Troupe: `make run` starts a local engine, `make test` runs every suite.
BUILD_TYPE ?= Release
JOBS ?= 2
N ?= 3
BUILD_DIR ?= build

FUZZ_TIME ?= 60
FUZZ_DIR ?= build-fuzz

.PHONY: build deps run run-memory cluster test test-unit asan format bench clean fuzz

build: deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD_DIR) -j$(JOBS)

deps:
	@scripts/deps.sh

run: build
	@scripts/run.sh

# One node on the in-memory event bus: no Kafka, no PostgreSQL, state lost at
# exit (config/memory.ini).
run-memory: build
	@scripts/run-memory.sh

cluster: build
	@scripts/cluster.sh $(N)

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure --timeout 900

# The deterministic suites only: no database, broker or node processes.
test-unit: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -L unit

# Unit and integration suites built with AddressSanitizer and UBSan.
asan:
	@$(MAKE) --no-print-directory build BUILD_DIR=build-asan BUILD_TYPE=Debug \
	  CMAKE_FLAGS=-DTROUPE_SANITIZE=ON
	@cd build-asan && ctest --output-on-failure --timeout 900 -L 'unit|integration|fixture'

# Formats every C++ source with the project's .clang-format.
format:
	@git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

# libFuzzer targets (clang, ASan+UBSan) in $(FUZZ_DIR), FUZZ_TIME s each.
fuzz: deps
	@fuzz/run.sh build $(FUZZ_DIR)
	@fuzz/run.sh fuzz $(FUZZ_DIR) envelope $(FUZZ_TIME)
	@fuzz/run.sh fuzz $(FUZZ_DIR) order_request $(FUZZ_TIME)

bench: build
	@bench/bench.sh

clean:
	rm -rf $(BUILD_DIR) build-asan $(FUZZ_DIR) var bench/out
