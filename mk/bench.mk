# `make bench`: performance against libxml2, urlwatch, curl | xmllint and the library
# floor (BENCHMARKS.md). Not part of `make check`: it takes several minutes.

BENCH_BUILD ?= $(BUILD)/O2
BENCH_PKGS   = urlwatch strace libxml2-utils curl
BENCH_ARGS  ?=

.PHONY: bench bench-deps bench-tools

bench-deps: deps
	$(call apt_install,make bench-deps,$(BENCH_PKGS))

# Everything measured is built with -O2 alone, in its own build directory.
bench-tools:
	$(MAKE) BUILD=$(BENCH_BUILD) OPT=-O2 SANITIZE= $(BENCH_BUILD)/ratd $(BENCH_BUILD)/ratctl \
		$(BENCH_BUILD)/bench/parse_bench $(BENCH_BUILD)/bench/loadgen \
		$(BENCH_BUILD)/bench/libfloor $(BENCH_BUILD)/bench/cpurun

bench: bench-deps bench-tools
	python3 tests/bench/run.py --build $(BENCH_BUILD) $(BENCH_ARGS)

$(BUILD)/bench/parse_bench: tests/bench/parse_bench.c $(BUILD)/libratd.a $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/loadgen: tests/bench/loadgen.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^

$(BUILD)/bench/cpurun: tests/bench/cpurun.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^

# No --as-needed here: the floor must load every library the link line names.
$(BUILD)/bench/libfloor: tests/bench/libfloor.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $^ -Wl,--no-as-needed $(LDLIBS)
