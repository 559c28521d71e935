# Entry points: `make run` (the whole suite in one process), `make test` (every test),
# `make bench` (benchmarks). CMake does the building.
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
MAKEFLAGS += --no-print-directory

.PHONY: all build run test test-tsan bench deps clean fuzz deploy-test

all: build

deps:
	@scripts/deps run

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNP_TESTS=OFF >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

run: build
	@exec ./$(BUILD)/services/naipool all

test:
	@scripts/deps test
	@scripts/test

# The ThreadSanitizer build (build-tsan) under the unit, service and e2e tests; a race fails it.
test-tsan:
	@scripts/deps test
	@NP_TSAN=1 scripts/test

# The image, the compose stack on podman and its faults (scripts/deploy-test; CI runs it last).
deploy-test:
	@scripts/deploy-test

bench: build
	@scripts/deps bench
	@bench/run

# `make fuzz`: every libFuzzer target (clang, -fsanitize=fuzzer,address,undefined) for
# FUZZ_SECONDS each, from the seed corpora in tests/fuzz/corpus (scripts/fuzz).
FUZZ_SECONDS ?= 180
FUZZ_BUILD ?= build-fuzz
fuzz:
	@cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DNP_FUZZ=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) -j$(JOBS) --target fuzz_targets
	@scripts/fuzz $(FUZZ_BUILD) $(FUZZ_SECONDS)

clean:
	rm -rf build build-asan build-tsan build-fuzz

# Runs one e2e case in a loop with the machine kept busy (default: the audit kill case, 50
# runs): `make soak SOAK_RUNS=100`; see scripts/soak for choosing another case.
SOAK_RUNS ?= 50
.PHONY: soak
soak:
	@scripts/deps test
	@scripts/soak $(SOAK_RUNS)
