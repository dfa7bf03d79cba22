# The two set-up commands of the README. Each installs what is missing,
# configures and builds.
BUILD ?= build
JOBS ?= 2
# cmake --build runs make inside make; its directory lines are noise here.
MAKEFLAGS += --no-print-directory

.PHONY: all deps build demo test bench fuzz clean

all: build

deps:
	@bash scripts/install-deps.sh
	@bash scripts/install-python-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# Diagnoses the default 784-256-128-10 network on Fashion-MNIST, trains it,
# saves it, evaluates the saved file on the 10,000 test images and draws its
# loss and accuracy curves.
demo: build
	$(BUILD)/fastnn diagnose
	$(BUILD)/fastnn train --out $(BUILD)/demo-model.safetensors \
		--log $(BUILD)/demo-log.jsonl
	$(BUILD)/fastnn eval --model $(BUILD)/demo-model.safetensors \
		--data /usr/share/datasets/fashion-mnist
	$(BUILD)/fastnn plot $(BUILD)/demo-log.jsonl -o $(BUILD)/demo-curves.png

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

# Benchmarks fastnn against PyTorch and scikit-learn on this machine (minutes;
# installs the peers when missing). Not part of `make test`.
BENCH_FLAGS = -O2 -Wall -Wextra -std=c17 -D_POSIX_C_SOURCE=200809L
bench: build
	@mkdir -p $(BUILD)/bench
	cc $(BENCH_FLAGS) -Iinclude bench/fnn_bench.c $(BUILD)/libfastnn.a \
		$$(pkg-config --libs openblas libcjson zlib) -lm -o $(BUILD)/bench/fnn_bench
	cc -O3 -Wall $$(grep -q avx512f /proc/cpuinfo && echo -mavx512f) -mavx2 \
		-mfma bench/fma_peak.c -o $(BUILD)/bench/fma_peak
	cc $(BENCH_FLAGS) -Isrc bench/sgemm_shapes.c $(BUILD)/libfastnn.a \
		$$(pkg-config --libs openblas) -lm -o $(BUILD)/bench/sgemm_shapes
	/usr/bin/python3 bench/run.py $(BUILD)/bench | tee $(BUILD)/bench/results.md
	@if [ -f bench/gradcheck_bench.sh ]; then bash bench/gradcheck_bench.sh; fi

# Builds the libFuzzer targets in fuzz/ with clang and runs each for FUZZ_TIME
# seconds. Crashing inputs land in fuzz/regressions/<target>/, which
# `make test` replays.
FUZZ_BUILD ?= build-fuzz
FUZZ_TIME ?= 60
fuzz: deps
	@cmake -S fuzz -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS)
	bash fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_TIME)

clean:
	rm -rf $(BUILD)
