// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for what floe reads from a script's runner (lib/node/script/script_proto.h):
 * the runner runs user code, so its bytes are untrusted. The input goes down a socketpair as
 * the runner's stream; floe's reader cuts it into frames (script_frame_read) and checks each
 * (script_msg_parse). Besides memory safety: a frame is never longer than SCRIPT_FRAME_MAX,
 * and every message accepted keeps the promises the service relies on (names and labels in
 * Prometheus syntax, bounded counts and ranges, URLs http(s) only, strings without NUL).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "script/script_proto.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

static void check_msg(const struct script_msg *m)
{
	const char *k;
	json_t *v;

	switch (m->type) {
	case SCRIPT_MSG_READY:
		CHECK(m->n_jobs <= SCRIPT_JOBS_MAX);
		for (size_t i = 0; i < m->n_jobs; i++) {
			CHECK(m->jobs[i].name[0] != '\0');
			CHECK(m->jobs[i].every_ms >= 10 && m->jobs[i].every_ms <= 86400000);
		}
		break;
	case SCRIPT_MSG_LOG:
		CHECK(m->text != NULL);
		break;
	case SCRIPT_MSG_WEBHOOK:
		CHECK(!strncmp(m->url, "http://", 7) || !strncmp(m->url, "https://", 8));
		CHECK(m->body != NULL);
		break;
	case SCRIPT_MSG_METRIC:
		CHECK(script_metric_name_ok(m->name));
		if (m->labels) {
			CHECK(json_object_size(m->labels) <= SCRIPT_LABELS_MAX);
			json_object_foreach(m->labels, k, v)
			{
				CHECK(script_metric_name_ok(k) && !strchr(k, ':'));
				CHECK(json_is_string(v));
				CHECK(strlen(json_string_value(v)) == json_string_length(v));
			}
		}
		break;
	case SCRIPT_MSG_SNAPSHOT:
		CHECK(m->query && m->before >= 0 && m->before <= 3600 && m->after >= 0 &&
		      m->after <= 3600);
		break;
	case SCRIPT_MSG_ERROR:
		CHECK(m->text != NULL && m->line >= 0);
		break;
	case SCRIPT_MSG_DONE:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int sv[2];

	/* one frame's check on the raw input, then the stream */
	{
		struct script_msg m;
		char err[256];

		if (script_msg_parse((const char *)data, size, &m, err, sizeof(err)) == 0) {
			check_msg(&m);
			script_msg_free(&m);
		}
	}
	if (size > 65536 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return 0;
	if (write(sv[0], data, size) != (ssize_t)size) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	close(sv[0]);
	for (;;) {
		struct script_msg m;
		char *buf, err[256];
		size_t len;
		int ret = script_frame_read(sv[1], -1, &buf, &len);

		if (ret) {
			CHECK(ret == -EPIPE || ret == -EMSGSIZE);
			break;
		}
		CHECK(len <= SCRIPT_FRAME_MAX && buf[len] == '\0');
		if (script_msg_parse(buf, len, &m, err, sizeof(err)) == 0) {
			check_msg(&m);
			script_msg_free(&m);
		} else {
			CHECK(m.root == NULL && err[0] != '\0');
		}
		free(buf);
	}
	close(sv[1]);
	return 0;
}
