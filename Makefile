# zonetop build and test entry points. Everything runs from a fresh Debian
# machine as root; .ci/run installs what the tests need and then calls `test`.

GO       ?= go
# Static: zinit runs inside zones whose roots have no dynamic loader
# (busybox, tarball brands), from the per-zone binary.
export CGO_ENABLED := 0
BIN      := bin/zonetop
# The per-zone processes' binary (zoneadmd, keeper, zsched, zinit): lean,
# without the console's libraries, and beside zonetop, where zonetop finds
# it (internal/zoneadmd/binary.go).
ZBIN     := $(dir $(BIN))zoneadmd
# The zone's init when a zone names none: a static C program beside the
# per-zone binary (cmd/zinit; DECISIONS.md, zinit in C). Static, as zone
# roots need not have a C library; -Werror, as nothing checks C otherwise.
ZINIT    := $(dir $(BIN))zinit
ZCFLAGS  ?= -O2
ZINIT_CFLAGS := -Wall -Wextra -Werror -static $(ZCFLAGS)
PKGS     := ./...
FUZZTIME ?= 60s
# Every front end answers to a link named after it (argv[0]).
LINKS    := zonecfg zoneadm zlogin prctl projects projadd projmod projdel newtask zonestat
STATICCHECK := $(shell $(GO) env GOPATH)/bin/staticcheck

.PHONY: all build run demo test test-unit v2ring bench scale fuzz lint clean install uninstall deb

all: build

# -buildvcs=auto: --version names the commit when built from a checkout.
build:
	$(GO) build -buildvcs=auto -o $(BIN) ./cmd/zonetop
	$(GO) build -buildvcs=auto -o $(ZBIN) ./cmd/zoneadmd
	$(CC) $(ZINIT_CFLAGS) -o $(ZINIT) cmd/zinit/zinit.c
	for l in $(LINKS); do ln -sf zonetop bin/$$l; done

# Installs the binaries (zonetop and, beside it, the per-zone zoneadmd and
# the zones' zinit),
# the command links, manual pages, shell completion
# (bash, zsh, fish) and the systemd units under
# PREFIX (units under PREFIX/lib/systemd/system, their paths rewritten to
# PREFIX); DESTDIR stages it for a package. The links include prctl:
# Debian's prctl package owns /usr/bin/prctl, which PREFIX/bin comes before
# on root's PATH by default; the zones prctl is what an illumos
# administrator types.
PREFIX   ?= /usr/local
DESTDIR  ?=
UNITDIR  := $(PREFIX)/lib/systemd/system
MANDIR   := $(PREFIX)/share/man
BASHCOMP := $(PREFIX)/share/bash-completion/completions
ZSHCOMP  := $(PREFIX)/share/zsh/site-functions
FISHCOMP := $(PREFIX)/share/fish/vendor_completions.d

install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/zonetop
	install -D -m 0755 $(ZBIN) $(DESTDIR)$(PREFIX)/bin/zoneadmd
	install -D -m 0755 $(ZINIT) $(DESTDIR)$(PREFIX)/bin/zinit
	for l in $(LINKS); do ln -sf zonetop $(DESTDIR)$(PREFIX)/bin/$$l; done
	install -d $(DESTDIR)$(UNITDIR)
	for u in dist/*.service; do \
	  sed 's#/usr/local/bin/zonetop#$(PREFIX)/bin/zonetop#g' $$u >$(DESTDIR)$(UNITDIR)/$$(basename $$u) && \
	  chmod 0644 $(DESTDIR)$(UNITDIR)/$$(basename $$u); \
	done
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(BASHCOMP) $(DESTDIR)$(ZSHCOMP) $(DESTDIR)$(FISHCOMP)
	for c in zonetop $(LINKS); do \
	  case $$c in prctl|projects|newtask) s=1;; *) s=8;; esac; \
	  $(BIN) man $$c >$(DESTDIR)$(MANDIR)/man$$s/$$c.$$s; \
	done
	$(BIN) completion bash >$(DESTDIR)$(BASHCOMP)/zonetop
	for l in $(LINKS); do ln -sf zonetop $(DESTDIR)$(BASHCOMP)/$$l; done
	$(BIN) completion zsh >$(DESTDIR)$(ZSHCOMP)/_zonetop
	$(BIN) completion fish >$(DESTDIR)$(FISHCOMP)/zonetop.fish
	for l in $(LINKS); do ln -sf zonetop.fish $(DESTDIR)$(FISHCOMP)/$$l.fish; done

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/zonetop $(DESTDIR)$(PREFIX)/bin/zoneadmd $(DESTDIR)$(PREFIX)/bin/zinit
	for l in $(LINKS); do rm -f $(DESTDIR)$(PREFIX)/bin/$$l; done
	for u in dist/*.service; do rm -f $(DESTDIR)$(UNITDIR)/$$(basename $$u); done
	for c in zonetop $(LINKS); do rm -f $(DESTDIR)$(MANDIR)/man1/$$c.1 $(DESTDIR)$(MANDIR)/man8/$$c.8 \
	  $(DESTDIR)$(BASHCOMP)/$$c $(DESTDIR)$(FISHCOMP)/$$c.fish; done
	rm -f $(DESTDIR)$(ZSHCOMP)/_zonetop

# A Debian package of what install lays out under /usr, in bin/
# (scripts/deb.sh; prctl goes to /usr/sbin beside Debian's prctl package).
deb: build
	BIN=$(BIN) ZBIN=$(ZBIN) ZINIT=$(ZINIT) ./scripts/deb.sh bin

# Opens the console on this host's real state (needs root for zones).
run: build
	./$(BIN)

demo: build
	./$(BIN) --demo

# The whole suite: unit tests, root integration tests and the fuzz seed
# corpora. Integration tests need root and namespaces; under CI=true they fail
# instead of skipping when they cannot run.
# The tests' binaries obey the fault-injection hooks (internal/testhook);
# the product `build` makes does not.
TESTTAGS := -tags zonetop_testhooks

test: build
	$(GO) vet $(PKGS)
	$(GO) vet $(TESTTAGS) $(PKGS)
	$(GO) test $(TESTTAGS) -count=1 -timeout 30m $(PKGS)

test-unit:
	$(GO) test $(TESTTAGS) -short -count=1 $(PKGS)

# The cgroup v2 ring: the integration tests and a zone-caps check inside a
# qemu guest whose systemd runs cgroup v2 alone (scripts/v2ring/run.sh;
# root, qemu-system-x86, debootstrap). Its own target: it takes minutes.
v2ring: build
	./scripts/v2ring/run.sh

bench: build
	./scripts/bench.sh

# Issue #19's 1,000-zone exercise (N=1000; N and IDLE override); not
# part of test: it takes many minutes and holds N zones up at once.
scale: build
	./scripts/scale.sh

# Each fuzz target runs for FUZZTIME (go test allows one -fuzz target per run).
fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet $(PKGS)
	@test -x $(STATICCHECK) || $(GO) install honnef.co/go/tools/cmd/staticcheck@latest
	$(STATICCHECK) $(PKGS)
	$(STATICCHECK) $(TESTTAGS) $(PKGS)

clean:
	rm -rf bin
