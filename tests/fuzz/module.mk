# libFuzzer harnesses (make fuzz; see tests/fuzz/README.md). Built with
# clang into build/fuzz/, the library included, so that the gcc build in
# build/release and build/asan is left alone.
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_HARNESSES := config outcome retry_after timefmt api from

FUZZ_B := build/fuzz
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all
# clang warns about format strings passed on (vsnprintf of a va_list) where gcc
# does not; the gcc build keeps the warnings.
FUZZ_CFLAGS := $(BASE_CFLAGS) -Wno-format-nonliteral -O1 -g -fno-omit-frame-pointer $(FUZZ_SAN) \
	-fsanitize=fuzzer-no-link
FUZZ_LIB := $(FUZZ_B)/libtenantdel.a
FUZZ_COMMON := $(FUZZ_B)/tests/fuzz/fuzz.o
FUZZ_BINS := $(FUZZ_HARNESSES:%=$(FUZZ_B)/fuzz_%)
.SECONDARY: $(FUZZ_COMMON) $(FUZZ_HARNESSES:%=$(FUZZ_B)/tests/fuzz/fuzz_%.o)

# The --from reader and the CLI helpers it reports with.
$(FUZZ_B)/fuzz_from: $(FUZZ_B)/cli/tenant_ids.o $(FUZZ_B)/cli/common.o

$(FUZZ_B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

# The dashboard's bytes: the release build's generated fragment (its rule
# is in the Makefile; the fuzz build is never a SANITIZE build).
$(FUZZ_B)/scheduler/ui_assets.o: build/release/gen/ui_assets.inc
$(FUZZ_B)/scheduler/ui_assets.o: FUZZ_CFLAGS += -Ibuild/release/gen

$(FUZZ_LIB): $(LIB_SRC:%.c=$(FUZZ_B)/%.o)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_B)/fuzz_%: $(FUZZ_B)/tests/fuzz/fuzz_%.o $(FUZZ_COMMON) $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $(filter %.o,$^) $(FUZZ_LIB) $(PKG_LIBS)

.PHONY: fuzz fuzz-build
fuzz-build: $(FUZZ_BINS)

fuzz: $(FUZZ_BINS)
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_DIR=$(abspath $(FUZZ_B)) \
	./tests/fuzz/run $(FUZZ_HARNESSES)
