# Aisle: the two set-up commands of the README, and helpers.
#   make demo   install deps, build, ingest the bundled sample, answer sample queries
#   make test   install deps, build, run every test (ctest)
#   make fuzz   libFuzzer targets for every reader, FUZZ_SECONDS each (default 30)
#   make bench  benchmarks and evaluations on ../shared/data (Home Depot): io micro-benchmarks,
#               ingest, lexical index at 1M products vs Xapian, relevance (lexical, vector,
#               hybrid) vs Xapian, vector index at 1M vectors
BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 30
DEMO_DIR ?= demo-data
AISLE = $(BUILD)/apps/aisle/aisle
HOMEDEPOT_DIR ?= ../shared/data/relevance/homedepot
HOMEDEPOT ?= $(HOMEDEPOT_DIR)/train.csv

.PHONY: deps build test demo fuzz bench clean

deps:
	bash scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

demo: build
	rm -rf $(DEMO_DIR)
	$(AISLE) ingest --data-dir $(DEMO_DIR) --catalog data/sample/catalog.jsonl \
	    --judgments data/sample/judgments.csv --events data/sample/events.jsonl
	$(AISLE) stats --data-dir $(DEMO_DIR)
	$(AISLE) index --data-dir $(DEMO_DIR)
	$(AISLE) search "black running shoes" --data-dir $(DEMO_DIR) --locale en -k 5 --explain
	$(AISLE) search "green stridex shoes" --data-dir $(DEMO_DIR) --locale en -k 3 --strategy structured
	$(AISLE) search "runing shoes" --data-dir $(DEMO_DIR) --locale en -k 3 --facets
	$(AISLE) search "cafetera kaffeo" --data-dir $(DEMO_DIR) --locale es -k 5
	$(AISLE) search "ワイヤレスイヤホン" --data-dir $(DEMO_DIR) --locale ja -k 5
	$(AISLE) train encoder --data-dir $(DEMO_DIR) --epochs 20
	$(AISLE) index --data-dir $(DEMO_DIR)
	$(AISLE) search "mat for yoga" --data-dir $(DEMO_DIR) --locale en -k 5 --strategy vector
	$(AISLE) search "waterproof jacket" --data-dir $(DEMO_DIR) --locale en -k 5
	$(AISLE) train classifier --data-dir $(DEMO_DIR) --epochs 4 --buckets 32768
	$(AISLE) classify --data-dir $(DEMO_DIR) --query "running shoes" --product EN0001
	$(AISLE) train related --data-dir $(DEMO_DIR) --edges data/sample/related.csv --epochs 20 --batch-size 128
	$(AISLE) related EN0001 --data-dir $(DEMO_DIR) -k 5
	$(AISLE) train ranker --data-dir $(DEMO_DIR) --rounds 50
	$(AISLE) search "black running shoes" --data-dir $(DEMO_DIR) --locale en -k 3 --explain

fuzz: deps
	bash scripts/fuzz.sh $(FUZZ_SECONDS)

bench: build
	$(BUILD)/bench/io_bench --benchmark_min_time=0.5
	$(AISLE) bench ingest --file $(HOMEDEPOT) --kind judgments --repeat 3 --out $(BUILD)/bench-ingest-homedepot.json
	$(AISLE) eval relevance --train $(HOMEDEPOT) --test $(HOMEDEPOT_DIR)/dev.csv --out $(BUILD)/eval-relevance-homedepot.json
	$(AISLE) bench lexical --source-dir $(HOMEDEPOT_DIR) --out $(BUILD)/bench-lexical.json
	$(AISLE) bench vector --source-dir $(HOMEDEPOT_DIR) --out $(BUILD)/bench-vector.json

clean:
	rm -rf $(BUILD) build-fuzz $(DEMO_DIR)
