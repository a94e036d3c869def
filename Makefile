# Aisle: the two set-up commands of the README, and helpers.
#   make demo   install deps, build, generate the teaching sample (build/sample), run the training
#               sequence (scripts/train_sample.sh: each layer validated against its baseline),
#               answer sample queries in en/es/ja, evaluate the default pipeline on held-out queries
#   make test   install deps, build, run every test (ctest)
#   make fuzz   libFuzzer targets (readers, HTTP requests, index files), FUZZ_SECONDS each (default 30)
#   make bench  benchmarks and evaluations on ../shared/data (Home Depot): io micro-benchmarks,
#               ingest, lexical index at 1M products vs Xapian, relevance (lexical, vector,
#               hybrid) vs Xapian, vector index at 1M vectors
BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 30
DEMO_DIR ?= demo-data
AISLE = $(BUILD)/apps/aisle/aisle
SAMPLE = $(BUILD)/sample
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
	bash scripts/train_sample.sh $(AISLE) $(DEMO_DIR) $(SAMPLE)
	$(AISLE) search "waterproof jacket" --data-dir $(DEMO_DIR) --locale en -k 5 --explain
	$(AISLE) search "black running shoes" --data-dir $(DEMO_DIR) --locale en -k 5
	$(AISLE) search "runing shoos" --data-dir $(DEMO_DIR) --locale en -k 3 --facets
	$(AISLE) search "stridex running shoes" --data-dir $(DEMO_DIR) --locale en -k 3 --strategy structured
	$(AISLE) search "tent" --data-dir $(DEMO_DIR) --locale en
	$(AISLE) search "zapatillas para correr negro" --data-dir $(DEMO_DIR) --locale es -k 5
	$(AISLE) search "cafetera kaffeo" --data-dir $(DEMO_DIR) --locale es -k 5
	$(AISLE) search "ワイヤレスイヤホン" --data-dir $(DEMO_DIR) --locale ja -k 5
	$(AISLE) search "テント" --data-dir $(DEMO_DIR) --locale ja
	$(AISLE) classify --data-dir $(DEMO_DIR) --query "running shoes" --product EN0001
	$(AISLE) related EN0001 --data-dir $(DEMO_DIR) -k 5
	awk -F, 'NR == 1 || $$7 ~ /^test/' $(SAMPLE)/judgments.csv > $(DEMO_DIR)/test-judgments.csv
	$(AISLE) eval pipeline --data-dir $(DEMO_DIR) --test $(DEMO_DIR)/test-judgments.csv --out $(DEMO_DIR)/eval-pipeline.json

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
