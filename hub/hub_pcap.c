/* SPDX-License-Identifier: Apache-2.0 */
#include "hub_pcap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Classic PCAP magic numbers as read in the file's own byte order (the format's definition). */
#define MAGIC_USEC   0xa1b2c3d4u
#define MAGIC_NSEC   0xa1b23c4du
#define MAGIC_PCAPNG 0x0a0d0d0au

static uint32_t rd32(const uint8_t *b, int swapped)
{
	/* Files are read as little-endian; "swapped" ones were written big-endian. */
	if (swapped)
		return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
	return (uint32_t)b[3] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[1] << 8 | b[0];
}

static void wr32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)v;
	b[1] = (uint8_t)(v >> 8);
	b[2] = (uint8_t)(v >> 16);
	b[3] = (uint8_t)(v >> 24);
}

int hub_pcap_parse_header(const uint8_t b[24], struct hub_pcap_fmt *f, char *err, size_t errlen)
{
	uint32_t le = rd32(b, 0), be = rd32(b, 1);
	memset(f, 0, sizeof(*f));
	if (le == MAGIC_USEC || le == MAGIC_NSEC) {
		f->nsec = le == MAGIC_NSEC;
	} else if (be == MAGIC_USEC || be == MAGIC_NSEC) {
		f->swapped = 1;
		f->nsec = be == MAGIC_NSEC;
	} else if (le == MAGIC_PCAPNG) {
		snprintf(err, errlen, "pcapng, where classic PCAP was expected");
		return -EPROTO;
	} else {
		snprintf(err, errlen, "not a PCAP file (magic %08x)", le);
		return -EPROTO;
	}
	uint16_t major = f->swapped ? (uint16_t)(b[4] << 8 | b[5]) : (uint16_t)(b[5] << 8 | b[4]);
	if (major != 2) {
		snprintf(err, errlen, "PCAP version %u (only 2.x is defined)", major);
		return -EPROTO;
	}
	f->snaplen = rd32(b + 16, f->swapped);
	f->linktype = rd32(b + 20, f->swapped);
	return 0;
}

int hub_pcap_parse_record(const struct hub_pcap_fmt *f, const uint8_t b[16], struct hub_pcap_rec *r,
			  char *err, size_t errlen)
{
	uint32_t sec = rd32(b, f->swapped), frac = rd32(b + 4, f->swapped);
	r->incl_len = rd32(b + 8, f->swapped);
	r->orig_len = rd32(b + 12, f->swapped);
	if (r->incl_len > HUB_PCAP_MAX_RECORD) {
		snprintf(err, errlen, "a %u-byte record (at most %u)", r->incl_len,
			 HUB_PCAP_MAX_RECORD);
		return -EPROTO;
	}
	if (frac >= (f->nsec ? 1000000000u : 1000000u)) {
		snprintf(err, errlen, "a timestamp fraction of %u", frac);
		return -EPROTO;
	}
	r->ts_ns = (int64_t)sec * 1000000000 + (int64_t)frac * (f->nsec ? 1 : 1000);
	return 0;
}

struct input {
	FILE *f;
	const char *name;
	struct hub_pcap_fmt fmt;
	struct hub_pcap_rec rec; /* the next record, when have */
	uint8_t *data;
	int have;
	uint64_t offset;
};

/* Read the next record of in into in->rec/data. 1 when one is there, 0 at the end, < 0. */
static int next_record(struct input *in, char *err, size_t errlen)
{
	uint8_t h[16];
	char why[128];
	size_t got = fread(h, 1, sizeof(h), in->f);
	in->have = 0;
	if (got == 0)
		return ferror(in->f) ? -EIO : 0;
	if (got < sizeof(h)) {
		snprintf(err, errlen, "%s: PCAP cut inside a record header at byte %llu", in->name,
			 (unsigned long long)in->offset);
		return -EPROTO;
	}
	if (hub_pcap_parse_record(&in->fmt, h, &in->rec, why, sizeof(why))) {
		snprintf(err, errlen, "%s: %s at byte %llu", in->name, why,
			 (unsigned long long)in->offset);
		return -EPROTO;
	}
	if (fread(in->data, 1, in->rec.incl_len, in->f) != in->rec.incl_len) {
		snprintf(err, errlen, "%s: PCAP cut inside a record at byte %llu", in->name,
			 (unsigned long long)in->offset);
		return ferror(in->f) ? -EIO : -EPROTO;
	}
	in->offset += sizeof(h) + in->rec.incl_len;
	in->have = 1;
	return 1;
}

static int merge(struct input *ins, size_t n, FILE *out, uint64_t *packets, char *err,
		 size_t errlen)
{
	uint32_t linktype = 1 /* Ethernet, when no input has a header */, snaplen = 0;
	int any = 0;
	char why[160];
	for (size_t i = 0; i < n; i++) {
		uint8_t h[24];
		size_t got = fread(h, 1, sizeof(h), ins[i].f);
		if (got == 0 && !ferror(ins[i].f))
			continue; /* an agent with nothing */
		if (got < sizeof(h)) {
			snprintf(err, errlen, "%s: PCAP cut inside its file header", ins[i].name);
			return ferror(ins[i].f) ? -EIO : -EPROTO;
		}
		if (hub_pcap_parse_header(h, &ins[i].fmt, why, sizeof(why))) {
			snprintf(err, errlen, "%s: %s", ins[i].name, why);
			return -EPROTO;
		}
		if (any && ins[i].fmt.linktype != linktype) {
			snprintf(err, errlen,
				 "%s: link type %u where others have %u: one PCAP file holds one",
				 ins[i].name, ins[i].fmt.linktype, linktype);
			return -EPROTO;
		}
		linktype = ins[i].fmt.linktype;
		if (ins[i].fmt.snaplen > snaplen)
			snaplen = ins[i].fmt.snaplen;
		any = 1;
		ins[i].offset = sizeof(h);
		int rc = next_record(&ins[i], err, errlen);
		if (rc < 0)
			return rc;
	}
	uint8_t hdr[24] = {0};
	wr32(hdr, MAGIC_NSEC);
	hdr[4] = 2;
	hdr[6] = 4;
	wr32(hdr + 16, snaplen ? snaplen : 65535);
	wr32(hdr + 20, linktype);
	if (fwrite(hdr, 1, sizeof(hdr), out) != sizeof(hdr))
		goto write_err;
	for (;;) {
		struct input *best = NULL;
		for (size_t i = 0; i < n; i++)
			if (ins[i].have && (!best || ins[i].rec.ts_ns < best->rec.ts_ns))
				best = &ins[i];
		if (!best)
			break;
		uint8_t rh[16];
		/* Times before 1970 do not occur in captures; clamp rather than wrap. */
		int64_t ts = best->rec.ts_ns < 0 ? 0 : best->rec.ts_ns;
		wr32(rh, (uint32_t)(ts / 1000000000));
		wr32(rh + 4, (uint32_t)(ts % 1000000000));
		wr32(rh + 8, best->rec.incl_len);
		wr32(rh + 12, best->rec.orig_len);
		if (fwrite(rh, 1, sizeof(rh), out) != sizeof(rh) ||
		    fwrite(best->data, 1, best->rec.incl_len, out) != best->rec.incl_len)
			goto write_err;
		(*packets)++;
		int rc = next_record(best, err, errlen);
		if (rc < 0)
			return rc;
	}
	if (fflush(out))
		goto write_err;
	return 0;
write_err:
	snprintf(err, errlen, "writing the merged PCAP: %s", strerror(errno));
	return -EIO;
}

int hub_pcap_merge(FILE **in, const char *const *names, size_t n, FILE *out, uint64_t *packets,
		   char *err, size_t errlen)
{
	*packets = 0;
	struct input *ins = calloc(n ? n : 1, sizeof(*ins));
	if (!ins)
		return -ENOMEM;
	int rc = 0;
	char fallback[32];
	for (size_t i = 0; i < n && !rc; i++) {
		ins[i].f = in[i];
		ins[i].name = names && names[i] ? names[i] : NULL;
		if (!ins[i].name) {
			snprintf(fallback, sizeof(fallback), "agent %zu", i);
			ins[i].name = strdup(fallback);
		}
		ins[i].data = malloc(HUB_PCAP_MAX_RECORD);
		if (!ins[i].data || !ins[i].name)
			rc = -ENOMEM;
	}
	if (!rc)
		rc = merge(ins, n, out, packets, err, errlen);
	for (size_t i = 0; i < n; i++) {
		free(ins[i].data);
		if (!(names && names[i]))
			free((char *)ins[i].name);
	}
	free(ins);
	return rc;
}
