# The README's two commands: `make run` and `make test`. Everything else is set up on demand.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JARS   := broker/lib/.pom-fingerprint
# Apache Avro's Java library, for the test that decodes our values with a decoder not ours.
AVRO_JAVA := tools/avro-java/lib/.pom-fingerprint
# The AsyncAPI JSON schemas (npm registry), to validate docs/asyncapi.yaml.
ASYNCAPI  := tools/asyncapi/node_modules/@asyncapi/specs/package.json

.PHONY: run test lint typecheck unit unit-tz not-utc mutation fuzz deps test-tools broker topics clean bench bench-quick

# A fresh virtualenv with the pinned dependencies, rebuilt when the pins change.
$(STAMP): requirements.lock pyproject.toml
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

# Apache Kafka's jars from Maven Central (cached in ~/.m2; re-copied only when the pom changes).
$(JARS): broker/pom.xml $(STAMP)
	$(BIN)/python -c "from catalog_stream.java_libs import ensure_jars; ensure_jars()"

$(AVRO_JAVA): tools/avro-java/pom.xml $(STAMP)
	$(BIN)/python -c "from pathlib import Path; from catalog_stream.java_libs import ensure_jars; \
	ensure_jars(Path('tools/avro-java/lib'), Path('tools/avro-java/pom.xml'))"

$(ASYNCAPI): tools/asyncapi/package.json
	cd tools/asyncapi && npm install --no-audit --no-fund --no-package-lock --silent
	touch $@

deps: $(STAMP) $(JARS) $(AVRO_JAVA) $(ASYNCAPI)
	bash scripts/ensure-postgres

# NODES=3: a local three-node Kafka cluster, topics with replication factor 3, min ISR 2.
NODES ?= 1

run: deps
	$(BIN)/catalog-stream run --nodes $(NODES)

broker: deps
	$(BIN)/catalog-stream broker --nodes $(NODES)

lint: $(STAMP)
	$(BIN)/ruff check services tests bench examples
	$(BIN)/ruff format --check services tests bench examples

typecheck: $(STAMP)
	$(BIN)/mypy

# The tools the tests run, from Debian's packages when missing: the unit tests need promtool too
# (a fresh machine's `make unit-tz`, before `make test` had installed it, failed without it).
test-tools:
	@command -v wrk >/dev/null || bash scripts/ensure-wrk  # the burst test's load tool
	@command -v promtool >/dev/null || bash scripts/ensure-promtool  # the alert rules' tests
	@command -v chromedriver >/dev/null || bash scripts/ensure-chromium  # the status page's browser test

unit: $(STAMP) test-tools
	$(BIN)/pytest tests/unit

# The unit tests in a zone that is not UTC (nothing may read the machine's zone), as `make test`
# runs them; NOT_UTC fails first if the machine has no zone database to give that zone.
NOT_UTC = TZ=America/New_York
not-utc:
	@test "$$($(NOT_UTC) date +%z)" != "+0000" || { echo "no tz database: install tzdata"; exit 1; }

unit-tz: $(STAMP) test-tools not-utc
	$(NOT_UTC) $(BIN)/pytest -q tests/unit

# Mutation testing of the pure core with the unit tests (tests/mutation/gate.py); fails below
# 90 % caught overall or 85 % in any module. Excluded survivors: tests/mutation/exclusions.txt.
mutation: $(STAMP)
	$(BIN)/python -m tests.mutation.gate

# Coverage-guided fuzzing (tests/fuzz) of FUZZ_TARGET (intake: the receiver's reading of a
# request; decode: the contract's decoder) for FUZZ_SECONDS; the inputs it learns stay in
# .state/fuzz/TARGET, and a failing input is written to .state/fuzz/ (keep it in
# tests/fuzz/found/TARGET/, which `make test` replays).
FUZZ_TARGET ?= intake
FUZZ_SECONDS ?= 600
fuzz: $(STAMP)
	$(BIN)/python -m tests.fuzz.seeds $(FUZZ_TARGET) .state/fuzz/$(FUZZ_TARGET) .state/fuzz/$(FUZZ_TARGET).dict
	$(BIN)/python -m tests.fuzz.$(FUZZ_TARGET)_target -max_total_time=$(FUZZ_SECONDS) \
	  -max_len=8192 -timeout=10 -rss_limit_mb=1024 -dict=.state/fuzz/$(FUZZ_TARGET).dict \
	  -artifact_prefix=.state/fuzz/ .state/fuzz/$(FUZZ_TARGET) tests/fuzz/found/$(FUZZ_TARGET)

# The unit tests run in a zone that is not UTC (nothing may read the machine's zone: a green
# run in UTC alone could hide it), then everything else (the broker's tests) in the machine's,
# naming the slowest (CI's 90 minutes are shared by every step: the log says where they went).
test: deps lint typecheck test-tools not-utc
	$(NOT_UTC) $(BIN)/pytest tests/unit
	$(BIN)/pytest tests --ignore=tests/unit --durations=20

clean:
	rm -rf $(VENV) .state .mutation broker/lib tools/avro-java/lib bench/kstreams/target tools/asyncapi/node_modules .mypy_cache .ruff_cache .pytest_cache

# Benchmarks (see BENCHMARKS.md): the full run takes a while; the quick one checks the harness.
# Both build the Kafka Streams peer (bench/kstreams) with Maven first, once per machine (cached
# in ~/.cache/catalog-stream), before anything is timed.
bench: deps
	@command -v wrk >/dev/null || bash scripts/ensure-wrk
	$(BIN)/python -m bench.run

bench-quick: deps
	@command -v wrk >/dev/null || bash scripts/ensure-wrk
	$(BIN)/python -m bench.run --quick $(BENCH_ARGS)
