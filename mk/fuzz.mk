# Fuzzing with clang and libFuzzer (ASan + UBSan). Targets are tests/fuzz/fuzz_NAME.c.
#   make fuzz [FUZZ_SECONDS=60] [FUZZ_TARGETS="html xml"]   fuzz each target, then a table
#   make fuzz-regress    each target once over its crashers/ and corpus/ inputs: no
#                        libFuzzer needed (tests/fuzz/standalone.c is the main), any compiler
# Daemon sources are compiled here again with clang: build/libratd.a may be gcc's.

FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_ALL     := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_TARGETS ?= $(FUZZ_ALL)
# The regression driver prefers clang but works with any C compiler that has ASan.
FUZZ_REGRESS_CC ?= $(if $(shell command -v clang 2>/dev/null),clang,$(CC))

# Longest input tried: whole pages for the parsers, a few request lines for the socket.
FUZZ_MAXLEN_html    = 262144
FUZZ_MAXLEN_xml     = 262144
FUZZ_MAXLEN_conf    = 65536
FUZZ_MAXLEN_control = 131072
FUZZ_MAXLEN_state   = 131072
FUZZ_MAXLEN_journal = 131072
FUZZ_DICT_html    = html
FUZZ_DICT_xml     = xml
FUZZ_DICT_conf    = conf
FUZZ_DICT_control = json
FUZZ_DICT_state   = json
FUZZ_DICT_journal = json
FUZZ_FLAGS ?= -rss_limit_mb=2048 -timeout=10 -print_final_stats=1

FUZZ_SAN      = -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer
FUZZ_CPPFLAGS = $(CPPFLAGS) -I. -Itests/fuzz
# clang counts vsnprintf(fmt) in va_list wrappers under -Wformat=2; gcc does not.
FUZZ_CFLAGS   = $(CFLAGS) -O1 -g -Wno-format-nonliteral $(FUZZ_SAN)
# The daemon's sources and those it shares with ratctl (the published files draw charts).
FUZZ_LIB_SRC := $(filter-out daemon/main.c,$(wildcard daemon/*.c)) $(COMMON_SRC)
FUZZ_OBJ     := $(FUZZ_LIB_SRC:%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_REG_OBJ := $(FUZZ_LIB_SRC:%.c=$(FUZZ_BUILD)/regress/obj/%.o)
FUZZ_ENV      = ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

.PHONY: fuzz fuzz-deps fuzz-build fuzz-regress fuzz-clean

# libFuzzer ships in clang's runtime package on Debian (libclang-rt-N-dev), N the
# version of the clang installed.
fuzz-deps:
	@if ! command -v $(FUZZ_CC) >/dev/null 2>&1; then \
		echo "make fuzz-deps: installing clang"; \
		SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q clang || exit 1; \
	fi; \
	mkdir -p $(FUZZ_BUILD); \
	printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }\n' \
		> $(FUZZ_BUILD)/probe.c; \
	if ! $(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $(FUZZ_BUILD)/probe \
	    $(FUZZ_BUILD)/probe.c 2>/dev/null; then \
		v=$$($(FUZZ_CC) --version | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -n 1); \
		echo "make fuzz-deps: installing libclang-rt-$$v-dev (libFuzzer)"; \
		SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q libclang-rt-$$v-dev; \
	fi

# libFuzzer builds: the library gets coverage instrumentation, the targets the runtime.
$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_BUILD)/libratd-fuzz.a: $(FUZZ_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

# A target that includes a daemon .c defines that module's symbols itself, so the
# archive's copy is never pulled in.
$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_BUILD)/libratd-fuzz.a
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer -MMD -MP \
		-MF $@.d -MT $@ $(LDFLAGS) -o $@ $< $(FUZZ_BUILD)/libratd-fuzz.a $(LDLIBS)

fuzz-build: $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)

# The parsers' seeds are the test fixtures themselves (pages, hostile XML), not copies.
FUZZ_FIXTURE_SEEDS := tests/fixtures
FUZZ_SEEDS_html := $(FUZZ_FIXTURE_SEEDS)
FUZZ_SEEDS_xml := $(FUZZ_FIXTURE_SEEDS)

# One run per target, so `make -j fuzz` fuzzes targets side by side. The exit status is
# kept for the table; libFuzzer writes crash inputs under artifacts/.
fuzz-run-%: $(FUZZ_BUILD)/fuzz_%
	@mkdir -p $(FUZZ_BUILD)/corpus/$* $(FUZZ_BUILD)/artifacts/$* $(FUZZ_BUILD)/logs
	@echo "fuzz: $* for $(FUZZ_SECONDS)s (log: $(FUZZ_BUILD)/logs/$*.log)"
	@rm -f $(FUZZ_BUILD)/logs/$*.rc
	@$(FUZZ_ENV) ./$< -max_total_time=$(FUZZ_SECONDS) -max_len=$(FUZZ_MAXLEN_$*) \
		$(FUZZ_FLAGS) $(if $(FUZZ_DICT_$*),-dict=tests/fuzz/dict/$(FUZZ_DICT_$*).dict) \
		-artifact_prefix=$(FUZZ_BUILD)/artifacts/$*/ \
		$(FUZZ_BUILD)/corpus/$* $(wildcard tests/fuzz/corpus/$*) $(FUZZ_SEEDS_$*) \
		>$(FUZZ_BUILD)/logs/$*.log 2>&1; echo $$? >$(FUZZ_BUILD)/logs/$*.rc

fuzz: fuzz-deps
	@$(MAKE) --no-print-directory fuzz-build
	@$(MAKE) --no-print-directory $(FUZZ_TARGETS:%=fuzz-run-%)
	@printf '%-8s %12s %6s %9s %7s %7s  %s\n' target runs secs exec/s cov corpus result
	@fail=0; for t in $(FUZZ_TARGETS); do \
		log=$(FUZZ_BUILD)/logs/$$t.log; rc=$$(cat $(FUZZ_BUILD)/logs/$$t.rc 2>/dev/null); \
		runs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $$log | tail -n 1); \
		secs=$$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' $$log | tail -n 1); \
		[ -n "$$runs" ] || runs=$$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' $$log | tail -n 1); \
		cov=$$(grep -o 'cov: [0-9]*' $$log | tail -n 1 | cut -d' ' -f2); \
		corp=$$(ls $(FUZZ_BUILD)/corpus/$$t | wc -l); \
		if [ -n "$$secs" ] && [ "$$secs" -gt 0 ]; then eps=$$(( $${runs:-0} / secs )); \
		else eps=$$(sed -n 's/^stat::average_exec_per_sec: *//p' $$log | tail -n 1); fi; \
		if [ "$$rc" = 0 ]; then res=ok; else res="FAILED (rc $$rc; see $$log)"; fail=1; fi; \
		printf '%-8s %12s %6s %9s %7s %7s  %s\n' $$t "$${runs:-?}" "$${secs:-?}" \
			"$${eps:-?}" "$${cov:-?}" $$corp "$$res"; \
		for a in $(FUZZ_BUILD)/artifacts/$$t/*; do [ -e "$$a" ] && echo "         artifact: $$a"; done; \
	done; exit $$fail

# The regression driver: same targets, a plain main(), no coverage instrumentation.
$(FUZZ_BUILD)/regress/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_REGRESS_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

$(FUZZ_BUILD)/regress/libratd.a: $(FUZZ_REG_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(FUZZ_BUILD)/regress/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/standalone.c \
    $(FUZZ_BUILD)/regress/libratd.a
	$(FUZZ_REGRESS_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -MMD -MP -MF $@.d -MT $@ \
		$(LDFLAGS) -o $@ $< tests/fuzz/standalone.c $(FUZZ_BUILD)/regress/libratd.a $(LDLIBS)

# Every target runs even after one fails, so one report names every regression.
fuzz-regress: $(FUZZ_ALL:%=$(FUZZ_BUILD)/regress/fuzz_%)
	@fail=; for t in $(FUZZ_ALL); do \
		dirs=; for d in tests/fuzz/crashers/$$t tests/fuzz/corpus/$$t; do \
			[ -d $$d ] && dirs="$$dirs $$d"; done; \
		case $$t in html|xml) dirs="$$dirs $(FUZZ_FIXTURE_SEEDS)";; esac; \
		[ -n "$$dirs" ] || continue; \
		$(FUZZ_ENV) $(FUZZ_BUILD)/regress/fuzz_$$t $$dirs || fail="$$fail $$t"; \
	done; \
	if [ -n "$$fail" ]; then echo "fuzz-regress: FAILED:$$fail"; exit 1; fi

fuzz-clean:
	rm -rf $(FUZZ_BUILD)

-include $(FUZZ_OBJ:.o=.d) $(FUZZ_REG_OBJ:.o=.d) $(FUZZ_ALL:%=$(FUZZ_BUILD)/fuzz_%.d) \
	$(FUZZ_ALL:%=$(FUZZ_BUILD)/regress/fuzz_%.d)
