// SPDX-License-Identifier: Apache-2.0
#include "dissect/framing.h"

#include <string.h>

uint64_t lp_body_len(const struct lp_format *f, const uint8_t *hdr)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < f->len_size; i++)
		v = v << 8 | hdr[f->len_off + i];
	return v;
}

enum lp_result lp_whole(const struct lp_format *f, const uint8_t *p, size_t n, uint64_t *body_len,
			uint64_t *frame_len)
{
	uint64_t len, total;

	if (n < f->hdr_len)
		return LP_MORE;
	len = lp_body_len(f, p);
	*body_len = len;
	if (f->max_len && len > f->max_len)
		return LP_TOO_LONG;
	total = f->hdr_len + len + f->trailer_len;
	if (n < total)
		return LP_MORE;
	*frame_len = total;
	return LP_WHOLE;
}

size_t lp_stream_next(struct lp_stream *s, const struct lp_format *f, const uint8_t *p, size_t n,
		      unsigned *events)
{
	size_t take;

	*events = 0;
	if (!s->in_body) {
		take = f->hdr_len - s->hdr_got;
		if (take > n)
			take = n;
		/* Peek first: a header over max_len consumes nothing, so the caller can resync. */
		if (s->hdr_got + take == f->hdr_len) {
			uint8_t hdr[LP_HDR_MAX];
			uint64_t len;

			memcpy(hdr, s->hdr, s->hdr_got);
			memcpy(hdr + s->hdr_got, p, take);
			len = lp_body_len(f, hdr);
			if (f->max_len && len > f->max_len) {
				*events = LP_ERROR;
				return 0;
			}
			memcpy(s->hdr, hdr, f->hdr_len);
			s->hdr_got = f->hdr_len;
			s->len = len + f->trailer_len;
			s->got = 0;
			s->in_body = true;
			*events = LP_HEADER;
			if (!s->len) {
				*events |= LP_END;
				lp_stream_reset(s);
			}
			return take;
		}
		memcpy(s->hdr + s->hdr_got, p, take);
		s->hdr_got += (uint8_t)take;
		return take;
	}
	take = s->len - s->got < n ? (size_t)(s->len - s->got) : n;
	s->got += take;
	*events = LP_BODY;
	if (s->got == s->len) {
		*events |= LP_END;
		s->hdr_got = 0;
		s->in_body = false;
	}
	return take;
}

size_t lp_resync(const uint8_t *p, size_t n, lp_frame_check check, void *arg, size_t wait_max,
		 bool *found)
{
	size_t i;

	*found = false;
	for (i = 0; i < n; i++) {
		enum detect_result r = check(p + i, n - i, arg);

		if (r == DETECT_YES) {
			*found = true;
			return i;
		}
		if (r == DETECT_MAYBE && n - i < wait_max) {
			/* A candidate that needs more bytes (a large declared length) may be a false
			 * one: a start proven just after it wins, or a stream that ends (or
			 * stays quiet) while it waits would lose the frames after it. */
			size_t j, end = n - i > LP_RESYNC_LOOKAHEAD ? i + LP_RESYNC_LOOKAHEAD : n;

			for (j = i + 1; j < end; j++)
				if (check(p + j, n - j, arg) == DETECT_YES) {
					*found = true;
					return j;
				}
			return i;
		}
	}
	return n;
}
