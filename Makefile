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
	@# libtchat's SONAME is $(SONAME) (build.rs), so a program linked against the build tree asks
	@# for that name at run time: the link makes target/release work as a library directory.
	@ln -sf libtchat.$(SO_EXT) $(RELEASE)/$(SONAME)

## make test: everything CI runs.
test: lint test-rust check-header check-header-compile build test-package test-c test-conformance test-asan test-fuzz
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

# The header must compile cleanly as C99 and as C++11; the C++ wrapper tchat.hpp as C++17.
check-header-compile:
	@mkdir -p $(BUILD_C)
	printf '#include "tchat.h"\nint main(void) { return tchat_version() == 0; }\n' > $(BUILD_C)/header_c99.c
	$(CC) -std=c99 -Wall -Wextra -Werror -pedantic -Iinclude -fsyntax-only $(BUILD_C)/header_c99.c
	printf '#include "tchat.h"\nint main() { return tchat_version() == nullptr; }\n' > $(BUILD_C)/header_cxx11.cpp
	$(CXX) -std=c++11 -Wall -Wextra -Werror -pedantic -Iinclude -fsyntax-only $(BUILD_C)/header_cxx11.cpp
	$(CXX) -std=c++11 -Wall -Wextra -Werror -pedantic -Iinclude -fsyntax-only tests/c/cxx_smoke.cpp
	$(CXX) -std=c++17 -Wall -Wextra -Werror -pedantic -Iinclude -fsyntax-only -x c++ include/tchat.hpp

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
# The C++ wrapper (include/tchat.hpp), its test (tests/cxx) and example (examples-cpp) are C++17.
CXX17_FLAGS  := -std=c++17 -Wall -Wextra -Werror -pedantic -g -O1
TCHAT_VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
# The shared library's names (build.rs sets the SONAME or install name from the major version):
# SONAME, what programs ask for at run time; SO_REAL, the installed file, with the full version.
TCHAT_MAJOR  := $(firstword $(subst ., ,$(TCHAT_VERSION)))
ifeq ($(shell uname -s),Darwin)
SO_EXT       := dylib
SONAME       := libtchat.$(TCHAT_MAJOR).dylib
SO_REAL      := libtchat.$(TCHAT_VERSION).dylib
LIBS_PRIVATE := -lSystem -lc -lm
else
SO_EXT       := so
SONAME       := libtchat.so.$(TCHAT_MAJOR)
SO_REAL      := libtchat.so.$(TCHAT_VERSION)
LIBS_PRIVATE := -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
endif
PKG_BUILD    := PKG_CONFIG_PATH=$(CURDIR)/$(BUILD_C) pkg-config
C_TESTS      := test_api test_chat test_threads test_events test_edges test_async
EXAMPLES     := chat poll_loop
VALGRIND     ?= valgrind --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite --error-exitcode=1 --quiet

# The project's URL for tchat.pc: Cargo.toml's `repository` (the URL line is left out while it has none).
TCHAT_URL    := $(shell sed -n 's/^repository = "\(.*\)"/\1/p' Cargo.toml | head -n 1)

# tchat.pc.in with its @...@ values: $(call make_pc,prefix,includedir,libdir)
make_pc = sed -e 's|@PREFIX@|$(1)|' -e 's|@INCLUDEDIR@|$(2)|' -e 's|@LIBDIR@|$(3)|' \
	-e 's|@VERSION@|$(TCHAT_VERSION)|' -e 's|@LIBS_PRIVATE@|$(LIBS_PRIVATE)|' \
	-e 's|@URL@|$(TCHAT_URL)|' -e '/^URL: *$$/d' tchat.pc.in

# cmake/NAME.cmake.in with its @...@ values (the CMake package): $(call make_cmake,NAME)
empty :=
space := $(empty) $(empty)
make_cmake = sed -e 's|@VERSION@|$(TCHAT_VERSION)|g' -e 's|@MAJOR@|$(TCHAT_MAJOR)|g' -e 's|@SONAME@|$(SONAME)|g' \
	-e 's|@SO_REAL@|$(SO_REAL)|g' -e 's|@LIBS_PRIVATE@|$(LIBS_PRIVATE)|g' \
	-e 's|@LIBS_PRIVATE_CMAKE@|$(subst $(space),;,$(patsubst -l%,%,$(LIBS_PRIVATE)))|g' cmake/$(1).cmake.in

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
	@echo "  CXX tests/cxx/test_wrapper.cpp -> $(BUILD_C)/test_wrapper (C++17, tchat.hpp)"
	@$(CXX) $(CXX17_FLAGS) $$($(PKG_BUILD) --cflags tchat) tests/cxx/test_wrapper.cpp -o $(BUILD_C)/test_wrapper \
		$$($(PKG_BUILD) --libs tchat) -lpthread -Wl,-rpath,$$($(PKG_BUILD) --variable=libdir tchat)
	@rm -rf $(BUILD_C)/stage
	@$(MAKE) --no-print-directory install PREFIX=$(CURDIR)/$(BUILD_C)/stage >/dev/null
	@echo "  CC  examples-c/poll_loop.c -> $(BUILD_C)/poll_loop-installed (against make install)"
	@PKG_CONFIG_PATH=$(CURDIR)/$(BUILD_C)/stage/lib/pkgconfig; export PKG_CONFIG_PATH; \
		$(CC) $(C_FLAGS) $$(pkg-config --cflags tchat) examples-c/poll_loop.c -o $(BUILD_C)/poll_loop-installed \
		$$(pkg-config --libs tchat) -Wl,-rpath,$$(pkg-config --variable=libdir tchat)
	@echo "  CXX examples-cpp/game_loop.cpp -> $(BUILD_C)/game_loop-installed (C++17, against make install)"
	@PKG_CONFIG_PATH=$(CURDIR)/$(BUILD_C)/stage/lib/pkgconfig; export PKG_CONFIG_PATH; \
		$(CXX) $(CXX17_FLAGS) $$(pkg-config --cflags tchat) examples-cpp/game_loop.cpp -o $(BUILD_C)/game_loop-installed \
		$$(pkg-config --libs tchat) -lpthread -Wl,-rpath,$$(pkg-config --variable=libdir tchat)
	@command -v valgrind >/dev/null || { echo "test-c: valgrind is missing (set VALGRIND= to run without it)"; [ -z "$(VALGRIND)" ]; }
	VALGRIND="$(VALGRIND)" tests/c/run.sh tests/c/run_tests.sh \
		$(addprefix $(BUILD_C)/,$(C_TESTS)) $(BUILD_C)/test_api-static $(BUILD_C)/cxx_smoke \
		$(BUILD_C)/test_wrapper "$(BUILD_C)/game_loop-installed hello again" \
		"$(BUILD_C)/poll_loop-installed hello" "tests/c/chat_smoke.sh $(BUILD_C)" \
		"tests/c/readme_quickstart.sh $(BUILD_C)" "tests/c/native.sh $(BUILD_C)/test_async"

## make test-package: tchat as a distro or an app's build gets it, from `make install` into
## build-c/pkg-stage: the SONAME (readelf -d) of the built and of the installed library, the installed
## file and links; the README's static link line (pkg-config); a CMake consumer (tests/cmake:
## find_package(tchat), tchat::tchat) shared and static, from the install tree moved elsewhere (the
## package must be relocatable); the module map under clang -fmodules (tests/objc/import_tchat.m:
## `@import tchat`, what Package.swift builds on; there is no Swift toolchain here). Each program
## runs. Needs readelf, cmake and clang (.ci/run installs them): fails, naming them, without.
PKG_STAGE := $(BUILD_C)/pkg-stage
PKG_MOVED := $(BUILD_C)/pkg-moved
# $(call check_soname,library): fails unless readelf -d gives the library the SONAME $(SONAME).
check_soname = readelf -d $(1) | grep -qF 'Library soname: [$(SONAME)]' || \
	{ echo "test-package: $(1) does not have the SONAME $(SONAME):"; readelf -d $(1) | grep SONAME; exit 1; }
.PHONY: test-package
test-package: build $(BUILD_C)/tchat.pc
	@for tool in readelf cmake clang; do command -v $$tool >/dev/null || \
		{ echo "test-package: $$tool is missing (apt-get install binutils cmake clang; .ci/run does)"; exit 1; }; done
	@rm -rf $(PKG_STAGE) $(PKG_MOVED) $(BUILD_C)/cmake-shared $(BUILD_C)/cmake-static
	@$(MAKE) --no-print-directory install PREFIX=$(CURDIR)/$(PKG_STAGE) >/dev/null
	@# The SONAME, in the build tree and installed, and the installed layout: one stripped file, two links.
	@$(call check_soname,$(RELEASE)/libtchat.$(SO_EXT))
	@$(call check_soname,$(PKG_STAGE)/lib/$(SO_REAL))
	@cd $(PKG_STAGE)/lib && test -f $(SO_REAL) && ! test -L $(SO_REAL) && test "$$(readlink $(SONAME))" = $(SO_REAL) && \
		test "$$(readlink libtchat.$(SO_EXT))" = $(SONAME) || { echo "test-package: installed lib/ is wrong:"; ls -l; exit 1; }
	@! readelf -S $(PKG_STAGE)/lib/$(SO_REAL) | grep -q '\.debug_' || { echo "test-package: $(SO_REAL) has debug info"; exit 1; }
	@echo "  SONAME $(SONAME) (build tree, install); installed $(SO_REAL) (stripped: $$(wc -c < $(PKG_STAGE)/lib/$(SO_REAL)) bytes) <- $(SONAME) <- libtchat.$(SO_EXT)"
	@# The README's static link line, as written there, against the installed tchat.pc.
	@echo "  CC  tests/cmake/version_check.c -> $(BUILD_C)/pkg-static (README static link line)"
	@PKG_CONFIG_PATH=$(CURDIR)/$(PKG_STAGE)/lib/pkgconfig; export PKG_CONFIG_PATH; \
		$(CC) tests/cmake/version_check.c -o $(BUILD_C)/pkg-static $$(pkg-config --cflags tchat) \
		"$$(pkg-config --variable=libdir tchat)/libtchat.a" $$(pkg-config --static --libs-only-l tchat | sed 's/-ltchat//')
	@! readelf -d $(BUILD_C)/pkg-static | grep -q 'NEEDED.*libtchat' || { echo "test-package: pkg-static needs libtchat.so"; exit 1; }
	$(BUILD_C)/pkg-static
	@# CMake, from the install tree moved away (a path baked into the package would fail here).
	@mv $(PKG_STAGE) $(PKG_MOVED)
	@for kind in shared static; do \
		echo "  CMAKE tests/cmake -> $(BUILD_C)/cmake-$$kind (find_package(tchat), $$kind)"; \
		cmake -S tests/cmake -B $(BUILD_C)/cmake-$$kind -DCMAKE_PREFIX_PATH=$(CURDIR)/$(PKG_MOVED) \
			-DTCHAT_EXPECT_VERSION=$(TCHAT_VERSION) -DTCHAT_STATIC=$$([ $$kind = static ] && echo ON || echo OFF) \
			>$(BUILD_C)/cmake-$$kind.log 2>&1 && cmake --build $(BUILD_C)/cmake-$$kind >>$(BUILD_C)/cmake-$$kind.log 2>&1 \
			|| { cat $(BUILD_C)/cmake-$$kind.log; exit 1; }; \
	done
	@readelf -d $(BUILD_C)/cmake-shared/tchat_cmake_consumer | grep NEEDED | grep -qF '[$(SONAME)]' || \
		{ echo "test-package: the CMake shared build does not load $(SONAME)"; exit 1; }
	@! readelf -d $(BUILD_C)/cmake-static/tchat_cmake_consumer | grep -q 'NEEDED.*libtchat' || \
		{ echo "test-package: the CMake static build needs libtchat.so"; exit 1; }
	$(BUILD_C)/cmake-shared/tchat_cmake_consumer
	$(BUILD_C)/cmake-static/tchat_cmake_consumer
	@# The module map: `@import tchat` (Objective-C modules, as the Swift system-library target imports it).
	@echo "  CLANG tests/objc/import_tchat.m -> $(BUILD_C)/import_tchat (-fmodules, include/module.modulemap)"
	@clang -fmodules -fmodules-cache-path=$(BUILD_C)/modules-cache -Iinclude -Wall -Wextra -Werror \
		tests/objc/import_tchat.m -o $(BUILD_C)/import_tchat \
		$$($(PKG_BUILD) --libs tchat) -Wl,-rpath,$$($(PKG_BUILD) --variable=libdir tchat)
	$(BUILD_C)/import_tchat
	@echo "test-package: OK"

## make install PREFIX=...: in lib/, the shared library the way distros ship one ($(SO_REAL), the
## file; $(SONAME) -> it, the SONAME programs load; libtchat.$(SO_EXT) -> $(SONAME), for -ltchat) and
## libtchat.a; tchat.h, the C++ wrapper tchat.hpp and module.modulemap in include/tchat/ (so the
## module map stays next to its header); lib/pkgconfig/tchat.pc; lib/cmake/tchat/ (find_package(tchat), cmake/*.cmake.in).
install: build
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/lib/cmake/tchat $(DESTDIR)$(PREFIX)/include/tchat
	install -m 644 include/tchat.h include/tchat.hpp include/module.modulemap $(DESTDIR)$(PREFIX)/include/tchat/
	install -m 755 $(RELEASE)/libtchat.$(SO_EXT) $(DESTDIR)$(PREFIX)/lib/$(SO_REAL)
	ln -sf $(SO_REAL) $(DESTDIR)$(PREFIX)/lib/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(PREFIX)/lib/libtchat.$(SO_EXT)
	install -m 644 $(RELEASE)/libtchat.a $(DESTDIR)$(PREFIX)/lib/
	# Installed without debug info (the build tree keeps it for benchmarks and debuggers).
	$(STRIP) --strip-unneeded $(DESTDIR)$(PREFIX)/lib/$(SO_REAL)
	@# With lto (Cargo.toml) the archive's objects also carry LLVM bitcode (.llvmbc), which only rustc's
	@# LTO reads: without it the installed libtchat.a is 14 MB instead of 46.
	$(STRIP) --strip-debug --remove-section=.llvmbc --remove-section=.llvmcmd $(DESTDIR)$(PREFIX)/lib/libtchat.a
ifeq ($(SO_EXT),dylib)
	# macOS: the installed path becomes the install name (build.rs gives @rpath/$(SONAME)), as cargo-c does.
	install_name_tool -id $(PREFIX)/lib/$(SONAME) $(DESTDIR)$(PREFIX)/lib/$(SO_REAL)
endif
	$(call make_cmake,tchatConfig) > $(DESTDIR)$(PREFIX)/lib/cmake/tchat/tchatConfig.cmake
	$(call make_cmake,tchatConfigVersion) > $(DESTDIR)$(PREFIX)/lib/cmake/tchat/tchatConfigVersion.cmake
	install -d $(DESTDIR)$(PREFIX)/share/tchat
	install -m 644 tchat.supp $(DESTDIR)$(PREFIX)/share/tchat/
	$(call make_pc,$(PREFIX),$${prefix}/include/tchat,$${prefix}/lib) > $(DESTDIR)$(PREFIX)/lib/pkgconfig/tchat.pc

clean:
	$(CARGO) clean
	rm -rf fuzz/target
	rm -rf $(BUILD_C)
