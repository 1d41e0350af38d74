// SPDX-License-Identifier: Apache-2.0
/*
 * Oracle test: TCP reassembly of real captures against tshark.
 *
 * For every capture under the shared captures directory (FLOE_CAPTURES, default
 * ../shared/captures relative to the repository root; see its SOURCES.md), the bytes
 * tcp_reasm delivers per flow and direction are compared with
 * `tshark -r FILE -q -z follow,tcp,raw,N` for every TCP stream N of the file. tshark marks a
 * hole in a stream with the text "[N bytes missing in capture file]" and a NUL byte; the
 * test writes the same marker where tcp_reasm reports a gap, so streams with holes are
 * compared too (same bytes, same holes at the same places).
 *
 * Files are read with libpcap (pcap and pcapng); *.gz files are gunzipped with zlib into an
 * anonymous temporary file first. Skipped when tshark or the captures are missing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include <pcap/pcap.h>
#include <zlib.h>

#include "net/packet.h"
#include "net/tcp_reasm.h"
#include "test_captures.h"

struct buf {
	uint8_t *p;
	size_t n, cap;
};

static void buf_add(struct buf *b, const void *d, size_t n)
{
	if (b->n + n > b->cap) {
		size_t c = b->cap ? b->cap : 4096;

		while (c < b->n + n)
			c *= 2;
		b->p = realloc(b->p, c);
		assert_non_null(b->p);
		b->cap = c;
	}
	memcpy(b->p + b->n, d, n);
	b->n += n;
}

struct oflow {
	char ep[2][80]; /* client, server as tshark prints them */
	struct buf b[2];
	size_t data_end[2]; /* b[dir].n after the last data(): trailing gap markers follow */
	unsigned gaps[2];
	bool matched;
};

struct run {
	struct oflow *f;
	size_t n, cap;
	uint64_t packets, decode_errors;
};

static void fmt_ep(char *out, size_t len, uint8_t family, const struct tcp_endpoint *e)
{
	char a[INET6_ADDRSTRLEN];

	if (family == AF_INET) {
		inet_ntop(AF_INET, e->addr + 12, a, sizeof(a));
		snprintf(out, len, "%s:%u", a, e->port);
	} else {
		inet_ntop(AF_INET6, e->addr, a, sizeof(a));
		snprintf(out, len, "[%s]:%u", a, e->port);
	}
}

static void *cb_open(void *ctx, const struct tcp_flow_info *info)
{
	struct run *r = ctx;
	struct oflow *f;

	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 16;
		r->f = realloc(r->f, r->cap * sizeof(*r->f));
		assert_non_null(r->f);
	}
	f = &r->f[r->n++];
	memset(f, 0, sizeof(*f));
	assert_int_equal(info->id, r->n);
	fmt_ep(f->ep[0], sizeof(f->ep[0]), info->family, &info->client);
	fmt_ep(f->ep[1], sizeof(f->ep[1]), info->family, &info->server);
	return (void *)(uintptr_t)info->id;
}

static void cb_data(void *ctx, void *user, enum tcp_dir dir, const uint8_t *bytes, uint32_t len,
		    uint64_t ts)
{
	struct run *r = ctx;

	struct oflow *f = &r->f[(uintptr_t)user - 1];

	buf_add(&f->b[dir], bytes, len);
	f->data_end[dir] = f->b[dir].n;
}

static void cb_gap(void *ctx, void *user, enum tcp_dir dir, uint32_t missing,
		   enum tcp_gap_cause cause, uint64_t ts)
{
	struct run *r = ctx;
	struct oflow *f = &r->f[(uintptr_t)user - 1];
	char m[64];
	int n = snprintf(m, sizeof(m), "[%u bytes missing in capture file]", missing);

	buf_add(&f->b[dir], m, (size_t)n + 1); /* with its NUL, as tshark writes it */
	f->gaps[dir]++;
}

static void cb_close(void *ctx, void *user, enum tcp_close_reason reason, uint64_t ts)
{
}

/* Open a capture; a .gz one is gunzipped into an anonymous temporary file. */
static pcap_t *open_capture(const char *path, char *err)
{
	size_t len = strlen(path);
	gzFile gz;
	FILE *tmp;
	char chunk[65536];
	int n;
	pcap_t *p;

	if (len < 3 || strcmp(path + len - 3, ".gz") != 0)
		return pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO,
							       err);
	gz = gzopen(path, "rb");
	if (!gz)
		return NULL;
	tmp = tmpfile();
	if (!tmp) {
		gzclose(gz);
		return NULL;
	}
	while ((n = gzread(gz, chunk, sizeof(chunk))) > 0)
		fwrite(chunk, 1, (size_t)n, tmp);
	gzclose(gz);
	if (n < 0) {
		fclose(tmp);
		return NULL;
	}
	rewind(tmp);
	p = pcap_fopen_offline_with_tstamp_precision(tmp, PCAP_TSTAMP_PRECISION_NANO, err);
	if (!p)
		fclose(tmp);
	return p; /* pcap_close() closes tmp */
}

static void reassemble(const char *path, struct run *run, struct tcp_reasm_stats *st)
{
	struct tcp_reasm_config cfg = {
		.max_flows = 4096,
		.max_buffered_bytes_per_direction = 64u << 20,
		.max_total_buffered_bytes = 256u << 20,
		.idle_timeout_ns = 7ull * 24 * 3600 * 1000000000ull,
		.expire_on_packets = true,
	};
	struct tcp_reasm_callbacks cb = {cb_open, cb_data, cb_gap, cb_close, NULL};
	struct tcp_reasm *r;
	char err[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *hdr;
	const u_char *data;
	pcap_t *pc = open_capture(path, err);
	int dlt, rc;

	assert_non_null(pc);
	dlt = pcap_datalink(pc);
	assert_int_equal(tcp_reasm_create(&cfg, &cb, run, &r), 0);
	while ((rc = pcap_next_ex(pc, &hdr, &data)) == 1) {
		struct packet pkt;
		uint64_t ts = (uint64_t)hdr->ts.tv_sec * 1000000000ull + (uint64_t)hdr->ts.tv_usec;

		run->packets++;
		if (packet_decode(dlt, data, hdr->caplen, hdr->len, ts, &pkt) != PACKET_OK) {
			run->decode_errors++;
			continue;
		}
		tcp_reasm_packet(r, &pkt);
	}
	assert_int_equal(rc, PCAP_ERROR_BREAK);
	pcap_close(pc);
	tcp_reasm_finish(r);
	tcp_reasm_get_stats(r, st);
	assert_int_equal(st->buffered_bytes, 0);
	assert_int_equal(st->flows_active, 0);
	tcp_reasm_destroy(r);
}

/* ------------------------------------------------------------------ tshark */

struct tstream {
	int index;
	char node[2][80];
	struct buf b[2];
};

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* All streams 0..max in one tshark run. Returns an array of max+1 streams. */
static struct tstream *tshark_follow(const char *path, int max)
{
	size_t cmdlen = strlen(path) + 64 + (size_t)(max + 1) * 32;
	char *cmd = malloc(cmdlen), *line = NULL;
	struct tstream *ts = calloc((size_t)max + 1, sizeof(*ts)), *cur = NULL;
	size_t linecap = 0, off;
	ssize_t n;
	FILE *f;

	assert_non_null(cmd);
	assert_non_null(ts);
	off = (size_t)snprintf(cmd, cmdlen, "tshark -r '%s' -q", path);
	for (int i = 0; i <= max; i++)
		off += (size_t)snprintf(cmd + off, cmdlen - off, " -z follow,tcp,raw,%d", i);
	snprintf(cmd + off, cmdlen - off, " 2>/dev/null");
	f = popen(cmd, "r");
	assert_non_null(f);
	while ((n = getline(&line, &linecap, f)) > 0) {
		int idx;

		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (sscanf(line, "Filter: tcp.stream eq %d", &idx) == 1) {
			assert_true(idx >= 0 && idx <= max);
			cur = &ts[idx];
			cur->index = idx;
			continue;
		}
		if (!cur)
			continue;
		if (!strncmp(line, "Node 0: ", 8)) {
			snprintf(cur->node[0], sizeof(cur->node[0]), "%s", line + 8);
			continue;
		}
		if (!strncmp(line, "Node 1: ", 8)) {
			snprintf(cur->node[1], sizeof(cur->node[1]), "%s", line + 8);
			continue;
		}
		if (line[0] == '=') {
			cur = NULL;
			continue;
		}
		{
			int side = line[0] == '\t';
			const char *h = line + side;
			size_t hl = strlen(h);

			for (size_t i = 0; i + 1 < hl; i += 2) {
				int a = hexval(h[i]), b = hexval(h[i + 1]);
				uint8_t byte;

				if (a < 0 || b < 0)
					break;
				byte = (uint8_t)(a << 4 | b);
				buf_add(&cur->b[side], &byte, 1);
			}
		}
	}
	free(line);
	pclose(f);
	free(cmd);
	return ts;
}

static size_t first_diff(const struct buf *a, const struct buf *b)
{
	size_t n = a->n < b->n ? a->n : b->n;

	for (size_t i = 0; i < n; i++)
		if (a->p[i] != b->p[i])
			return i;
	return n;
}

/* ------------------------------------------------------------------ test */

static bool stream_exists(const struct tstream *t)
{
	return t->node[0][0] && strcmp(t->node[0], ":0") != 0;
}

static void test_capture(void **state)
{
	const char *path = *state;
	struct run run = {0};
	struct tcp_reasm_stats st;
	struct tstream *ts;
	int max;
	unsigned compared = 0, with_gaps = 0, trailing = 0, failed = 0;
	uint64_t bytes = 0;

	reassemble(path, &run, &st);
	/* Ask tshark for one stream more than tcp_reasm found: it must not exist. */
	max = (int)run.n;
	ts = tshark_follow(path, max);
	if (stream_exists(&ts[max])) {
		print_message("  %s: tshark has more than %zu streams\n", path, run.n);
		failed++;
	}
	for (int i = 0; i < max; i++) {
		struct tstream *t = &ts[i];
		struct oflow *m = NULL;
		int side0 = -1;

		if (!stream_exists(t)) {
			print_message("  %s: stream %d: not followed by tshark\n", path, i);
			failed++;
			continue;
		}
		for (size_t k = 0; k < run.n; k++) {
			struct oflow *f = &run.f[k];

			if (f->matched)
				continue;
			if (!strcmp(f->ep[0], t->node[0]) && !strcmp(f->ep[1], t->node[1]))
				side0 = 0;
			else if (!strcmp(f->ep[1], t->node[0]) && !strcmp(f->ep[0], t->node[1]))
				side0 = 1;
			else
				continue;
			m = f;
			break;
		}
		if (!m) {
			print_message("  %s: stream %d (%s <-> %s): no flow\n", path, i, t->node[0],
				      t->node[1]);
			failed++;
			continue;
		}
		m->matched = true;
		compared++;
		if (m->gaps[0] || m->gaps[1])
			with_gaps++;
		for (int s = 0; s < 2; s++) {
			struct buf *mine = &m->b[s == 0 ? side0 : 1 - side0];
			const struct buf *theirs = &t->b[s];

			/* A gap with no data after it (an ACK-proven loss at the end, a hole
			 * before a FIN) is invisible to tshark's follow, which marks a hole only
			 * when data arrives after it. */
			if (mine->n != m->data_end[s == 0 ? side0 : 1 - side0]) {
				trailing++;
				mine->n = m->data_end[s == 0 ? side0 : 1 - side0];
			}
			bytes += theirs->n;
			if (mine->n != theirs->n || first_diff(mine, theirs) != mine->n) {
				print_message("  %s: stream %d node %d (%s): tshark %zu bytes, "
					      "tcp_reasm %zu bytes, first difference at %zu\n",
					      path, i, s, t->node[s], theirs->n, mine->n,
					      first_diff(mine, theirs));
				failed++;
			}
		}
	}
	print_message("  %s: %u streams compared (%u with gaps, %u trailing gaps not compared), "
		      "%llu bytes, %llu packets (%llu not decoded); gaps %llu, retransmitted "
		      "%llu B, overlap %llu B, out-of-order %llu\n",
		      path, compared, with_gaps, trailing, (unsigned long long)bytes,
		      (unsigned long long)run.packets, (unsigned long long)run.decode_errors,
		      (unsigned long long)(st.gaps[0] + st.gaps[1] + st.gaps[2] + st.gaps[3]),
		      (unsigned long long)st.bytes_retransmitted,
		      (unsigned long long)st.bytes_overlap,
		      (unsigned long long)st.segments_out_of_order);
	for (int i = 0; i <= max; i++) {
		free(ts[i].b[0].p);
		free(ts[i].b[1].p);
	}
	free(ts);
	for (size_t k = 0; k < run.n; k++) {
		free(run.f[k].b[0].p);
		free(run.f[k].b[1].p);
	}
	free(run.f);
	assert_int_equal(failed, 0);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Capture files under dir, recursively. */
static void collect(const char *dir, char ***list, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char path[4096];
		struct stat sb;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &sb) != 0)
			continue;
		if (S_ISDIR(sb.st_mode)) {
			collect(path, list, n);
		} else if (is_capture(e->d_name)) {
			*list = realloc(*list, (*n + 1) * sizeof(**list));
			(*list)[(*n)++] = strdup(path);
		}
	}
	closedir(d);
}

static void test_skipped(void **state)
{
	(void)state;
	skip();
}

int main(void)
{
	/* The protocols whose captures carry TCP (see SOURCES.md). */
	static const char *const subdirs[] = {"http1", "http2", "redis", "grpc", "kafka", "amqp",
					      "dns"};
	char **files = NULL;
	size_t n = 0;
	struct CMUnitTest *tests;
	int rc;

	if (system("tshark --version >/dev/null 2>&1") != 0) {
		const struct CMUnitTest skipped[] = {cmocka_unit_test(test_skipped)};

		print_message("tshark not found: oracle skipped\n");
		return cmocka_run_group_tests_name("tcp_reasm_captures", skipped, NULL, NULL);
	}
	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		char dir[4096];

		snprintf(dir, sizeof(dir), "%s/%s", captures_dir(), subdirs[i]);
		collect(dir, &files, &n);
	}
	if (n == 0) {
		const struct CMUnitTest skipped[] = {cmocka_unit_test(test_skipped)};

		print_message("no captures under %s: oracle skipped\n", captures_dir());
		return cmocka_run_group_tests_name("tcp_reasm_captures", skipped, NULL, NULL);
	}
	qsort(files, n, sizeof(*files), cmp_str);
	tests = calloc(n, sizeof(*tests));
	for (size_t i = 0; i < n; i++) {
		const char *base = files[i] + strlen(captures_dir()) + 1;

		tests[i].name = base;
		tests[i].test_func = test_capture;
		tests[i].initial_state = files[i];
	}
	rc = _cmocka_run_group_tests("tcp_reasm_captures", tests, n, NULL, NULL);
	for (size_t i = 0; i < n; i++)
		free(files[i]);
	free(files);
	free(tests);
	return rc;
}
