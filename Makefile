# tenantdel - plain Makefile. Each module lists its own sources in its
# module.mk; this file holds the rules.
#
#   make              build ./tenantdel
#   make test         unit + end-to-end tests (ends with "N passed, N failed")
#   make test SANITIZE=1   the same under ASan + UBSan (build/asan/)
#   make demo         the demo against the fake fleet (ends with a user erasure)
#   make bench        benchmarks
#   make fuzz         libFuzzer harnesses, FUZZ_SECONDS each (tests/fuzz/)
#   make install PREFIX=/usr/local DESTDIR=

.DEFAULT_GOAL := all

PREFIX ?= /usr/local
DESTDIR ?=
CC ?= gcc

# BIN_PKGS are what tenantdel itself links: libcrypto, libcurl, libpq and
# libmicrohttpd (and the ~30 libraries they bring) are loaded when first
# needed (util/dl.h), so a short command does not map them; only their
# headers are used to build it. The tests, the fleet and the benchmarks
# link everything.
BIN_PKGS := sqlite3 libcjson inih nettle
PKGS := $(BIN_PKGS) libcrypto libpq libcurl libmicrohttpd
DEPS_OK := $(shell pkg-config --exists $(PKGS) 2>/dev/null && test -f /usr/include/ev.h && echo yes)
ifneq ($(DEPS_OK),yes)
ifeq ($(filter clean deps,$(MAKECMDGOALS)),)
$(info tenantdel: build dependencies are missing; installing them with scripts/install-deps)
DEPS_RC := $(shell ./scripts/install-deps >&2; echo $$?)
ifneq ($(DEPS_RC),0)
$(error dependencies missing: run "sudo ./scripts/install-deps" (Debian), then make again)
endif
endif
endif

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
SYS_LIBS := -lev -lm -pthread
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) $(SYS_LIBS)
BIN_LIBS := $(shell pkg-config --libs $(BIN_PKGS) 2>/dev/null) $(SYS_LIBS)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

WARN := -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wno-unused-parameter -Werror
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -pthread -I. $(WARN) $(PKG_CFLAGS) -MMD -MP

ifeq ($(SANITIZE),1)
V := asan
OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDOPT := -fsanitize=address,undefined
BIN := build/asan/tenantdel
else
V := release
OPT := -O2 -g
LDOPT :=
BIN := tenantdel
endif
CFLAGS ?=
ALL_CFLAGS := $(BASE_CFLAGS) $(OPT) $(CFLAGS)
B := build/$(V)

# Filled in by the module fragments.
LIB_SRC :=
MAIN_SRC :=
FLEET_SRC :=
UNIT_TESTS :=
BENCH_SRC :=

include util/module.mk
include jobs/module.mk
include config/module.mk
include store/module.mk
include store/sqlite/module.mk
include store/pg/module.mk
include scheduler/module.mk
include cli/module.mk
include tests/fleet/module.mk
include bench/module.mk
include tests/fuzz/module.mk

LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o)
MAIN_OBJ := $(MAIN_SRC:%.c=$(B)/%.o)
FLEET_OBJ := $(FLEET_SRC:%.c=$(B)/%.o)
LIB := $(B)/libtenantdel.a
FLEET := $(B)/tdfleet
UNIT_BINS := $(UNIT_TESTS:%=$(B)/tests/%)

.PHONY: all test unit e2e demo bench install clean deps asan
all: $(BIN)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# The dashboard (ui/) compiled in: scripts/embed-ui writes its bytes as a C
# fragment that scheduler/ui_assets.c includes. The folder is a prerequisite
# too, so that adding or removing a file regenerates it.
UI_FILES := $(wildcard ui/*)
$(B)/gen/ui_assets.inc: scripts/embed-ui ui $(UI_FILES)
	@mkdir -p $(dir $@)
	./scripts/embed-ui ui >$@.tmp && mv $@.tmp $@
$(B)/scheduler/ui_assets.o: $(B)/gen/ui_assets.inc
$(B)/scheduler/ui_assets.o: ALL_CFLAGS += -I$(B)/gen

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(MAIN_OBJ) $(LIB)
	$(CC) $(LDOPT) -o $@ $(MAIN_OBJ) $(LIB) $(BIN_LIBS)

$(FLEET): $(FLEET_OBJ) $(LIB)
	$(CC) $(LDOPT) -o $@ $(FLEET_OBJ) $(LIB) $(PKG_LIBS)

$(B)/tests/test_%: $(B)/tests/unit/test_%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDOPT) -o $@ $< $(LIB) $(PKG_LIBS) $(CMOCKA_LIBS)

deps:
	./scripts/install-deps

# The whole suite: unit tests (cmocka, TAP) alongside end-to-end (Python, real
# binary against the fake fleet on 127.0.0.1; a process per file, E2E_JOBS
# at a time, longest first by the times kept in $(B)). One summary line at
# the end.
# A throwaway PostgreSQL cluster runs meanwhile (tests/pg/with-cluster): the
# store's contract tests run against it as well as SQLite, and so do the
# end-to-end files that go through the store (a database per test workdir;
# the list, and why the others are SQLite-only: tests/e2e/runner.py).
# What the end-to-end tests drive besides the build libraries (a real browser,
# promtool, libfaketime, a PostgreSQL server): installed on first use like the
# libraries.
TEST_TOOLS := chromium chromedriver promtool faketime python3
# End-to-end files at a time: most of a test waits; the sanitizers' binaries
# are CPU-bound enough that a fourth process slows the chaos tests past
# their deadlines.
E2E_JOBS ?= $(if $(filter 1,$(SANITIZE)),3,4)
test: $(BIN) $(FLEET) $(UNIT_BINS)
	@for t in $(TEST_TOOLS); do command -v $$t >/dev/null || { ./scripts/install-deps; break; }; done
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ./scripts/install-deps
	TENANTDEL_BIN=$(abspath $(BIN)) TENANTDEL_FLEET=$(abspath $(FLEET)) \
	UNIT_TESTS="$(abspath $(UNIT_BINS))" E2E_TIMES=$(abspath $(B))/e2e-times.json E2E_JOBS=$(E2E_JOBS) \
	./tests/pg/with-cluster ./tests/run-tests

unit: $(UNIT_BINS)
	TENANTDEL_BIN=$(abspath $(BIN)) UNIT_TESTS="$(abspath $(UNIT_BINS))" E2E=0 \
	./tests/pg/with-cluster ./tests/run-tests

asan:
	$(MAKE) test SANITIZE=1

demo: $(BIN) $(FLEET)
	TENANTDEL_BIN=$(abspath $(BIN)) TENANTDEL_FLEET=$(abspath $(FLEET)) ./scripts/demo

BENCH_RAWCURL := $(B)/rawcurl
$(BENCH_RAWCURL): $(BENCH_SRC)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $(BENCH_SRC) $(PKG_LIBS)

bench: $(BIN) $(BENCH_RAWCURL)
	test -x /usr/sbin/nginx -a -x /usr/bin/time || ./scripts/install-deps bench
	TENANTDEL_BIN=$(abspath $(BIN)) BENCH_RAWCURL=$(abspath $(BENCH_RAWCURL)) ./bench/run

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/doc/tenantdel $(DESTDIR)$(PREFIX)/lib/systemd/system
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/tenantdel
	install -m 0644 docs/tenantdel.1 $(DESTDIR)$(PREFIX)/share/man/man1/tenantdel.1
	sed 's|/usr/local/bin|$(PREFIX)/bin|g' dist/tenantdel.service >$(DESTDIR)$(PREFIX)/lib/systemd/system/tenantdel.service
	sed 's|/usr/local/bin|$(PREFIX)/bin|g' dist/tenantdel.cron >$(DESTDIR)$(PREFIX)/share/doc/tenantdel/tenantdel.cron
	chmod 0644 $(DESTDIR)$(PREFIX)/lib/systemd/system/tenantdel.service \
		$(DESTDIR)$(PREFIX)/share/doc/tenantdel/tenantdel.cron
	install -m 0644 tenantdel.conf.example $(DESTDIR)$(PREFIX)/share/doc/tenantdel/tenantdel.conf.example

clean:
	rm -rf build tenantdel

-include $(shell find build -name '*.d' 2>/dev/null)
