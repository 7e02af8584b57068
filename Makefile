# Makefile - builds mod_stuflz (apxs) and the stuflz CLI from one core,
# runs the tests, and starts a development server.
#
#   make            build/mod_stuflz.so and build/stuflz
#   make run        build, then httpd in the foreground on 127.0.0.1:$(PORT)
#   make test       unit tests (also under ASan+UBSan) and live tests
#   make install    apxs -i plus the Debian a2enmod files
#   make fuzz       libFuzzer targets, each run FUZZ_SECONDS (60) from seeds
#   make valgrind   live traffic through httpd -X under valgrind

PORT ?= 8080
APXS ?= apxs
BUILD ?= build

DEPS_STAMP := $(BUILD)/.deps

APR_CFLAGS = $(shell apr-1-config --cflags --cppflags --includes 2>/dev/null)
APR_LIBS = $(shell apr-1-config --link-ld 2>/dev/null)
XML_CFLAGS = $(shell xml2-config --cflags 2>/dev/null)
XML_LIBS = $(shell xml2-config --libs 2>/dev/null)
HTTPD_INC = $(shell $(APXS) -q INCLUDEDIR 2>/dev/null)

WARN = -Wall -Wextra -Werror -Wno-unused-parameter
CSTD = -std=gnu11
OPT ?= -O2 -g
CFLAGS_CORE = $(CSTD) $(OPT) $(WARN) -fPIC -fvisibility=hidden \
    -Iinclude $(APR_CFLAGS) $(XML_CFLAGS)
LIBS_CORE = $(XML_LIBS) -llmdb -lcrypto -lcurl $(APR_LIBS) -laprutil-1

CORE_SRC = $(wildcard src/*.c)
CORE_OBJ = $(patsubst src/%.c,$(BUILD)/obj/%.o,$(CORE_SRC))
UNIT_SRC = $(wildcard t/unit/test_*.c)
UNIT_BIN = $(patsubst t/unit/%.c,$(BUILD)/t/%,$(UNIT_SRC))
HEADERS = $(wildcard include/*.h) $(wildcard src/*.h) $(wildcard t/unit/*.h)

SAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer \
    -fno-sanitize-recover=undefined

.PHONY: all deps module cli unit unit-asan test test-live run install \
    clean format fuzz fuzz-build fuzz-ci fuzz-seeds valgrind

all: module cli

deps: $(DEPS_STAMP)

$(DEPS_STAMP): tools/deps.sh
	@sh tools/deps.sh
	@mkdir -p $(BUILD) && touch $@

module: $(BUILD)/mod_stuflz.so
cli: $(BUILD)/stuflz

$(BUILD)/obj/%.o: src/%.c $(HEADERS) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_CORE) -c -o $@ $<

$(BUILD)/libstuflz.a: $(CORE_OBJ)
	rm -f $@ && ar rcs $@ $^

# apxs compiles the glue with httpd's flags and links it with the core.
# Two glue files: the handlers (mod_stuflz.c) and the outbox delivery on
# mod_watchdog (mod_stuflz_outbox.c).
$(BUILD)/mod_stuflz.so: mod_stuflz.c mod_stuflz_outbox.c mod_stuflz_outbox.h \
    $(BUILD)/libstuflz.a $(HEADERS)
	@mkdir -p $(BUILD)/apxs
	cp mod_stuflz.c mod_stuflz_outbox.c mod_stuflz_outbox.h $(BUILD)/apxs/
	cd $(BUILD)/apxs && $(APXS) -c -o mod_stuflz.so \
	    -Wc,"$(CSTD) $(WARN) -fvisibility=hidden -I$(CURDIR)/include \
	    $(XML_CFLAGS)" mod_stuflz.c mod_stuflz_outbox.c ../libstuflz.a \
	    $(XML_LIBS) -llmdb -lcrypto -lcurl >apxs.log 2>&1 || \
	    { cat apxs.log; exit 1; }
	cp $(BUILD)/apxs/.libs/mod_stuflz.so $@.tmp && mv $@.tmp $@

$(BUILD)/stuflz: tools/stuflz.c $(BUILD)/libstuflz.a $(HEADERS)
	$(CC) $(CFLAGS_CORE) -o $@ tools/stuflz.c $(BUILD)/libstuflz.a \
	    $(LIBS_CORE) -ljansson -lcurl

$(BUILD)/t/%: t/unit/%.c t/unit/tap.c $(BUILD)/libstuflz.a $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_CORE) -It/unit -o $@ $< t/unit/tap.c \
	    $(BUILD)/libstuflz.a $(LIBS_CORE)

unit: $(UNIT_BIN)

# The same unit tests built with AddressSanitizer and UBSan.
unit-asan:
	$(MAKE) BUILD=build/asan OPT="-O1 -g $(SAN_FLAGS)" \
	    LDFLAGS="$(SAN_FLAGS)" CC="$(CC) $(SAN_FLAGS)" unit

test: all unit unit-asan
	STUFLZ_BUILD=$(CURDIR)/$(BUILD) prove --source Executable --source Perl \
	    $(UNIT_BIN) $(patsubst $(BUILD)/%,build/asan/%,$(UNIT_BIN)) t/*.t

test-live: all
	STUFLZ_BUILD=$(CURDIR)/$(BUILD) prove -v t/*.t

run: all
	@PORT=$(PORT) perl tools/devserver.pl

install: all
	$(APXS) -i -n stuflz $(BUILD)/mod_stuflz.so
	install -d $(DESTDIR)/etc/apache2/mods-available
	install -m 644 conf/stuflz.load conf/stuflz.conf \
	    $(DESTDIR)/etc/apache2/mods-available/
	install -d $(DESTDIR)/usr/share/stuflz/xsd
	install -m 644 xsd/*.xsd $(DESTDIR)/usr/share/stuflz/xsd/
	install -d $(DESTDIR)/usr/local/bin
	install -m 755 $(BUILD)/stuflz $(DESTDIR)/usr/local/bin/stuflz

# libFuzzer targets (fuzz/fuzz_*.c) against the core built by clang with
# ASan and UBSan. Each run starts from build/fuzz/seeds/NAME (our own
# fixtures, fuzz/make-seeds.sh) and keeps what it finds in
# build/fuzz/corpus/NAME; a crash lands in build/fuzz/artifacts/.
FUZZ_CC ?= clang-14
FUZZ_SECONDS ?= 60
FUZZ_BUILD = $(BUILD)/fuzz
FUZZ_NAMES = mime ebms zaklk01 record
FUZZ_BIN = $(patsubst %,$(FUZZ_BUILD)/fuzz_%,$(FUZZ_NAMES))
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=undefined \
    -fno-omit-frame-pointer
FUZZ_CFLAGS = $(CSTD) -O1 -g $(WARN) -Iinclude $(APR_CFLAGS) $(XML_CFLAGS)
FUZZ_OBJ = $(patsubst src/%.c,$(FUZZ_BUILD)/obj/%.o,$(CORE_SRC))
FUZZ_RUN = -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
    -max_len=65536 -print_final_stats=1 $(FUZZ_EXTRA)

$(FUZZ_BUILD)/obj/%.o: src/%.c $(HEADERS) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(FUZZ_SAN) \
	    -c -o $@ $<

$(FUZZ_BUILD)/libstuflz.a: $(FUZZ_OBJ)
	rm -f $@ && ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz.h $(FUZZ_BUILD)/libstuflz.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Ifuzz -DSTUFLZ_FUZZ_ROOT='"$(CURDIR)"' \
	    -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $< $(FUZZ_BUILD)/libstuflz.a \
	    $(LIBS_CORE)

fuzz-build: $(FUZZ_BIN)

fuzz-seeds:
	sh fuzz/make-seeds.sh $(FUZZ_BUILD)/seeds

# Every target in turn; stops at the first one that finds a crash.
fuzz: fuzz-build fuzz-seeds
	@mkdir -p $(FUZZ_BUILD)/artifacts
	@set -e; for name in $(FUZZ_NAMES); do \
	    mkdir -p $(FUZZ_BUILD)/corpus/$$name; \
	    echo "== fuzz_$$name: $(FUZZ_SECONDS) s"; \
	    dict=; [ -f fuzz/$$name.dict ] && dict=-dict=fuzz/$$name.dict; \
	    $(FUZZ_BUILD)/fuzz_$$name $(FUZZ_RUN) $$dict \
	        -artifact_prefix=$(FUZZ_BUILD)/artifacts/$$name- \
	        $(FUZZ_BUILD)/corpus/$$name $(FUZZ_BUILD)/seeds/$$name \
	        >$(FUZZ_BUILD)/$$name.log 2>&1 || \
	        { tail -n 60 $(FUZZ_BUILD)/$$name.log; exit 1; }; \
	    grep -E '^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units)' \
	        $(FUZZ_BUILD)/$$name.log; \
	done; \
	for name in $(FUZZ_NAMES); do \
	    for crash in fuzz/crashes/$$name-*; do \
	        [ -f "$$crash" ] || continue; \
	        $(FUZZ_BUILD)/fuzz_$$name "$$crash" >/dev/null 2>&1 || \
	            { echo "fuzz: $$crash still crashes"; exit 1; }; \
	    done; \
	done

# What CI runs: a fixed seed and number of runs per target, so a run
# that passes here passes in CI (time-bounded runs are not repeatable).
fuzz-ci:
	$(MAKE) fuzz FUZZ_SECONDS=120 FUZZ_EXTRA="-seed=1 -runs=150000"

# httpd -X under valgrind with the live traffic of tools/valgrind-live.sh.
valgrind: all
	sh tools/valgrind-live.sh

format:
	clang-format -i mod_stuflz.c src/*.c include/*.h tools/*.c t/unit/*.c

clean:
	rm -rf build
