#!/usr/bin/env bash
# Integration: test_tls_go.sh again with the uprobes forced to perf-event uprobes, one per
# probe point (--tls-attach perf, through FLOE_TLS_ATTACH: selftests/lib/floe.sh): the
# fallback floe takes where the kernel has no uprobe_multi links (docs/tls.md, "How probes are
# attached"). Its stats must say tls_attach_multi 0.
# Usage (root, from the repo root): bash selftests/integration/test_tls_go_perf.sh
FLOE_TLS_ATTACH=perf exec bash "$(dirname "${BASH_SOURCE[0]}")/test_tls_go.sh" "$@"
