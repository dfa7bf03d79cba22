# The two set-up commands of the README. Each installs what is missing,
# configures and builds.
BUILD ?= build
JOBS ?= 2

.PHONY: all deps build demo test clean

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# Trains the default 784-256-128-10 network on Fashion-MNIST, saves it and
# evaluates the saved file on the 10,000 test images.
demo: build
	$(BUILD)/fastnn train --out $(BUILD)/demo-model.safetensors
	$(BUILD)/fastnn eval --model $(BUILD)/demo-model.safetensors \
		--data /usr/share/datasets/fashion-mnist

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

clean:
	rm -rf $(BUILD)
