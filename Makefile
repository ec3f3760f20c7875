# Troupe: `make run` starts a local engine, `make test` runs every suite.
BUILD_TYPE ?= Release
JOBS ?= 2
N ?= 3
BUILD_DIR ?= build

.PHONY: build deps run cluster test bench clean

build: deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) >/dev/null
	@cmake --build $(BUILD_DIR) -j$(JOBS)

deps:
	@scripts/deps.sh

run: build
	@scripts/run.sh

cluster: build
	@scripts/cluster.sh $(N)

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure --timeout 900

bench: build
	@bench/bench.sh

clean:
	rm -rf $(BUILD_DIR) var bench/out
