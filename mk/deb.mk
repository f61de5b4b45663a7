# `make deb`: binary Debian packages built with the Debian tools (debian/, debhelper
# compat 13) into build/deb/. The build runs on a copy of the tree in build/deb/src, so
# the checkout gets no debian/ratd, debian/.debhelper or object files.
#   make deb-deps    installs what `make deb` and its test need (not needed by `make check`)
#   make deb-check   builds the package and checks its file list, conffiles and lintian

DEB_DIR   ?= build/deb
DEB_TOOLS  = debhelper dpkg-dev lintian

.PHONY: deb deb-deps deb-check

deb-deps: deps
	$(call apt_install,make deb-deps,$(DEB_TOOLS))

deb:
	@command -v dpkg-buildpackage >/dev/null && command -v dh >/dev/null || \
		{ echo "make deb: dpkg-buildpackage and dh are missing: run make deb-deps"; exit 1; }
	rm -rf $(DEB_DIR)/src
	mkdir -p $(DEB_DIR)/src/ratd
	@# The files git knows (committed or not, ignored ones left out); else the tree
	@# without build outputs.
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
		git ls-files -z --cached --others --exclude-standard | \
			tar --null --ignore-failed-read -T - -cf - ; \
	else \
		tar --exclude=./.git --exclude='./build*' --exclude=./run -cf - . ; \
	fi | tar -xf - -C $(DEB_DIR)/src/ratd
	@# A fresh build: nothing of this make's command line (SANITIZE=1, BUILD=...) leaks
	@# into the package's.
	cd $(DEB_DIR)/src/ratd && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u RATD_SANITIZED \
		dpkg-buildpackage -us -uc -b
	rm -f $(DEB_DIR)/*.deb $(DEB_DIR)/*.ddeb $(DEB_DIR)/*.changes $(DEB_DIR)/*.buildinfo
	mv $(DEB_DIR)/src/*.deb $(DEB_DIR)/src/*.changes $(DEB_DIR)/src/*.buildinfo $(DEB_DIR)/
	rm -rf $(DEB_DIR)/src
	@ls -l $(DEB_DIR)/*.deb

deb-check:
	tests/integration/test_deb.sh $(DEB_DIR)
