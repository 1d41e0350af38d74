// SPDX-License-Identifier: Apache-2.0
/*
 * batch_writer: batches reach the stream whole and in order; a failed write is told once and
 * what was not written is counted; a reader that stops reading holds neither a waiting submit
 * nor the stop past the deadline (the write is interrupted).
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tap/batch_writer.h"

struct fails {
	unsigned n;
	int err;
};

static void on_failed(void *ctx, int err)
{
	struct fails *f = ctx;

	f->n++;
	f->err = err;
}

static void on_interrupt(int signo)
{
	(void)signo;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A batch of n lines "<batch>-<line>\n". */
static void fill(struct entry_json_buf *b, unsigned batch, unsigned n)
{
	char line[32];

	for (unsigned i = 0; i < n; i++) {
		int k = snprintf(line, sizeof(line), "%u-%u\n", batch, i);

		assert_int_equal(entry_json_append_raw(b, line, (size_t)k), 0);
	}
}

/* 200 batches of 1..300 lines through a 2-batch queue: the file is their concatenation. */
static void test_order_and_counts(void **state)
{
	FILE *f = tmpfile();
	struct batch_writer_config c = {.queue_batches = 2};
	struct entry_json_buf b = {0}, want = {0};
	struct batch_writer_stats st;
	struct batch_writer *w;
	uint64_t entries = 0;
	char *got;
	long len;

	(void)state;
	assert_non_null(f);
	c.out = f;
	assert_int_equal(batch_writer_start(&c, &w), 0);
	for (unsigned i = 0; i < 200; i++) {
		unsigned n = 1 + (i * 37) % 300;

		fill(&b, i, n);
		fill(&want, i, n);
		assert_int_equal(batch_writer_submit(w, &b, n), 0);
		assert_int_equal(b.len, 0);
		entries += n;
	}
	batch_writer_stop(w, &st);
	assert_int_equal(st.batches, 200);
	assert_int_equal(st.entries, entries);
	assert_int_equal(st.unwritten, 0);
	assert_int_equal(st.err, 0);
	len = ftell(f);
	assert_int_equal((size_t)len, want.len);
	got = malloc((size_t)len);
	rewind(f);
	assert_int_equal(fread(got, 1, (size_t)len, f), (size_t)len);
	assert_memory_equal(got, want.p, want.len);
	free(got);
	entry_json_buf_free(&b);
	entry_json_buf_free(&want);
	fclose(f);
}

/* The reader gone: EPIPE told once; the batches from there are counted as unwritten. */
static void test_failure_counted(void **state)
{
	struct fails fl = {0};
	struct batch_writer_config c = {.failed = on_failed, .ctx = &fl};
	struct entry_json_buf b = {0};
	struct batch_writer_stats st;
	struct batch_writer *w;
	void (*old)(int) = signal(SIGPIPE, SIG_IGN);
	int p[2], ret = 0;
	unsigned submitted = 0, refused = 0;

	(void)state;
	assert_int_equal(pipe(p), 0);
	close(p[0]);
	c.out = fdopen(p[1], "w");
	assert_non_null(c.out);
	assert_int_equal(batch_writer_start(&c, &w), 0);
	/* the first batch fails in the writer; a later submit sees the failure */
	for (unsigned i = 0; i < 1000 && ret == 0; i++) {
		fill(&b, i, 10);
		ret = batch_writer_submit(w, &b, 10);
		if (ret == 0)
			submitted++;
		else
			refused++;
		usleep(1000);
	}
	assert_int_equal(ret, -EPIPE);
	batch_writer_stop(w, &st);
	assert_int_equal(fl.n, 1);
	assert_int_equal(fl.err, EPIPE);
	assert_int_equal(st.err, EPIPE);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.unwritten, 10 * (submitted + refused));
	fclose(c.out);
	entry_json_buf_free(&b);
	signal(SIGPIPE, old);
}

/* A pipe nobody reads: a submit waiting for room and the stop both end at the deadline. */
static void test_stuck_reader_bounded(void **state)
{
	struct fails fl = {0};
	struct batch_writer_config c = {
	    .queue_batches = 1, .failed = on_failed, .ctx = &fl, .interrupt_signo = SIGRTMIN};
	struct sigaction sa = {.sa_handler = on_interrupt}, olds;
	struct entry_json_buf b = {0};
	struct batch_writer_stats st;
	struct batch_writer *w;
	uint64_t t0, t1;
	int p[2], ret;
	bool queued;

	(void)state;
	assert_int_equal(sigaction(SIGRTMIN, &sa, &olds), 0);
	assert_int_equal(pipe(p), 0);
	c.out = fdopen(p[1], "w");
	assert_non_null(c.out);
	assert_int_equal(batch_writer_start(&c, &w), 0);
	/* more than the pipe holds: the writer blocks in this one */
	fill(&b, 0, 40000);
	assert_int_equal(batch_writer_submit(w, &b, 40000), 0);
	t0 = mono_ns();
	batch_writer_set_deadline(w, t0 + 200000000u);
	fill(&b, 1, 10);
	/* queued (the slot being written counts: the queue holds one), or refused once the
	 * interrupted write failed */
	ret = batch_writer_submit(w, &b, 10);
	queued = ret == 0;
	fill(&b, 2, 10);
	if (queued)
		ret = batch_writer_submit(w, &b, 10);
	t1 = mono_ns();
	assert_int_equal(ret, -EINTR);
	assert_true(t1 - t0 >= 200000000u && t1 - t0 < 5000000000u);
	batch_writer_stop(w, &st);
	assert_true(st.interrupts >= 1);
	assert_int_equal(fl.n, 1);
	assert_int_equal(fl.err, EINTR);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.unwritten, queued ? 40020 : 40010);
	fclose(c.out);
	close(p[0]);
	entry_json_buf_free(&b);
	sigaction(SIGRTMIN, &olds, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_order_and_counts),
	    cmocka_unit_test(test_failure_counted),
	    cmocka_unit_test(test_stuck_reader_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
