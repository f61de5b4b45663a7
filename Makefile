# ratd — GNU Makefile. See README.md: `make run`, `make check`.

PREFIX     ?= /usr/local
SYSCONFDIR ?= /etc
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
DATADIR    ?= $(PREFIX)/share
MANDIR     ?= $(DATADIR)/man
SEEDDIR    ?= $(DATADIR)/ratd
UNITDIR    ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
DESTDIR    ?=
# A sanitizer build lives apart: make does not notice changed flags.
ifeq ($(SANITIZE),1)
BUILD      ?= build-san
endif
BUILD      ?= build

CC      ?= cc
OPT     ?= -O2 -g
PKGS     = libcurl libxml-2.0 jansson
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CPPFLAGS += -D_GNU_SOURCE -Icommon -Idaemon \
	-DRATD_SYSCONFDIR='"$(SYSCONFDIR)"' -DRATD_SEED_DIR='"$(SEEDDIR)"'
CFLAGS   += -std=c11 $(OPT) -Wall -Wextra -Wshadow -Wstrict-prototypes -Wformat=2 \
	-Wmissing-prototypes -Wmissing-declarations \
	-Wno-unused-parameter $(PKG_CFLAGS)
LDFLAGS  += -Wl,--as-needed
LDLIBS   += $(PKG_LIBS) -lev -lm

# `make SANITIZE=1 ...` builds everything with ASan and UBSan.
ifeq ($(SANITIZE),1)
export RATD_SANITIZED = 1
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

DEB_PKGS = libcurl4-openssl-dev libxml2-dev libev-dev libcmocka-dev libjansson-dev pkg-config python3
# The published files' validators (tests/integration/suite_publish.py), for Debian's python3.
DEB_PKGS += python3-feedparser python3-icalendar python3-html5lib libxml2-utils chromium
DEB_PYTHON ?= /usr/bin/python3

# common/ is what both programs link: dates, UTF-8, the socket protocol, the status
# tables (`ratd --once` prints one) and the timeline chart (ratctl and the published files).
COMMON_SRC := common/date.c common/utf8.c common/render.c common/render_timeline.c common/svg.c
COMMON_OBJ := $(COMMON_SRC:%.c=$(BUILD)/%.o)
LIB_SRC    := $(filter-out daemon/main.c,$(wildcard daemon/*.c))
LIB_OBJ    := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_SRC    := $(wildcard cli/*.c)
CLI_OBJ    := $(CLI_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps check unit integration run install clean memcheck

all: $(BUILD)/ratd $(BUILD)/ratctl

# ratctl and common/ see no daemon header: ratctl does not depend on the daemon.
$(BUILD)/cli/%.o $(BUILD)/common/%.o: CPPFLAGS := $(filter-out -Idaemon,$(CPPFLAGS))

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/libratd.a: $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/ratd: $(BUILD)/daemon/main.o $(BUILD)/libratd.a $(COMMON_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/ratctl: $(CLI_OBJ) $(COMMON_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# tests/unit/helpers.c is linked into every unit test.
$(BUILD)/tests/unit/helpers.o: CPPFLAGS += -DFIXTURES='"tests/fixtures"'

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/tests/unit/helpers.o $(BUILD)/libratd.a $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -DFIXTURES='"tests/fixtures"' $(LDFLAGS) -o $@ $^ \
		$(LDLIBS) -lcmocka

# $(call apt_install,WHO,PACKAGES): installs those of PACKAGES dpkg does not list as
# installed, saying which first. NO_DEPS=1 skips it, for those who manage packages
# themselves.
apt_install = @if [ -n "$(NO_DEPS)" ]; then echo "$(1): NO_DEPS is set; not installing $(2)"; \
	else missing=""; for p in $(2); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' \
			|| missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "$(1): installing$$missing"; \
		SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing; \
	else echo "$(1): installed already: $(strip $(2))"; fi; fi

deps:
	$(call apt_install,make deps,$(DEB_PKGS))

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

# The python suites run last: their "NAME: N passed, N failed" lines close the output.
integration: all
	tests/integration/test_systemd.sh $(BUILD)/ratd
	tests/integration/test_install.sh $(BUILD)
	tests/integration/test_deb.sh $(BUILD)/deb
	python3 tests/integration/run.py --build $(BUILD)
	python3 tests/integration/suite_alerts.py --build $(BUILD)
	python3 tests/integration/suite_faults.py --build $(BUILD)
	python3 tests/integration/suite_abuse.py --build $(BUILD)
	python3 tests/integration/suite_crash.py --build $(BUILD)
	$(DEB_PYTHON) tests/integration/suite_publish.py --build $(BUILD)

check: deps
	$(MAKE) --no-print-directory unit
	$(MAKE) --no-print-directory fuzz-regress
	$(MAKE) --no-print-directory integration

# ratd and ratctl under valgrind memcheck: zero errors, zero bytes definitely lost.
memcheck: all
	@command -v valgrind >/dev/null || { echo "memcheck: apt-get install valgrind"; exit 1; }
	tests/integration/memcheck.sh $(BUILD)

run: deps all
	@mkdir -p run/state
	$(BUILD)/ratd -c etc/ratd.dev.conf

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(SEEDDIR) \
		$(DESTDIR)$(SEEDDIR)/presets $(DESTDIR)$(SYSCONFDIR)/ratd/treaties.d
	install -m 0755 $(BUILD)/ratd $(DESTDIR)$(SBINDIR)/ratd
	install -m 0755 $(BUILD)/ratctl $(DESTDIR)$(BINDIR)/ratctl
	install -m 0644 data/*.xml $(DESTDIR)$(SEEDDIR)/
	install -m 0644 data/presets/*.conf $(DESTDIR)$(SEEDDIR)/presets/
	@# An existing configuration is the administrator's: never overwrite it. The shipped
	@# one names /etc/ratd and /usr/local/share/ratd: rewritten to SYSCONFDIR and SEEDDIR.
	[ -e $(DESTDIR)$(SYSCONFDIR)/ratd/ratd.conf ] || \
		sed -e 's|/etc/ratd/|$(SYSCONFDIR)/ratd/|g' -e 's|/usr/local/share/ratd|$(SEEDDIR)|g' \
		etc/ratd.conf > $(DESTDIR)$(SYSCONFDIR)/ratd/ratd.conf && \
		chmod 0644 $(DESTDIR)$(SYSCONFDIR)/ratd/ratd.conf
	[ -e $(DESTDIR)$(SYSCONFDIR)/ratd/treaties.d/IV-13.conf ] || \
		install -m 0644 etc/treaties.d/IV-13.conf $(DESTDIR)$(SYSCONFDIR)/ratd/treaties.d/
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(BASHCOMPDIR)
	@# Man pages and the service name /usr/local and /etc: rewritten to the install paths.
	for m in man/ratctl.1 man/ratd.conf.5 man/ratd.8; do \
		sed -e 's|/usr/local/share/ratd|$(SEEDDIR)|g' -e 's|/etc/ratd/|$(SYSCONFDIR)/ratd/|g' \
		$$m > $(DESTDIR)$(MANDIR)/man$${m##*.}/$${m##*/} && \
		chmod 0644 $(DESTDIR)$(MANDIR)/man$${m##*.}/$${m##*/} || exit 1; \
	done
	sed 's|^ExecStart=/usr/local/sbin/ratd|ExecStart=$(SBINDIR)/ratd|' systemd/ratd.service \
		> $(DESTDIR)$(UNITDIR)/ratd.service && chmod 0644 $(DESTDIR)$(UNITDIR)/ratd.service
	install -m 0644 systemd/ratd.socket $(DESTDIR)$(UNITDIR)/ratd.socket
	install -m 0644 systemd/ratd.sysusers.conf $(DESTDIR)$(SYSUSERSDIR)/ratd.conf
	install -m 0644 etc/ratctl.bash $(DESTDIR)$(BASHCOMPDIR)/ratctl
	@echo "ratd: to run it under systemd: systemd-sysusers && systemctl daemon-reload &&" \
		"systemctl enable --now ratd.socket ratd.service"

clean:
	rm -rf $(BUILD)

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(COMMON_OBJ:.o=.d) $(BUILD)/tests/unit/helpers.d $(BUILD)/daemon/main.d

# Longer suites (fuzzing, benchmarks, ...) keep their targets in mk/*.mk.
include $(wildcard mk/*.mk)
