# authrs — the two commands are `make run` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo
# As root, httpd's workers run as www-data, which may not enter a checkout under /root (0700):
# the demo then lives where they can read it and nobody else can create it first (/run is
# root's; a world-writable /var/tmp would let a local user plant the demo's keys).
RUN_DIR ?= $(if $(filter 0,$(shell id -u)),/run/authrs-demo,$(CURDIR)/run)

# proxy-wasm callbacks the crate exports but the Envoy filter leaves at their do-nothing
# defaults: unexported after each build, Envoy skips entering the VM for them (~0.8 µs per
# request measured; see README, Performance).
WASM_UNUSED = proxy_on_response_body proxy_on_response_trailers proxy_on_log proxy_on_done
WASM_LEAN = scripts/wasm-drop-exports.py
FILTER_WASM = $(CURDIR)/target/wasm32-wasip1/wasm/authrs_proxy_wasm.wasm

.PHONY: run install install-files test deps lint unit wasm bench callgrind fuzz reference reference-update clean

## Starts httpd with mod_authrs and Envoy with the filter protecting a demo site on 127.0.0.1 (after a short CLI tour).
run: deps
	$(CARGO) build --release -p authrs-cli -p mod_authrs
	$(CARGO) build -p authrs-proxy-wasm --target wasm32-wasip1 --profile wasm
	$(WASM_LEAN) $(FILTER_WASM) $(WASM_UNUSED)
	RUN_DIR=$(RUN_DIR) AUTHRS=$(CURDIR)/target/release/authrs scripts/demo.sh
	RUN_DIR=$(RUN_DIR) AUTHRS=$(CURDIR)/target/release/authrs MODULE=$(CURDIR)/target/release/libmod_authrs.so \
	  WASM=$(FILTER_WASM) ENVOY=$(CURDIR)/.venv/bin/envoy scripts/run-apache.sh

## Installs mod_authrs into httpd's module directory and the a2enmod files (Debian layout).
## DESTDIR stages it elsewhere (packaging; the tests); BUILD_DIR is where the binaries are.
BUILD_DIR ?= target/release
install:
	$(CARGO) build --release -p mod_authrs -p authrs-cli
	$(MAKE) --no-print-directory install-files

install-files:
	@# Without apxs (apache2-dev) the module would land at $(DESTDIR)/mod_authrs.so.
	dir=$$(apxs -q LIBEXECDIR) && [ -n "$$dir" ] || { echo "make install: apxs -q LIBEXECDIR failed (install apache2-dev)" >&2; exit 1; }; \
	  install -D -m 0644 $(BUILD_DIR)/libmod_authrs.so "$(DESTDIR)$$dir/mod_authrs.so"
	install -D -m 0644 conf/apache2/authrs.load $(DESTDIR)/etc/apache2/mods-available/authrs.load
	@# authrs.conf is the operator's once installed: never overwritten (a re-install would
	@# bring back the all-commented sample and leave their <Location> blocks unprotected).
	@if [ -e $(DESTDIR)/etc/apache2/mods-available/authrs.conf ]; then \
	  install -D -m 0644 conf/apache2/authrs.conf $(DESTDIR)/etc/apache2/mods-available/authrs.conf.dist; \
	  echo "make install: kept $(DESTDIR)/etc/apache2/mods-available/authrs.conf; the new sample is authrs.conf.dist"; \
	else install -D -m 0644 conf/apache2/authrs.conf $(DESTDIR)/etc/apache2/mods-available/authrs.conf; fi
	install -D -m 0755 $(BUILD_DIR)/authrs $(DESTDIR)/usr/local/bin/authrs

## Installs what is missing, then runs every check CI runs.
test: deps lint unit wasm reference
	@echo "make test: all checks passed"

deps:
	scripts/install-deps.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	cd fuzz && $(CARGO) check -q --bins

## mod_authrs, the authrs binary and the Envoy filter are built first: the integration tests
## load the .so into httpd and the .wasm into Envoy and run `authrs openid verify` (and the
## panic tests --features test-panic builds, kept apart in target/test-panic).
unit: wasm
	$(CARGO) build -p mod_authrs -p authrs-cli
	$(CARGO) build -p mod_authrs --features test-panic --target-dir target/test-panic
	$(CARGO) build -p authrs-proxy-wasm --features test-panic --target wasm32-wasip1 --profile wasm --target-dir target/test-panic
	$(WASM_LEAN) target/test-panic/wasm32-wasip1/wasm/authrs_proxy_wasm.wasm $(WASM_UNUSED)
	$(CARGO) test --workspace
	$(CARGO) test -q -p authrs-core --bench core   # each benchmark once: the fixtures still build

## The Envoy filter (and so the core) for its target; also lints the wasm-only code.
wasm:
	$(CARGO) build -p authrs-proxy-wasm --target wasm32-wasip1 --profile wasm
	$(WASM_LEAN) $(FILTER_WASM) $(WASM_UNUSED)
	$(CARGO) clippy -p authrs-proxy-wasm --target wasm32-wasip1 -- -D warnings

## The README's option reference is generated from the core's table; fail when it drifts.
reference:
	$(CARGO) run -q -p authrs-cli -- config reference > target/reference.md
	scripts/check-reference.sh README.md target/reference.md

## Server benchmarks (shared/BENCHMARKS.md method): httpd, then Envoy with the wasm filters.
## BENCH_ROUNDS=1 BENCH_SECONDS=2 make bench gives a quick smoke run.
WASM_OUT = $(CURDIR)/target/wasm32-wasip1/wasm
bench: deps
	scripts/install-deps.sh --bench
	$(CARGO) bench -p authrs-core
	scripts/bench-report.py
	$(CARGO) build --release -p mod_authrs -p authrs-cli
	scripts/bench-apache.py $(CURDIR)/target/release/libmod_authrs.so $(CURDIR)/target/release/authrs
	$(CARGO) build --target wasm32-wasip1 --profile wasm -p authrs-proxy-wasm -p authrs-bench-empty-filter
	@# The empty filter the same way: "authrs − empty" stays the cost of authrs's own work.
	$(WASM_LEAN) $(FILTER_WASM) $(WASM_UNUSED)
	$(WASM_LEAN) $(WASM_OUT)/authrs_bench_empty_filter.wasm $(WASM_UNUSED)
	scripts/bench-envoy.py $(FILTER_WASM) $(WASM_OUT)/authrs_bench_empty_filter.wasm \
	  $(CURDIR)/target/release/authrs

## Runs every fuzz target for FUZZ_SECONDS each (nightly + cargo-fuzz), seeded from fuzz/seeds
## (and fuzz/<target>.dict where there is one); a crash stops it: add the input as a regression
## test next to the code it broke.
FUZZ_SECONDS ?= 60
fuzz:
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz
	cd fuzz && for t in $$($(CARGO) +nightly fuzz list); do \
	  mkdir -p corpus/$$t; dict=; [ -f $$t.dict ] && dict=-dict=$$t.dict; \
	  $(CARGO) +nightly fuzz run -O $$t corpus/$$t seeds/$$t -- -max_total_time=$(FUZZ_SECONDS) $$dict || exit 1; done

## Instructions per request (callgrind): deterministic where wall-clock numbers are noisy.
callgrind: deps
	scripts/install-deps.sh --bench
	$(CARGO) build --release -p mod_authrs -p authrs-cli
	scripts/callgrind-apache.sh $(CURDIR)/target/release/libmod_authrs.so $(CURDIR)/target/release/authrs

clean:
	$(CARGO) clean
	case "$(RUN_DIR)" in $(CURDIR)/run|/run/authrs-demo) rm -rf "$(RUN_DIR)";; *) echo "clean: leaving RUN_DIR=$(RUN_DIR) alone (not make run's)";; esac

reference-update:
	$(CARGO) run -q -p authrs-cli -- config reference > target/reference.md
	scripts/check-reference.sh --update README.md target/reference.md
