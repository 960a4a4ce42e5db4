# spotguard — thin wrappers; every target bootstraps what it needs.
#   make demo    the whole system on one machine; DEMO_ARGS="--keep" leaves it running
#   make test    deps + build (incl. the control-plane binaries) + unit and e2e tests
#   make bench   benchmarks (not part of make test)
BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
CTEST_ARGS ?=
DEMO_ARGS ?=

.PHONY: all deps tools configure build test unit e2e bench demo clean

all: build

deps:
	@scripts/deps.sh

tools: deps
	@scripts/build-tools.sh

configure: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

test: tools build
	ctest --test-dir $(BUILD) -L 'unit|e2e' --output-on-failure -j $(JOBS) $(CTEST_ARGS)

unit: build
	ctest --test-dir $(BUILD) -L unit --output-on-failure -j $(JOBS) $(CTEST_ARGS)

e2e: tools build
	ctest --test-dir $(BUILD) -L e2e --output-on-failure $(CTEST_ARGS)

bench: tools build
	$(BUILD)/bin/spotguard-bench-extender-handlers --benchmark_out=bench/results/extender_handlers.json --benchmark_out_format=json
	$(BUILD)/bin/spotguard-bench-extender-http --sizes=100,500,5000 --concurrency=1,8 --out=bench/results/extender_http.json
	$(BUILD)/bin/spotguard-bench-scheduler --nodes=1000,5000 --pods=2000 --out=bench/results/scheduler_throughput.json
	$(BUILD)/bin/spotguard-bench-agent --notices=50 --intervals=1s,250ms --idle=20s --out=bench/results/agent_cordon.json
	$(BUILD)/bin/spotguard-bench-storm --nodes=5000 --executors=50 --fanout_runs=5 --extender_flags=--kube_qps=0 --out=bench/results/eviction_storm.json
	$(BUILD)/bin/spotguard-bench-soak --nodes=100 --duration=10m --notices=1000 --out=bench/results/notice_soak.json
	$(BUILD)/bin/spotguard-bench-spark --runs=3 --out=bench/results/spark_outcome.json
	$(BUILD)/bin/spotguard-bench-placement --nodes=1000 --runs=5 --sweep_half_life=6h,48h,168h,720h --sweep_horizon=1h,24h,168h,720h --sweep_prior_hours=100,10000 --out=bench/results/placement_sim.json

demo: tools build
	@$(BUILD)/bin/spotguard-demo $(DEMO_ARGS)

clean:
	rm -rf $(BUILD)
