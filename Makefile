# marquee: a thin front for CMake. `make run` and `make test` are the two commands
# the README promises; they install missing Debian packages first.
BUILD ?= build
ASAN_BUILD ?= build-asan
DATA ?= marquee-data
GEN := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")

.PHONY: all deps deps-ui build run test test-asan bench docs clean format fuzz

all: build

deps:
	@scripts/deps.sh

# The web UI's browser tests (tests/ui): chromium, node and playwright-core.
deps-ui:
	@scripts/deps_ui.sh

build: deps
	@cmake -S . -B $(BUILD) $(GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD)

PORT ?= 8080

# Prepares the demo world and trains the models on first use, shows what the
# store holds, and serves the API on localhost until interrupted.
run: build
	@if [ ! -f $(DATA)/marquee.db ]; then \
	  echo "run: generating the demo world into $(DATA) (about 2 million events)"; \
	  ./$(BUILD)/marquee --data $(DATA) synth || exit 1; \
	fi
	@./$(BUILD)/marquee --data $(DATA) stats
	@if [ ! -f $(DATA)/bundle.mqb ]; then \
	  echo "run: training the models"; \
	  ./$(BUILD)/marquee --data $(DATA) train || exit 1; \
	fi
	@echo "run: serving on http://127.0.0.1:$(PORT) (Ctrl-C stops)"
	@exec ./$(BUILD)/marquee --data $(DATA) serve --port $(PORT)

# The PostgreSQL store and multi-node tests get a throwaway server for the run
# (scripts/pg_test_server.sh: a temporary directory, loopback only, stopped on
# exit); with MQ_TEST_POSTGRES already set, that server is used instead.
test: build deps-ui
	@cd $(BUILD) && $(CURDIR)/scripts/pg_test_server.sh run ctest --output-on-failure

# The unit tests under AddressSanitizer + UndefinedBehaviorSanitizer, and the
# server's own tests and the browser tests against a sanitized `marquee serve`
# (a sanitizer report aborts the server, which fails them).
test-asan: deps deps-ui
	@cmake -S . -B $(ASAN_BUILD) $(GEN) -DCMAKE_BUILD_TYPE=Debug -DMQ_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD)
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 $(CURDIR)/scripts/pg_test_server.sh run \
	  ctest --output-on-failure -L unit
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -R '^test_(server|ui)$$'

bench: build
	@scripts/bench.sh $(BUILD)
	@scripts/bench_ingest.sh $(BUILD)
	@scripts/bench_postgres.sh $(BUILD)
	@scripts/bench_models.sh $(BUILD)
	@scripts/bench_rank.sh $(BUILD)
	@scripts/bench_page.sh $(BUILD)

# Regenerates the docs that are printed by the binary itself.
docs: build
	@./$(BUILD)/marquee config --markdown > docs/configuration.md

format:
	@clang-format -i src/*/*.c src/*/*.h src/*.c tests/*.c tests/*.h bench/*.c

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)

# libFuzzer over every parser of outside input (scripts/fuzz.sh; 60 s per target).
fuzz: deps
	@scripts/fuzz.sh 60
