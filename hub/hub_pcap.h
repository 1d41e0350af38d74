/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hub_pcap: one PCAP merged from every agent's PCAP, in packet time order.
 *
 * Each agent's pcap() answer is a classic PCAP file (microsecond or nanosecond, either byte
 * order). The merge reads their records and writes one little-endian nanosecond PCAP: at each
 * step the input whose next packet is earliest (ties: the lower agent index) gives its packet,
 * so each agent's own order is kept and the result is in time order when each input is.
 */
#ifndef FLOE_HUB_PCAP_H
#define FLOE_HUB_PCAP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Larger records are refused as corrupt: what Wireshark calls the largest standard packet. */
#define HUB_PCAP_MAX_RECORD 262144u

struct hub_pcap_fmt {
	int swapped; /* written in the other byte order */
	int nsec;    /* nanosecond timestamps (else microseconds) */
	uint32_t snaplen;
	uint32_t linktype;
};

struct hub_pcap_rec {
	int64_t ts_ns;
	uint32_t incl_len, orig_len;
};

/* The 24-byte file header. 0, or -EPROTO with why in err (not PCAP, pcapng, ...). */
int hub_pcap_parse_header(const uint8_t b[24], struct hub_pcap_fmt *f, char *err, size_t errlen);
/* A 16-byte record header. 0, or -EPROTO (a length no capture holds). */
int hub_pcap_parse_record(const struct hub_pcap_fmt *f, const uint8_t b[16], struct hub_pcap_rec *r,
			  char *err, size_t errlen);

/*
 * Merge in[0..n-1] (each a whole PCAP file, or empty: an agent with nothing to give) into out.
 * names[i] (may be NULL) names input i in errors. Inputs must share one link type. Returns 0
 * and the packets written in *packets, or -EPROTO (an input is not PCAP, is cut inside a
 * record, link types differ), -EIO (reading or writing failed), -ENOMEM; why in err.
 */
int hub_pcap_merge(FILE **in, const char *const *names, size_t n, FILE *out, uint64_t *packets,
		   char *err, size_t errlen);

#endif /* FLOE_HUB_PCAP_H */
