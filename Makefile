# floe: the one build entry. See README.md and ../shared/DESIGN.md.
#   make deps   install the Debian packages the build and tests need (only the missing ones),
#               and build the test cluster's Kubernetes binaries (make k8s-deps)
#   make k8s-deps  build kube-apiserver, kubectl, etcd, etcdctl from their Go modules into
#               /var/cache/floe/k8s/ when missing (docs/k8s-test-cluster.md)
#   make        build everything into build/
#   make test   deps + build + every test (unit, sanitizer, integration); ends with "N passed, N failed, N skipped"
#   make fuzz-long  every fuzz target for minutes (FUZZ_SECONDS, default 300), corpus kept
#   make bench  benchmarks side by side with tcpdump (not pass/fail)
#   make run    deps + build + `floe tap -A` on this host's pods
#   make vmlinux  regenerate vmlinux/<arch>/vmlinux.h from this kernel's BTF

ARCH ?= $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
BUILD ?= build
CC ?= cc
CLANG ?= clang
BPFTOOL ?= bpftool

# -Werror in CI builds (CI=true) and whenever WERROR=1.
ifeq ($(CI),true)
WERROR ?= 1
endif
WERROR ?= 0
WARN := -Wall -Wextra -Wno-unused-parameter
ifeq ($(WERROR),1)
WARN += -Werror
endif

CFLAGS ?= -O2 -g
INCLUDES := -I$(BUILD) -Ibpf -Ilib/core -Ilib/node
CFLAGS += -std=gnu11 $(WARN) -D_GNU_SOURCE $(INCLUDES)
# What each library needs: the core (entry model, schema, filter, JSON) only jansson and libc;
# the node side (packets, reassembly, dissectors, capture, store, pods) the protocol and BPF
# libraries. A program links the libraries it uses and their LDLIBS, nothing more.
CORE_LDLIBS := -ljansson -lm
NODE_LDLIBS := -lbpf -lelf -lz -lpcap -lzstd -lmnl -lhttp_parser -lrabbitmq -llz4 \
	-lsnappy -lcurl -lyaml -lcrypto -lpthread
LDLIBS := $(NODE_LDLIBS) $(CORE_LDLIBS)
# Unit tests check floe's HPACK decoder against nghttp2's encoder: only they link it.
TEST_LDLIBS := -lcmocka -lnghttp2

BPF_CFLAGS := -O2 -g -target bpf -D__TARGET_ARCH_$(ARCH) -Ivmlinux/$(ARCH) -Ibpf -Wall -Werror

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(BUILD)/%.bpf.o,$(BPF_SRCS))
BPF_SKELS := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))

# lib/core -> libfloe-core.a, lib/node -> libfloe-node.a (which builds on the core).
CORE_SRCS := $(wildcard lib/core/*.c lib/core/*/*.c)
NODE_SRCS := $(wildcard lib/node/*.c lib/node/*/*.c)
LIB_SRCS := $(CORE_SRCS) $(NODE_SRCS)
LIB_HDRS := $(wildcard lib/*/*.h lib/*/*/*.h)
CORE_OBJS := $(patsubst lib/%.c,$(BUILD)/lib/%.o,$(CORE_SRCS))
NODE_OBJS := $(patsubst lib/%.c,$(BUILD)/lib/%.o,$(NODE_SRCS))
CORE_LIB := $(BUILD)/libfloe-core.a
NODE_LIB := $(BUILD)/libfloe-node.a
LIB := $(NODE_LIB) $(CORE_LIB)

UNIT_SRCS := $(wildcard selftests/unit/test_*.c)
# BPF program tests: the real objects run by the kernel (BPF_PROG_TEST_RUN); root only.
BPF_TEST_SRCS := $(wildcard selftests/bpf/test_*.c)
BPF_TEST_BINS := $(patsubst selftests/bpf/%.c,$(BUILD)/tests/%,$(BPF_TEST_SRCS))
BPF_TEST_SAN_BINS := $(patsubst selftests/bpf/%.c,$(BUILD)/tests-san/%,$(BPF_TEST_SRCS))
UNIT_BINS := $(patsubst selftests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS)) $(BPF_TEST_BINS)
SAN_BINS := $(patsubst selftests/unit/%.c,$(BUILD)/tests-san/%,$(UNIT_SRCS)) $(BPF_TEST_SAN_BINS)
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
SAN_LIB_OBJS := $(patsubst lib/%.c,$(BUILD)/lib-san/%.o,$(NODE_SRCS) $(CORE_SRCS))

FUZZ_SRCS := $(wildcard selftests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst selftests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))

BINS := $(BUILD)/floe $(BUILD)/floe-agent

.PHONY: all deps k8s-deps test unit unit-san integration fuzz fuzz-long bench run clean vmlinux format
.DELETE_ON_ERROR:
.SECONDARY:

all: $(BINS) $(UNIT_BINS)

deps:
	@bash selftests/lib/deps.sh
	@# Without them the Kubernetes tests report themselves skipped: not fatal here.
	-@$(MAKE) --no-print-directory k8s-deps

k8s-deps:
	@bash selftests/k8s/build.sh

$(BUILD) $(BUILD)/lib $(BUILD)/lib-san $(BUILD)/tests $(BUILD)/tests-san $(BUILD)/fuzz:
	@mkdir -p $@

# Kernel side: CO-RE objects and their skeletons.
$(BUILD)/%.bpf.o: bpf/%.bpf.c bpf/*.h vmlinux/$(ARCH)/vmlinux.h | $(BUILD)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@
	llvm-strip -g $@ 2>/dev/null || true

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@

# Userspace library shared by floe-agent and floe.

$(BUILD)/lib/%.o: lib/%.c $(LIB_HDRS) bpf/*.h $(BPF_SKELS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(CORE_LIB): $(CORE_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

$(NODE_LIB): $(NODE_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/floe-agent: agent/main.c $(LIB)
	$(CC) $(CFLAGS) $< $(LIB) $(LDLIBS) -o $@

$(BUILD)/floe: cli/floe.c $(LIB)
	$(CC) $(CFLAGS) $< $(LIB) $(LDLIBS) -o $@

# Unit tests (cmocka), plain and under ASan+UBSan. The core's own tests link the core alone
# (-Ilib/core only): that is what keeps the core free of node-side code and libraries.
CORE_TESTS := test_entry_json test_evloop test_schema test_agent_api_mem
CORE_CFLAGS := $(filter-out -Ilib/node,$(CFLAGS))
$(BUILD)/tests/%: selftests/unit/%.c $(LIB) | $(BUILD)/tests
	$(CC) $(CFLAGS) $< $(LIB) $(LDLIBS) $(TEST_LDLIBS) -o $@

$(CORE_TESTS:%=$(BUILD)/tests/%): $(BUILD)/tests/%: selftests/unit/%.c $(CORE_LIB) | $(BUILD)/tests
	$(CC) $(CORE_CFLAGS) $< $(CORE_LIB) $(CORE_LDLIBS) -lcmocka -o $@

# They embed the skeletons, so they are rebuilt with the programs.
$(BPF_TEST_BINS): $(BUILD)/tests/%: selftests/bpf/%.c $(LIB) $(BPF_SKELS) | $(BUILD)/tests
	$(CC) $(CFLAGS) $< $(LIB) $(LDLIBS) $(TEST_LDLIBS) -o $@

$(BPF_TEST_SAN_BINS): $(BUILD)/tests-san/%: selftests/bpf/%.c $(SAN_LIB_OBJS) $(BPF_SKELS) \
		| $(BUILD)/tests-san
	$(CC) $(CFLAGS) $(SAN_FLAGS) $< $(SAN_LIB_OBJS) $(LDLIBS) $(TEST_LDLIBS) -o $@

$(BUILD)/lib-san/%.o: lib/%.c $(LIB_HDRS) bpf/*.h $(BPF_SKELS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SAN_FLAGS) -c $< -o $@

$(BUILD)/tests-san/%: selftests/unit/%.c $(SAN_LIB_OBJS) | $(BUILD)/tests-san
	$(CC) $(CFLAGS) $(SAN_FLAGS) $< $(SAN_LIB_OBJS) $(LDLIBS) $(TEST_LDLIBS) -o $@

# Fuzz targets (libFuzzer, clang) for the parsers.
# The libraries are compiled once for all targets (fuzzer-no-link instruments them for coverage
# without a main); each target links its harness against them. -fno-sanitize-recover=all: an
# UBSan finding aborts like an ASan one, so libFuzzer stops at it and saves the input. The
# flags are recorded in $(BUILD)/fuzz-flags; changing them rebuilds the fuzz objects.
FUZZ_CFLAGS := -g -O1 -std=gnu11 -D_GNU_SOURCE $(INCLUDES)
FUZZ_SAN := address,undefined -fno-sanitize-recover=all
FUZZ_LIB_OBJS := $(patsubst lib/%.c,$(BUILD)/lib-fuzz/%.o,$(NODE_SRCS) $(CORE_SRCS))
FUZZ_FLAGS := $(BUILD)/fuzz-flags
$(shell mkdir -p $(BUILD) && echo '$(FUZZ_CFLAGS) $(FUZZ_SAN)' | cmp -s - $(FUZZ_FLAGS) || \
	echo '$(FUZZ_CFLAGS) $(FUZZ_SAN)' > $(FUZZ_FLAGS))

$(BUILD)/lib-fuzz/%.o: lib/%.c $(LIB_HDRS) bpf/*.h $(BPF_SKELS) $(FUZZ_FLAGS)
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,$(FUZZ_SAN) -c $< -o $@

$(BUILD)/fuzz/%: selftests/fuzz/%.c selftests/fuzz/*.h $(FUZZ_LIB_OBJS) $(FUZZ_FLAGS) | $(BUILD)/fuzz
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer,$(FUZZ_SAN) $< $(FUZZ_LIB_OBJS) \
		$(LDLIBS) -o $@

unit: $(UNIT_BINS)
unit-san: $(SAN_BINS)
fuzz: $(FUZZ_BINS)

# Every fuzz target for FUZZ_SECONDS (default 300) each, FUZZ_JOBS (default 1) at a time; the
# corpus grows in $(BUILD)/fuzz-corpus/<target> from run to run, findings go to
# $(BUILD)/fuzz-artifacts/<target>/. FUZZ_TARGETS=regex picks targets.
fuzz-long: fuzz
	FUZZ_SECONDS=$${FUZZ_SECONDS:-300} bash selftests/fuzz/fuzz.sh

test: deps
	$(MAKE) all unit-san fuzz
	bash selftests/run.sh

bench: deps
	$(MAKE) all
	bash selftests/bench/capture.sh
	bash selftests/bench/live.sh
	bash selftests/bench/dissect.sh
	bash selftests/bench/protocols.sh

run: deps
	$(MAKE) all
	$(BUILD)/floe tap -A $(ARGS)

vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux/$(ARCH)/vmlinux.h

format:
	clang-format -i bpf/*.c bpf/*.h agent/*.c $(LIB_SRCS) $(LIB_HDRS) cli/*.c selftests/unit/*.c \
		selftests/bpf/*.c

clean:
	rm -rf $(BUILD)
