# Entry points: `make run` (the whole suite in one process), `make test` (every test),
# `make bench` (benchmarks). CMake does the building.
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
MAKEFLAGS += --no-print-directory

.PHONY: all build run test bench deps clean deploy-test

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

# The image, the compose stack on podman and its faults (scripts/deploy-test; not all done yet).
deploy-test:
	@scripts/deploy-test

bench: build
	@scripts/deps bench
	@bench/run

clean:
	rm -rf build build-asan
