# tchat — the README's two commands are `make demo` and `make test`.
#
# Everything talks only to loopback servers that the targets start themselves.

CARGO    ?= cargo
CC       ?= cc
CXX      ?= c++
PREFIX   ?= /usr/local
RELEASE  := target/release
BUILD_C  := build-c

.PHONY: all build test test-rust check-header check-header-compile demo bench clean

all: build

build:
	$(CARGO) build --release --workspace

## make test: everything CI runs.
test: test-rust check-header check-header-compile build test-conformance
	@echo "make test: all checks passed"

test-rust:
	$(CARGO) test --workspace

# build.rs regenerates include/tchat.h; fail when the committed copy differs from a fresh generation.
check-header:
	@mkdir -p $(BUILD_C)
	@cp include/tchat.h $(BUILD_C)/tchat.h.committed
	$(CARGO) build --lib
	@if ! cmp -s include/tchat.h $(BUILD_C)/tchat.h.committed; then \
		echo "include/tchat.h is out of date: commit the regenerated header"; \
		diff -u $(BUILD_C)/tchat.h.committed include/tchat.h | head -40; exit 1; fi
	@echo "include/tchat.h matches the code"

# The header must compile cleanly as C99 and as C++11.
check-header-compile:
	@mkdir -p $(BUILD_C)
	printf '#include "tchat.h"\nint main(void) { return tchat_version() == 0; }\n' > $(BUILD_C)/header_c99.c
	$(CC) -std=c99 -Wall -Wextra -Werror -pedantic -Iinclude -fsyntax-only $(BUILD_C)/header_c99.c
	printf '#include "tchat.h"\nint main() { return tchat_version() == nullptr; }\n' > $(BUILD_C)/header_cxx11.cpp
	$(CXX) -std=c++11 -Wall -Wextra -Werror -pedantic -Iinclude -fsyntax-only $(BUILD_C)/header_cxx11.cpp

demo: build
	@echo "tchat: the library and devserver are built."
	@echo "The scripted C chat demo arrives with the C API (issue 5); until then there is nothing to run."

bench:
	$(CARGO) bench --bench decode $(if $(BENCH_OUT_FILE),-- --file $(BENCH_OUT_FILE))

## make test-conformance: the official AgentChat (@trigger.dev/sdk, pinned by tests/conformance's
## lockfile) holds a whole conversation against the devserver.
.PHONY: test-conformance
CONFORMANCE := tests/conformance
test-conformance: $(CONFORMANCE)/node_modules/.package-lock.json
	$(CARGO) build --release -p tchat-devserver
	cd $(CONFORMANCE) && TCHAT_DEVSERVER=$(CURDIR)/$(RELEASE)/tchat-devserver node conformance.mjs

$(CONFORMANCE)/node_modules/.package-lock.json: $(CONFORMANCE)/package.json $(CONFORMANCE)/package-lock.json
	cd $(CONFORMANCE) && npm ci --no-audit --no-fund
	@touch $@

clean:
	$(CARGO) clean
	rm -rf $(BUILD_C)
