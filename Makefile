# SPDX-License-Identifier: GPL-2.0
#
# kvashim: human entry points.  The module itself is described by Kbuild;
# kbuild reads that file, never this one.

KERNELRELEASE ?= $(shell uname -r)
KDIR ?= /lib/modules/$(KERNELRELEASE)/build
KERNELS ?=
ARCHES ?=
DURATION ?= 600
MODE ?= wall

export KERNELS ARCHES

.PHONY: all modules install clean check demo test test-debug soak bench deps help

all: modules

## modules: build kvashim.ko against $(KDIR)
modules:
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

## install: install the module into /lib/modules/$(KERNELRELEASE) and run depmod
install: modules
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules_install
	depmod -a $(KERNELRELEASE)

## clean: remove build products
clean:
	$(MAKE) -C $(KDIR) M=$(CURDIR) clean

## check: checkpatch --strict, sparse (C=2), a W=1 build, shellcheck, versions
check:
	tests/check.sh

## demo: boot a Debian kernel under QEMU, load kvashim, allocate, show stats
demo:
	tests/demo.sh

## test: the whole suite in booted Debian kernels (KERNELS=... ARCHES=...)
test:
	tests/run-tests.sh

## test-debug: the suite on a KASAN/lockdep/kmemleak 6.1 kernel built once from linux-source (slow)
test-debug:
	tests/test-debug.sh

## soak: random operations on all CPUs with check every second (DURATION=seconds, default 600)
soak:
	DURATION=$(DURATION) tests/soak.sh

## bench: the benchmark suite in a booted Debian kernel: results/ (CSV, plots, ratio table); MODE=icount: instructions per op, deterministic
bench:
	tests/bench.sh --mode $(MODE)

## deps: install what building and testing need (Debian, as root)
deps:
	tests/deps.sh

## help: this list
help:
	@sed -n 's/^## //p' $(MAKEFILE_LIST)
