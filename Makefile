# tchat — the README's two commands are `make demo` and `make test`.
#
# Everything talks only to loopback servers that the targets start themselves.

CARGO    ?= cargo
CC       ?= cc
CXX      ?= c++
STRIP    ?= strip
PREFIX   ?= /usr/local
RELEASE  := target/release
BUILD_C  := build-c

.PHONY: all build test test-rust check-header check-header-compile demo bench clean examples test-c install soak

all: build

build:
	$(CARGO) build --release --workspace

## make test: everything CI runs.
test: lint test-rust check-header check-header-compile build test-c test-conformance test-asan test-fuzz
	@echo "make test: all checks passed"

## make lint: formatting (rustfmt.toml) and clippy with every warning an error, over the workspace's
## code, tests, benches and examples.
.PHONY: lint
lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## make test-asan: the C tests under AddressSanitizer + LeakSanitizer (tests/sanitize/asan_c.sh;
## nightly libtchat with -Zsanitizer=address in target/asan). Skipped without nightly.
## make test-fuzz: each fuzz target for FUZZ_SECONDS (tests/sanitize/fuzz_smoke.sh).
## Skipped without nightly or cargo-fuzz.
.PHONY: test-asan test-fuzz
FUZZ_SECONDS ?= 60
test-asan: build
	tests/sanitize/asan_c.sh
test-fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) tests/sanitize/fuzz_smoke.sh

# tests/soak.rs writes its turns to $(SOAK_OUT); test-conformance replays them through the AI SDK.
SOAK_OUT := $(CURDIR)/$(BUILD_C)/soak.jsonl
test-rust:
	@mkdir -p $(BUILD_C)
	TCHAT_SOAK_OUT=$(SOAK_OUT) $(CARGO) test --workspace

## make header: regenerates include/tchat.h from src/ffi with the pinned cbindgen of tools/gen-header
## (fails on any generation error). make check-header: the committed header must equal a fresh
## generation (git diff --exit-code, as rustls-ffi's CI checks its header).
.PHONY: header
header:
	$(CARGO) run --quiet -p tchat-gen-header

check-header: header
	@git diff --exit-code --stat include/tchat.h || { echo "include/tchat.h is out of date: run make header and commit it"; git diff include/tchat.h | head -40; exit 1; }
	@echo "include/tchat.h matches the code"

# The header must compile cleanly as C99 and as C++11.
check-header-compile:
	@mkdir -p $(BUILD_C)
	printf '#include "tchat.h"\nint main(void) { return tchat_version() == 0; }\n' > $(BUILD_C)/header_c99.c
	$(CC) -std=c99 -Wall -Wextra -Werror -pedantic -Iinclude -fsyntax-only $(BUILD_C)/header_c99.c
	printf '#include "tchat.h"\nint main() { return tchat_version() == nullptr; }\n' > $(BUILD_C)/header_cxx11.cpp
	$(CXX) -std=c++11 -Wall -Wextra -Werror -pedantic -Iinclude -fsyntax-only $(BUILD_C)/header_cxx11.cpp
	$(CXX) -std=c++11 -Wall -Wextra -Werror -pedantic -Iinclude -fsyntax-only tests/c/cxx_smoke.cpp

## make soak TRIALS=1000: the randomized fault soak (tests/proxy_soak.rs: a fault-injecting TCP
## proxy between tchat and the devserver) with TRIALS trials; make test runs 60 of them.
TRIALS ?= 1000
soak:
	TCHAT_SOAK_TRIALS=$(TRIALS) $(CARGO) test --release --test proxy_soak -- --nocapture

## make demo: the C chat example through a short scripted conversation against a local devserver
## (a message, a tool call approved, a slow reply stopped mid-stream with /stop, /quit).
demo: build examples
	@TCHAT_DEVSERVER_ARGS="--delta-delay-ms 40" tests/c/run.sh tests/c/demo.sh $(BUILD_C)/chat

## make bench: benchmark programs (figures, not pass/fail), then the same figures for the official
## Node client (tests/conformance/bench: @trigger.dev/sdk pinned by that lockfile, installed with
## npm ci) and a table of each tchat figure next to the Node one. BENCH_OUT_FILE=path decodes a
## captured .out body instead of the generated stream (and skips the other benchmarks); otherwise
## the generated stream is saved to build-c/bench-out.sse and both decoders read those bytes.
## Each benchmark's stdout is also kept in build-c/bench-*.txt for the table.
BENCH_LOG   := $(BUILD_C)/bench
BENCH_NODE  := TCHAT_DEVSERVER=$(CURDIR)/$(RELEASE)/tchat-devserver node --expose-gc tests/conformance/bench
# $(call bench_run,command,log): shows the command, runs it, prints and keeps its stdout, keeps its status.
bench_run    = echo '$(1)'; { $(1); echo $$? > $(2).rc; } | tee $(2); exit $$(cat $(2).rc)
# (the literal path is $(CONFORMANCE)/node_modules/.package-lock.json, defined further down)
bench: tests/conformance/node_modules/.package-lock.json
	@mkdir -p $(BUILD_C) && rm -f $(BENCH_LOG)-*.txt $(BENCH_LOG)-*.txt.rc
	@$(call bench_run,$(CARGO) bench --bench decode -- $(if $(BENCH_OUT_FILE),--file $(BENCH_OUT_FILE),--write $(BUILD_C)/bench-out.sse),$(BENCH_LOG)-decode.txt)
	@$(MAKE) --no-print-directory bench-simdjson
ifeq ($(BENCH_OUT_FILE),)
	$(CARGO) build --release -p tchat-devserver
	@$(call bench_run,$(CARGO) bench --bench client,$(BENCH_LOG)-client.txt)
	$(CARGO) bench -p tchat-devserver --bench subscribers
endif
	@$(call bench_run,$(BENCH_NODE)/decode.mjs --file $(or $(BENCH_OUT_FILE),$(BUILD_C)/bench-out.sse),$(BENCH_LOG)-node-decode.txt)
ifeq ($(BENCH_OUT_FILE),)
	@$(call bench_run,$(BENCH_NODE)/client.mjs,$(BENCH_LOG)-node-client.txt)
endif
	@node tests/conformance/bench/compare.mjs $(BENCH_LOG)
ifeq ($(BENCH_OUT_FILE),)
	@$(MAKE) --no-print-directory bench-wan
endif

## make bench-wan: the WAN benchmark (benches/wan/README.md): tchat and the official AgentChat hold
## the same conversation over an emulated 50 ms round trip (network namespaces and a packet delay
## relay), TLS 1.3 with certificate checks on; prints their figures side by side. Needs root;
## without it (or without netns/veth) it prints "wan bench: skipped (...)" and succeeds.
## WAN_TURNS_1S (15), WAN_TURNS_5S (8), WAN_STOPS (5); raw results in build-c/bench-wan/.
.PHONY: bench-wan
bench-wan: tests/conformance/node_modules/.package-lock.json
	$(CARGO) build --release -p tchat-devserver
	$(CARGO) build --release --example wan_client -p tchat
	sh benches/wan/run.sh

## make bench-simdjson: the decoder benchmark's work in C++ with simdjson On-Demand (benches/simdjson:
## Debian's libsimdjson-dev, installed with apt-get when missing, else "bench-simdjson: skipped"),
## built into build-c/ with -O2 -DNDEBUG (no -march, as tchat's build; SIMDJSON_CXXFLAGS overrides),
## run on the bytes make bench decodes (build-c/bench-out.sse, or BENCH_OUT_FILE) and printed next to
## build-c/bench-decode.txt; its stdout is kept in build-c/bench-simdjson.txt.
.PHONY: bench-simdjson
bench-simdjson:
	@CXX='$(CXX)' CARGO='$(CARGO)' BENCH_OUT_FILE='$(BENCH_OUT_FILE)' sh benches/simdjson/run.sh

## make test-conformance: the official clients (@trigger.dev/sdk, pinned by tests/conformance's
## lockfile) hold whole conversations against the devserver: AgentChat (conformance.mjs) and the
## browser transport TriggerChatTransport driven as useChat drives it (transport.mjs).
.PHONY: test-conformance
CONFORMANCE := tests/conformance
test-conformance: $(CONFORMANCE)/node_modules/.package-lock.json
	$(CARGO) build --release -p tchat-devserver
	cd $(CONFORMANCE) && TCHAT_DEVSERVER=$(CURDIR)/$(RELEASE)/tchat-devserver node conformance.mjs
	cd $(CONFORMANCE) && TCHAT_DEVSERVER=$(CURDIR)/$(RELEASE)/tchat-devserver node transport.mjs
	@test -s $(SOAK_OUT) || { echo "test-conformance: $(SOAK_OUT) is missing: run make test-rust first"; exit 1; }
	cd $(CONFORMANCE) && node soak_check.mjs $(SOAK_OUT)

$(CONFORMANCE)/node_modules/.package-lock.json: $(CONFORMANCE)/package.json $(CONFORMANCE)/package-lock.json
	cd $(CONFORMANCE) && npm ci --no-audit --no-fund
	@touch $@

# --- The C API: examples, C tests, install ----------------------------------------------------------
# Examples and tests are built like a user's program: with only include/tchat.h and the built
# library, found through pkg-config (build-c/tchat.pc points at the build tree). They depend on
# `build` (the whole workspace) rather than on `cargo build --lib`: the two select different
# packages, so cargo unifies dependency features differently and would rebuild tchat each time.

C_FLAGS      := -std=c99 -Wall -Wextra -Werror -pedantic -g -O1
CXX_FLAGS    := -std=c++11 -Wall -Wextra -Werror -pedantic -g -O1
TCHAT_VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
ifeq ($(shell uname -s),Darwin)
SO_EXT       := dylib
LIBS_PRIVATE := -lSystem -lc -lm
else
SO_EXT       := so
LIBS_PRIVATE := -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
endif
PKG_BUILD    := PKG_CONFIG_PATH=$(CURDIR)/$(BUILD_C) pkg-config
C_TESTS      := test_api test_chat test_threads test_events test_edges
EXAMPLES     := chat poll_loop
VALGRIND     ?= valgrind --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite --error-exitcode=1 --quiet

# tchat.pc.in with its @...@ values: $(call make_pc,prefix,includedir,libdir)
make_pc = sed -e 's|@PREFIX@|$(1)|' -e 's|@INCLUDEDIR@|$(2)|' -e 's|@LIBDIR@|$(3)|' \
	-e 's|@VERSION@|$(TCHAT_VERSION)|' -e 's|@LIBS_PRIVATE@|$(LIBS_PRIVATE)|' tchat.pc.in

$(BUILD_C)/tchat.pc: tchat.pc.in Cargo.toml Makefile
	@mkdir -p $(BUILD_C)
	$(call make_pc,$(CURDIR),$${prefix}/include,$${prefix}/$(RELEASE)) > $@

## make examples: examples-c/*.c -> build-c/, against the header and libtchat only (pkg-config).
examples: build $(BUILD_C)/tchat.pc
	@for e in $(EXAMPLES); do \
		echo "  CC  examples-c/$$e.c -> $(BUILD_C)/$$e"; \
		$(CC) $(C_FLAGS) $$($(PKG_BUILD) --cflags tchat) examples-c/$$e.c -o $(BUILD_C)/$$e \
			$$($(PKG_BUILD) --libs tchat) -Wl,-rpath,$$($(PKG_BUILD) --variable=libdir tchat) || exit 1; \
	done

## make test-c: the C tests (and the examples, a static link, C++ and an installed copy) under
## valgrind, against a devserver that tests/c/run.sh starts on a free port and always stops.
test-c: build examples
	@for t in $(C_TESTS); do \
		echo "  CC  tests/c/$$t.c -> $(BUILD_C)/$$t"; \
		$(CC) $(C_FLAGS) $$($(PKG_BUILD) --cflags tchat) tests/c/$$t.c -o $(BUILD_C)/$$t \
			$$($(PKG_BUILD) --libs tchat) -lpthread -Wl,-rpath,$$($(PKG_BUILD) --variable=libdir tchat) || exit 1; \
	done
	@echo "  CC  tests/c/test_api.c -> $(BUILD_C)/test_api-static (libtchat.a)"
	@$(CC) $(C_FLAGS) $$($(PKG_BUILD) --cflags tchat) tests/c/test_api.c -o $(BUILD_C)/test_api-static \
		$$($(PKG_BUILD) --variable=libdir tchat)/libtchat.a $$($(PKG_BUILD) --static --libs-only-l tchat | sed 's/-ltchat//')
	@echo "  CXX tests/c/cxx_smoke.cpp -> $(BUILD_C)/cxx_smoke"
	@$(CXX) $(CXX_FLAGS) $$($(PKG_BUILD) --cflags tchat) tests/c/cxx_smoke.cpp -o $(BUILD_C)/cxx_smoke \
		$$($(PKG_BUILD) --libs tchat) -lpthread -Wl,-rpath,$$($(PKG_BUILD) --variable=libdir tchat)
	@rm -rf $(BUILD_C)/stage
	@$(MAKE) --no-print-directory install PREFIX=$(CURDIR)/$(BUILD_C)/stage >/dev/null
	@echo "  CC  examples-c/poll_loop.c -> $(BUILD_C)/poll_loop-installed (against make install)"
	@PKG_CONFIG_PATH=$(CURDIR)/$(BUILD_C)/stage/lib/pkgconfig; export PKG_CONFIG_PATH; \
		$(CC) $(C_FLAGS) $$(pkg-config --cflags tchat) examples-c/poll_loop.c -o $(BUILD_C)/poll_loop-installed \
		$$(pkg-config --libs tchat) -Wl,-rpath,$$(pkg-config --variable=libdir tchat)
	@command -v valgrind >/dev/null || { echo "test-c: valgrind is missing (set VALGRIND= to run without it)"; [ -z "$(VALGRIND)" ]; }
	VALGRIND="$(VALGRIND)" tests/c/run.sh tests/c/run_tests.sh \
		$(addprefix $(BUILD_C)/,$(C_TESTS)) $(BUILD_C)/test_api-static $(BUILD_C)/cxx_smoke \
		"$(BUILD_C)/poll_loop-installed hello" "tests/c/chat_smoke.sh $(BUILD_C)" \
		"tests/c/readme_quickstart.sh $(BUILD_C)"

## make install PREFIX=...: libtchat.so/.a in lib/, tchat.h and module.modulemap in include/tchat/
## (so the module map stays next to its header), and lib/pkgconfig/tchat.pc.
install: build
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/tchat
	install -m 644 include/tchat.h include/module.modulemap $(DESTDIR)$(PREFIX)/include/tchat/
	install -m 755 $(RELEASE)/libtchat.$(SO_EXT) $(DESTDIR)$(PREFIX)/lib/
	install -m 644 $(RELEASE)/libtchat.a $(DESTDIR)$(PREFIX)/lib/
	# Installed without debug info (the build tree keeps it for benchmarks and debuggers).
	$(STRIP) --strip-unneeded $(DESTDIR)$(PREFIX)/lib/libtchat.$(SO_EXT)
	$(STRIP) --strip-debug $(DESTDIR)$(PREFIX)/lib/libtchat.a
	install -d $(DESTDIR)$(PREFIX)/share/tchat
	install -m 644 tchat.supp $(DESTDIR)$(PREFIX)/share/tchat/
	$(call make_pc,$(PREFIX),$${prefix}/include/tchat,$${prefix}/lib) > $(DESTDIR)$(PREFIX)/lib/pkgconfig/tchat.pc

clean:
	$(CARGO) clean
	rm -rf fuzz/target
	rm -rf $(BUILD_C)
