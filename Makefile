# SPDX-License-Identifier: GPL-2.0
#
# memcg_ext: the two entry points are `make demo` and `make test`; both
# install missing Debian packages and build whatever is stale first.
# Everything built lands in build/ (kernels are cached by content hash
# under $(MEMCG_EXT_CACHE), default /var/tmp/memcg_ext).

SHELL := /bin/bash
REPO := $(abspath .)
BUILD := $(REPO)/build
export MEMCG_EXT_CACHE ?= /var/tmp/memcg_ext

KSFT_DIR = $(shell . scripts/common.sh && . scripts/tools-src.sh && tools_src)/tools/testing/selftests

.PHONY: all deps kernels kernel-stock kernel-memcg_ext kernel-debug tools \
	policies agent vmtests kselftests bench-bins initramfs build test unit demo \
	bench series-check clean

all: build

deps:
	@scripts/deps.sh

# Explicit rules: make does no implicit-rule search for .PHONY targets.
KERNEL_VARIANTS := stock memcg_ext debug
$(addprefix kernel-,$(KERNEL_VARIANTS)): kernel-%: deps
	@scripts/kernel-build.sh $*

kernels: kernel-stock kernel-memcg_ext kernel-debug

tools: deps
	@scripts/tools-build.sh

policies: tools kernel-memcg_ext
	@$(MAKE) -s -C policies

# The host agent, its CLI and test helper (static, for the VM).
agent: deps
	@$(MAKE) -s -C agent

vmtests: policies agent
	@$(MAKE) -s -C tests vm KSFT_DIR=$(KSFT_DIR)

kselftests: tools
	@scripts/kselftests-build.sh

bench-bins: deps
	@$(MAKE) -s -C bench

initramfs: vmtests kselftests bench-bins kernels
	@for v in stock memcg_ext debug; do testbed/mkinitramfs.sh $$v; done

build: initramfs

unit: tools
	@$(MAKE) -s -C tests unit

# Host unit tests, then the VM tests on every kernel; ends with
# "N passed, N failed, N skipped".
test: build
	@scripts/run-tests.sh

demo: policies agent vmtests bench-bins
	@scripts/demo.sh

# make bench BENCH=fastpath -> bench/results/fastpath.{json,md}
BENCH ?= fastpath
bench: policies kernel-stock bench-bins
	@bench/$(BENCH)/run.sh $(BENCH_ARGS)

# Every patch of the series builds, and checkpatch is clean.
series-check: deps
	@scripts/series-check.sh

clean:
	rm -rf $(BUILD)
