// SPDX-License-Identifier: Apache-2.0
/*
 * pods_local: pods of this host in local mode. See pods_local.h and docs/local-mode.md.
 *
 * Discovery enters each named network namespace with setns(2), asks rtnetlink (libmnl) there
 * for its veth interfaces and for the id the caller's namespace has from inside it
 * (RTM_GETNSID), keeps the veth whose peer lives in the caller's namespace, reads that
 * interface's addresses and comes back. Nothing here prints; errors are negative errno values
 * with a message in err.
 */
#include "pods/pods_local.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/net_namespace.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

/* Room for one datagram of a dump: the kernel sizes dump messages to at most 32 KiB unless
 * one link needs more; a truncated datagram is an error (ENOSPC), never silently cut. */
#define NL_BUF_SIZE (64 * 1024)
/* Dumps interrupted by concurrent changes (NLM_F_DUMP_INTR) are redone this many times. */
#define NL_DUMP_TRIES 5

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---------------------------------------------------------------- names */

bool floe_dns1123_label(const char *s, size_t len)
{
	if (!s || len == 0 || len > FLOE_NAMESPACE_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

		if (alnum)
			continue;
		if (c == '-' && i != 0 && i != len - 1)
			continue;
		return false;
	}
	return true;
}

/* ------------------------------------------------------------ inventory */

static bool inv_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static int inv_entry_cmp(const void *a, const void *b)
{
	const struct inventory_entry *x = a, *y = b;
	int c = strcmp(x->netns, y->netns);

	if (c)
		return c;
	return (x->line > y->line) - (x->line < y->line);
}

void inventory_free(struct inventory *inv)
{
	if (!inv)
		return;
	for (size_t i = 0; i < inv->n; i++)
		free(inv->entries[i].netns);
	free(inv->entries);
	inv->entries = NULL;
	inv->n = 0;
	strcpy(inv->default_namespace, "default");
}

/* Longest part of a name quoted in a message. */
#define QUOTE_MAX 64

struct inv_parse {
	struct inventory *inv;
	size_t cap;
	const char *origin;
	bool have_default;
	unsigned int default_line;
	char *err;
	size_t errlen;
};

static int inv_line_err(struct inv_parse *p, unsigned int line, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int inv_line_err(struct inv_parse *p, unsigned int line, int rc, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	set_err(p->err, p->errlen, "%s:%u: %s", p->origin, line, msg);
	return rc;
}

static int inv_parse_line(struct inv_parse *p, unsigned int line, const char *s, size_t len)
{
	const char *f[3];
	size_t fl[3];
	size_t nf = 0, i = 0;

	/* Characters first: the text may be anything. */
	for (size_t k = 0; k < len; k++) {
		unsigned char c = (unsigned char)s[k];

		if (c == '\0')
			return inv_line_err(p, line, -EINVAL, "NUL byte in the line");
		if ((c < 0x20 && !inv_space((char)c)) || c == 0x7f)
			return inv_line_err(p, line, -EINVAL,
					    "control character 0x%02x in the line", c);
	}
	/* Fields, up to a field that starts with '#'. */
	while (i < len) {
		while (i < len && inv_space(s[i]))
			i++;
		if (i == len || s[i] == '#')
			break;
		size_t start = i;

		while (i < len && !inv_space(s[i]))
			i++;
		if (nf == 3)
			break;
		f[nf] = s + start;
		fl[nf] = i - start;
		nf++;
	}
	if (nf == 0)
		return 0;
	if (nf == 1)
		return inv_line_err(p, line, -EINVAL,
				    "missing Kubernetes namespace after \"%.*s\" (expected "
				    "'<netns-name> <namespace>')",
				    (int)(fl[0] < QUOTE_MAX ? fl[0] : QUOTE_MAX), f[0]);
	if (nf > 2)
		return inv_line_err(p, line, -EINVAL,
				    "unexpected \"%.*s\" after the namespace (expected "
				    "'<netns-name> <namespace>')",
				    (int)(fl[2] < QUOTE_MAX ? fl[2] : QUOTE_MAX), f[2]);

	if (!floe_dns1123_label(f[1], fl[1]))
		return inv_line_err(
		    p, line, -EINVAL,
		    "namespace \"%.*s\" is not a valid DNS-1123 label (a-z, 0-9 and "
		    "'-', starting and ending with a letter or digit, at most %d "
		    "characters)",
		    (int)(fl[1] < QUOTE_MAX ? fl[1] : QUOTE_MAX), f[1], FLOE_NAMESPACE_MAX);

	if (fl[0] == 1 && f[0][0] == '*') {
		if (p->have_default)
			return inv_line_err(p, line, -EINVAL,
					    "second default line '*', the first is on line %u",
					    p->default_line);
		p->have_default = true;
		p->default_line = line;
		memcpy(p->inv->default_namespace, f[1], fl[1]);
		p->inv->default_namespace[fl[1]] = '\0';
		return 0;
	}

	if (fl[0] > FLOE_POD_NAME_MAX)
		return inv_line_err(p, line, -EINVAL,
				    "netns name \"%.*s...\" is longer than %d characters",
				    QUOTE_MAX, f[0], FLOE_POD_NAME_MAX);
	if ((fl[0] == 1 && f[0][0] == '.') || (fl[0] == 2 && f[0][0] == '.' && f[0][1] == '.'))
		return inv_line_err(p, line, -EINVAL, "\"%.*s\" is not a netns name", (int)fl[0],
				    f[0]);
	if (memchr(f[0], '/', fl[0]))
		return inv_line_err(p, line, -EINVAL,
				    "netns name \"%.*s\" contains '/' (give the name, not a path)",
				    (int)(fl[0] < QUOTE_MAX ? fl[0] : QUOTE_MAX), f[0]);

	if (p->inv->n == p->cap) {
		if (p->inv->n >= FLOE_INVENTORY_MAX_ENTRIES)
			return inv_line_err(p, line, -ENOSPC, "more than %d pods listed",
					    FLOE_INVENTORY_MAX_ENTRIES);
		size_t ncap = p->cap ? p->cap * 2 : 16;

		if (ncap > FLOE_INVENTORY_MAX_ENTRIES)
			ncap = FLOE_INVENTORY_MAX_ENTRIES;
		struct inventory_entry *e = realloc(p->inv->entries, ncap * sizeof(*e));

		if (!e)
			return inv_line_err(p, line, -ENOMEM, "out of memory");
		p->inv->entries = e;
		p->cap = ncap;
	}
	struct inventory_entry *e = &p->inv->entries[p->inv->n];

	e->netns = strndup(f[0], fl[0]);
	if (!e->netns)
		return inv_line_err(p, line, -ENOMEM, "out of memory");
	memcpy(e->namespace, f[1], fl[1]);
	e->namespace[fl[1]] = '\0';
	e->line = line;
	p->inv->n++;
	return 0;
}

int inventory_parse(const char *text, size_t len, const char *origin, struct inventory *inv,
		    char *err, size_t errlen)
{
	struct inv_parse p = {
	    .inv = inv,
	    .origin = origin ? origin : "inventory",
	    .err = err,
	    .errlen = errlen,
	};
	unsigned int line = 0;
	size_t pos = 0;
	int rc;

	memset(inv, 0, sizeof(*inv));
	strcpy(inv->default_namespace, "default");
	if (len && !text) {
		set_err(err, errlen, "%s: no text", p.origin);
		return -EINVAL;
	}
	if (len > FLOE_INVENTORY_MAX_BYTES) {
		set_err(err, errlen, "%s: larger than %d bytes", p.origin,
			FLOE_INVENTORY_MAX_BYTES);
		return -EFBIG;
	}
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) : len;

		line++;
		rc = inv_parse_line(&p, line, text + pos, end - pos);
		if (rc < 0)
			goto fail;
		pos = end + 1;
	}

	if (inv->n > 1) {
		qsort(inv->entries, inv->n, sizeof(*inv->entries), inv_entry_cmp);
		/* Report the duplicate that comes first in the file. */
		const struct inventory_entry *dup = NULL, *first = NULL;

		for (size_t i = 1; i < inv->n; i++) {
			if (strcmp(inv->entries[i - 1].netns, inv->entries[i].netns))
				continue;
			if (!dup || inv->entries[i].line < dup->line) {
				dup = &inv->entries[i];
				first = &inv->entries[i - 1];
			}
		}
		if (dup) {
			rc = inv_line_err(&p, dup->line, -EINVAL,
					  "pod \"%.*s\" already listed on line %u", QUOTE_MAX,
					  dup->netns, first->line);
			goto fail;
		}
	}
	return 0;
fail:
	inventory_free(inv);
	return rc;
}

int inventory_load(const char *path, struct inventory *inv, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd, rc;

	memset(inv, 0, sizeof(*inv));
	strcpy(inv->default_namespace, "default");
	if (!path)
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		rc = -errno;
		set_err(err, errlen, "inventory %s: %s", path, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		set_err(err, errlen, "inventory %s: %s", path, strerror(-rc));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = -EISDIR;
		set_err(err, errlen, "inventory %s: is a directory", path);
		goto out;
	}
	/* Read at most one byte past the limit, whatever st_size says (pipes, /proc). */
	buf = malloc(FLOE_INVENTORY_MAX_BYTES + 1);
	if (!buf) {
		rc = -ENOMEM;
		set_err(err, errlen, "inventory %s: out of memory", path);
		goto out;
	}
	while (len < FLOE_INVENTORY_MAX_BYTES + 1) {
		ssize_t n = read(fd, buf + len, FLOE_INVENTORY_MAX_BYTES + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			set_err(err, errlen, "inventory %s: %s", path, strerror(-rc));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	rc = inventory_parse(buf, len, path, inv, err, errlen);
out:
	free(buf);
	close(fd);
	return rc;
}

static int inv_key_cmp(const void *key, const void *elem)
{
	const struct inventory_entry *e = elem;

	return strcmp(key, e->netns);
}

const char *inventory_lookup(const struct inventory *inv, const char *netns)
{
	const struct inventory_entry *e;

	if (!inv)
		return "default";
	if (netns && inv->n) {
		e = bsearch(netns, inv->entries, inv->n, sizeof(*inv->entries), inv_key_cmp);
		if (e)
			return e->namespace;
	}
	return inv->default_namespace;
}

/* -------------------------------------------------------------- netlink */

struct nl {
	struct mnl_socket *sock;
	unsigned int portid;
	unsigned int seq;
	char *buf;
};

static int nl_open(struct nl *nl)
{
	memset(nl, 0, sizeof(*nl));
	nl->buf = malloc(NL_BUF_SIZE);
	if (!nl->buf)
		return -ENOMEM;
	nl->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl->sock)
		goto fail;
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0)
		goto fail;
	nl->portid = mnl_socket_get_portid(nl->sock);
	nl->seq = (unsigned int)time(NULL);
	return 0;
fail:;
	int rc = errno ? -errno : -EIO;

	if (nl->sock)
		mnl_socket_close(nl->sock);
	free(nl->buf);
	memset(nl, 0, sizeof(*nl));
	return rc;
}

static void nl_close(struct nl *nl)
{
	if (nl->sock)
		mnl_socket_close(nl->sock);
	free(nl->buf);
	memset(nl, 0, sizeof(*nl));
}

/* State every callback gets: it is reset before each try of a dump. */
struct nl_cb_state {
	bool intr; /* NLM_F_DUMP_INTR seen */
	mnl_cb_t fn;
	void *data;
};

static int nl_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_cb_state *st = data;

	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		st->intr = true;
	return st->fn(nlh, st->data);
}

/*
 * Send one request and run fn on each answer until the dump ends (NLMSG_DONE) or the ACK
 * comes. reset (may be NULL) is called before each try, so that an interrupted dump can be
 * redone from scratch.
 */
static int nl_run(struct nl *nl, struct nlmsghdr *nlh, mnl_cb_t fn, void (*reset)(void *),
		  void *data)
{
	bool dump = nlh->nlmsg_flags & NLM_F_DUMP;

	for (int tries = 0; tries < NL_DUMP_TRIES; tries++) {
		struct nl_cb_state st = {.fn = fn, .data = data};
		unsigned int seq = ++nl->seq;
		int r;

		if (reset)
			reset(data);
		nlh->nlmsg_seq = seq;
		nlh->nlmsg_pid = 0;
		if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
			return errno ? -errno : -EIO;
		do {
			ssize_t n = mnl_socket_recvfrom(nl->sock, nl->buf, NL_BUF_SIZE);

			if (n < 0) {
				if (errno == EINTR)
					continue;
				return errno ? -errno : -EIO;
			}
			errno = 0;
			r = mnl_cb_run(nl->buf, (size_t)n, seq, nl->portid, nl_cb, &st);
			if (r < 0)
				return errno ? -errno : -EIO;
		} while (r != MNL_CB_STOP);
		if (!dump || !st.intr)
			return 0;
	}
	return -EAGAIN;
}

static int attr_cb(const struct nlattr *attr, void *data, int max)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (type <= max)
		tb[type] = attr;
	return MNL_CB_OK;
}

static int link_attr_cb(const struct nlattr *attr, void *data)
{
	return attr_cb(attr, data, IFLA_MAX);
}

static int linkinfo_attr_cb(const struct nlattr *attr, void *data)
{
	return attr_cb(attr, data, IFLA_INFO_MAX);
}

static int addr_attr_cb(const struct nlattr *attr, void *data)
{
	return attr_cb(attr, data, IFA_MAX);
}

static int nsid_attr_cb(const struct nlattr *attr, void *data)
{
	return attr_cb(attr, data, NETNSA_MAX);
}

static bool attr_u32(const struct nlattr *a)
{
	return a && mnl_attr_validate(a, MNL_TYPE_U32) >= 0;
}

/* The veth of a netns whose peer is in another netns, the one with the lowest ifindex. */
struct link_scan {
	int want_nsid; /* only veths whose peer has this nsid; -1: any other netns */
	bool found;
	int ifindex;	  /* the pod's end */
	int peer_ifindex; /* IFLA_LINK: the host end's ifindex, in the peer's netns */
	char ifname[IF_NAMESIZE];
};

static void link_scan_reset(void *data)
{
	struct link_scan *ls = data;

	ls->found = false;
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct link_scan *ls = data;
	const struct nlattr *tb[IFLA_MAX + 1] = {0};
	const struct nlattr *info[IFLA_INFO_MAX + 1] = {0};
	const struct ifinfomsg *ifm;
	const char *kind;
	uint16_t klen;
	int nsid;

	if (nlh->nlmsg_type != RTM_NEWLINK || mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifm))
		return MNL_CB_OK;
	ifm = mnl_nlmsg_get_payload(nlh);
	if (mnl_attr_parse(nlh, sizeof(*ifm), link_attr_cb, tb) < 0)
		return MNL_CB_OK;
	if (!tb[IFLA_LINKINFO] || !attr_u32(tb[IFLA_LINK]) || !attr_u32(tb[IFLA_LINK_NETNSID]) ||
	    !tb[IFLA_IFNAME] || mnl_attr_validate(tb[IFLA_IFNAME], MNL_TYPE_NUL_STRING) < 0)
		return MNL_CB_OK;
	if (mnl_attr_parse_nested(tb[IFLA_LINKINFO], linkinfo_attr_cb, info) < 0)
		return MNL_CB_OK;
	if (!info[IFLA_INFO_KIND] || mnl_attr_validate(info[IFLA_INFO_KIND], MNL_TYPE_STRING) < 0)
		return MNL_CB_OK;
	kind = mnl_attr_get_payload(info[IFLA_INFO_KIND]);
	klen = mnl_attr_get_payload_len(info[IFLA_INFO_KIND]);
	if (klen < 4 || memcmp(kind, "veth", 4) != 0 || (klen > 4 && kind[4] != '\0'))
		return MNL_CB_OK;
	nsid = (int)mnl_attr_get_u32(tb[IFLA_LINK_NETNSID]);
	if (ls->want_nsid >= 0 && nsid != ls->want_nsid)
		return MNL_CB_OK;
	if (nsid < 0 || ifm->ifi_index <= 0)
		return MNL_CB_OK;
	if (ls->found && ls->ifindex <= ifm->ifi_index)
		return MNL_CB_OK;
	ls->found = true;
	ls->ifindex = ifm->ifi_index;
	ls->peer_ifindex = (int)mnl_attr_get_u32(tb[IFLA_LINK]);
	snprintf(ls->ifname, sizeof(ls->ifname), "%s", mnl_attr_get_str(tb[IFLA_IFNAME]));
	return MNL_CB_OK;
}

#define LINK_REQ_SIZE (MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct ifinfomsg)))

/* An RTM_GETLINK request in req: ifindex 0 dumps every link, else asks for that one (its
 * answer then ends with the ACK, which nl_run reads up to). */
static struct nlmsghdr *link_request(char req[LINK_REQ_SIZE], int ifindex)
{
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifm;

	memset(req, 0, LINK_REQ_SIZE);
	nlh = mnl_nlmsg_put_header(req);
	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | (ifindex ? NLM_F_ACK : NLM_F_DUMP);
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = ifindex;
	return nlh;
}

static int nl_link_scan(struct nl *nl, struct link_scan *ls)
{
	char req[LINK_REQ_SIZE];

	return nl_run(nl, link_request(req, 0), link_cb, link_scan_reset, ls);
}

struct link_kind {
	char *kind;
	size_t len;
	bool found;
};

static int link_kind_cb(const struct nlmsghdr *nlh, void *data)
{
	struct link_kind *lk = data;
	const struct nlattr *tb[IFLA_MAX + 1] = {0};
	const struct nlattr *info[IFLA_INFO_MAX + 1] = {0};

	if (nlh->nlmsg_type != RTM_NEWLINK ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(struct ifinfomsg) ||
	    mnl_attr_parse(nlh, sizeof(struct ifinfomsg), link_attr_cb, tb) < 0)
		return MNL_CB_OK;
	lk->found = true;
	if (tb[IFLA_LINKINFO] &&
	    mnl_attr_parse_nested(tb[IFLA_LINKINFO], linkinfo_attr_cb, info) >= 0 &&
	    info[IFLA_INFO_KIND] && mnl_attr_validate(info[IFLA_INFO_KIND], MNL_TYPE_STRING) >= 0)
		snprintf(lk->kind, lk->len, "%.*s",
			 (int)strnlen(mnl_attr_get_payload(info[IFLA_INFO_KIND]),
				      mnl_attr_get_payload_len(info[IFLA_INFO_KIND])),
			 (const char *)mnl_attr_get_payload(info[IFLA_INFO_KIND]));
	return MNL_CB_OK;
}

int floe_link_kind(int ifindex, char *kind, size_t kindlen)
{
	char req[LINK_REQ_SIZE];
	struct link_kind lk = {.kind = kind, .len = kindlen};
	struct nl nl;
	int rc;

	if (kindlen)
		kind[0] = '\0';
	if (ifindex <= 0)
		return -ENODEV;
	rc = nl_open(&nl);
	if (rc < 0)
		return rc;
	rc = nl_run(&nl, link_request(req, ifindex), link_kind_cb, NULL, &lk);
	nl_close(&nl);
	if (rc == 0 && !lk.found)
		rc = -ENODEV;
	return rc;
}

static int nsid_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[NETNSA_MAX + 1] = {0};
	int *nsid = data;

	if (nlh->nlmsg_type != RTM_NEWNSID ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(struct rtgenmsg))
		return MNL_CB_OK;
	if (mnl_attr_parse(nlh, sizeof(struct rtgenmsg), nsid_attr_cb, tb) < 0)
		return MNL_CB_OK;
	if (attr_u32(tb[NETNSA_NSID]))
		*nsid = (int)mnl_attr_get_u32(tb[NETNSA_NSID]);
	return MNL_CB_OK;
}

/* The id that the netns behind fd has in the socket's netns; -1 when none is assigned. */
static int nl_get_nsid(struct nl *nl, int fd, int *nsid)
{
	char req[MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct rtgenmsg)) + MNL_ATTR_HDRLEN + 4];
	struct nlmsghdr *nlh;
	struct rtgenmsg *g;

	memset(req, 0, sizeof(req));
	nlh = mnl_nlmsg_put_header(req);
	nlh->nlmsg_type = RTM_GETNSID;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->rtgen_family = AF_UNSPEC;
	mnl_attr_put_u32(nlh, NETNSA_FD, (uint32_t)fd);
	*nsid = NETNSA_NSID_NOT_ASSIGNED;
	return nl_run(nl, nlh, nsid_cb, NULL, nsid);
}

struct addr_scan {
	int ifindex;
	struct floe_pod *pod;
};

static void addr_scan_reset(void *data)
{
	struct addr_scan *as = data;

	as->pod->n_addrs = 0;
	memset(as->pod->addrs, 0, sizeof(as->pod->addrs));
}

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	struct addr_scan *as = data;
	const struct nlattr *tb[IFA_MAX + 1] = {0};
	const struct ifaddrmsg *ifa;
	const struct nlattr *a;
	struct floe_pod_addr *out;
	size_t alen;

	if (nlh->nlmsg_type != RTM_NEWADDR || mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifa))
		return MNL_CB_OK;
	ifa = mnl_nlmsg_get_payload(nlh);
	if ((int)ifa->ifa_index != as->ifindex)
		return MNL_CB_OK;
	if (ifa->ifa_family == AF_INET)
		alen = 4;
	else if (ifa->ifa_family == AF_INET6)
		alen = 16;
	else
		return MNL_CB_OK;
	if (mnl_attr_parse(nlh, sizeof(*ifa), addr_attr_cb, tb) < 0)
		return MNL_CB_OK;
	/* IFA_LOCAL is the local address when a peer address is configured, else only
	 * IFA_ADDRESS is there. */
	a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (!a || mnl_attr_get_payload_len(a) != alen)
		return MNL_CB_OK;
	const uint8_t *ip = mnl_attr_get_payload(a);

	/* IPv6 link-local (fe80::/10) addresses are not pod IPs. */
	if (alen == 16 && ip[0] == 0xfe && (ip[1] & 0xc0) == 0x80)
		return MNL_CB_OK;
	if (as->pod->n_addrs >= FLOE_POD_MAX_ADDRS)
		return MNL_CB_OK;
	out = &as->pod->addrs[as->pod->n_addrs++];
	out->family = ifa->ifa_family;
	memcpy(out->addr, ip, alen);
	out->prefixlen = ifa->ifa_prefixlen;
	return MNL_CB_OK;
}

static int nl_addr_scan(struct nl *nl, int ifindex, struct floe_pod *pod)
{
	char req[MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct ifaddrmsg))];
	struct addr_scan as = {.ifindex = ifindex, .pod = pod};
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;

	memset(req, 0, sizeof(req));
	nlh = mnl_nlmsg_put_header(req);
	nlh->nlmsg_type = RTM_GETADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_UNSPEC;
	return nl_run(nl, nlh, addr_cb, addr_scan_reset, &as);
}

/* ------------------------------------------------------------ discovery */

/*
 * Inside the pod's netns: find the veth whose peer is in the caller's netns (self_fd) and
 * the addresses of the pod's end. *is_pod false (and 0) when there is none.
 */
static int probe_inside(const char *name, int self_fd, struct floe_pod *pod, bool *is_pod,
			char *err, size_t errlen)
{
	struct link_scan ls = {.want_nsid = -1};
	struct nl nl;
	int nsid, rc;

	rc = nl_open(&nl);
	if (rc < 0) {
		set_err(err, errlen, "netns %s: rtnetlink socket: %s", name, strerror(-rc));
		return rc;
	}
	/* A dump of the links assigns ids to the netns that veth peers are in (the kernel
	 * does so to fill IFLA_LINK_NETNSID), so it goes first: then RTM_GETNSID knows the id
	 * of the caller's netns if some veth leads there. */
	rc = nl_link_scan(&nl, &ls);
	if (rc < 0) {
		set_err(err, errlen, "netns %s: link dump: %s", name, strerror(-rc));
		goto out;
	}
	if (!ls.found)
		goto out; /* no veth to another netns at all */
	rc = nl_get_nsid(&nl, self_fd, &nsid);
	if (rc < 0) {
		set_err(err, errlen, "netns %s: RTM_GETNSID: %s", name, strerror(-rc));
		goto out;
	}
	if (nsid < 0)
		goto out; /* the caller's netns has no id here: no veth leads to it */
	ls.want_nsid = nsid;
	rc = nl_link_scan(&nl, &ls);
	if (rc < 0) {
		set_err(err, errlen, "netns %s: link dump: %s", name, strerror(-rc));
		goto out;
	}
	if (!ls.found)
		goto out;
	rc = nl_addr_scan(&nl, ls.ifindex, pod);
	if (rc < 0) {
		set_err(err, errlen, "netns %s: address dump: %s", name, strerror(-rc));
		goto out;
	}
	pod->host_ifindex = ls.peer_ifindex;
	snprintf(pod->pod_ifname, sizeof(pod->pod_ifname), "%s", ls.ifname);
	*is_pod = true;
out:
	nl_close(&nl);
	return rc;
}

/* Enter the netns of fd, probe, come back to self_fd whatever happened. */
int pods_local_probe_netns(const char *name, int ns_fd, int self_fd, struct floe_pod *pod,
			   bool *is_pod, char *err, size_t errlen)
{
	int rc;

	*is_pod = false;
	if (setns(ns_fd, CLONE_NEWNET) < 0) {
		/* Not a netns: e.g. a file `ip netns add` has made but not yet mounted on,
		 * or one being deleted. */
		if (errno == EINVAL)
			return 0;
		rc = -errno;
		set_err(err, errlen, "netns %s: setns: %s", name, strerror(-rc));
		return rc;
	}
	rc = probe_inside(name, self_fd, pod, is_pod, err, errlen);
	if (setns(self_fd, CLONE_NEWNET) < 0) {
		int e = errno;

		set_err(err, errlen, "netns %s: cannot return to the caller's netns: %s", name,
			strerror(e));
		*is_pod = false;
		return -e;
	}
	return rc;
}

static int pod_cmp(const void *a, const void *b)
{
	const struct floe_pod *x = a, *y = b;

	return strcmp(x->name, y->name);
}

void pods_local_free(struct floe_pod_list *list)
{
	if (!list)
		return;
	free(list->pods);
	list->pods = NULL;
	list->n = 0;
}

static int open_self_netns(void)
{
	/* The calling thread's netns (setns works per thread). */
	int fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	return fd;
}

int pods_local_discover(const char *netns_dir, const char *inventory, struct floe_pod_list *out,
			char *err, size_t errlen)
{
	struct inventory inv;
	struct floe_pod *pod = NULL;
	DIR *dir = NULL;
	size_t cap = 0;
	int self_fd = -1, dfd, rc;

	memset(out, 0, sizeof(*out));
	if (!netns_dir)
		netns_dir = "/run/netns";
	rc = inventory_load(inventory, &inv, err, errlen);
	if (rc < 0)
		return rc;
	pod = calloc(1, sizeof(*pod));
	if (!pod) {
		rc = -ENOMEM;
		set_err(err, errlen, "out of memory");
		goto out;
	}
	dir = opendir(netns_dir);
	if (!dir) {
		rc = errno == ENOENT ? 0 : -errno; /* no named netns was ever made */
		if (rc)
			set_err(err, errlen, "%s: %s", netns_dir, strerror(-rc));
		goto out;
	}
	dfd = dirfd(dir);
	self_fd = open_self_netns();
	if (self_fd < 0) {
		rc = -errno;
		set_err(err, errlen, "cannot open the caller's netns: %s", strerror(-rc));
		goto out;
	}

	for (;;) {
		struct dirent *de;
		bool is_pod;
		int fd;

		errno = 0;
		de = readdir(dir);
		if (!de) {
			if (errno) {
				rc = -errno;
				set_err(err, errlen, "%s: %s", netns_dir, strerror(-rc));
				goto out;
			}
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		size_t name_len = strlen(de->d_name);

		if (name_len > FLOE_POD_NAME_MAX)
			continue; /* cannot be named; not something `ip netns` makes */
		fd = openat(dfd, de->d_name, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			if (errno == ENOENT)
				continue; /* deleted meanwhile */
			rc = -errno;
			set_err(err, errlen, "%s/%s: %s", netns_dir, de->d_name, strerror(-rc));
			goto out;
		}
		memset(pod, 0, sizeof(*pod));
		rc = pods_local_probe_netns(de->d_name, fd, self_fd, pod, &is_pod, err, errlen);
		close(fd);
		if (rc < 0)
			goto out;
		if (!is_pod)
			continue;
		/* Back in the caller's netns: the host end must be here. */
		if (!if_indextoname((unsigned int)pod->host_ifindex, pod->host_ifname))
			continue; /* gone meanwhile */
		memcpy(pod->name, de->d_name, name_len + 1);
		snprintf(pod->namespace, sizeof(pod->namespace), "%s",
			 inventory_lookup(&inv, pod->name));

		if (out->n == cap) {
			if (out->n >= FLOE_POD_LIST_MAX) {
				rc = -ENOSPC;
				set_err(err, errlen, "%s: more than %d pods", netns_dir,
					FLOE_POD_LIST_MAX);
				goto out;
			}
			size_t ncap = cap ? cap * 2 : 16;

			if (ncap > FLOE_POD_LIST_MAX)
				ncap = FLOE_POD_LIST_MAX;
			struct floe_pod *p = realloc(out->pods, ncap * sizeof(*p));

			if (!p) {
				rc = -ENOMEM;
				set_err(err, errlen, "out of memory");
				goto out;
			}
			out->pods = p;
			cap = ncap;
		}
		out->pods[out->n++] = *pod;
	}
	if (out->n > 1)
		qsort(out->pods, out->n, sizeof(*out->pods), pod_cmp);
	rc = 0;
out:
	if (rc < 0)
		pods_local_free(out);
	if (self_fd >= 0)
		close(self_fd);
	if (dir)
		closedir(dir);
	free(pod);
	inventory_free(&inv);
	return rc;
}

/* ------------------------------------------------------------ tap scope */

void tap_scope_free(struct tap_scope *scope)
{
	if (!scope)
		return;
	if (scope->has_regex)
		regfree(&scope->pod_regex);
	for (size_t i = 0; i < scope->n_namespaces; i++)
		free(scope->namespaces[i]);
	free(scope->namespaces);
	memset(scope, 0, sizeof(*scope));
}

static int scope_parse_namespaces(struct tap_scope *scope, const char *csv, char *err,
				  size_t errlen)
{
	size_t n = 1, item = 0;
	const char *p = csv;

	for (const char *c = csv; *c; c++)
		n += *c == ',';
	scope->namespaces = calloc(n, sizeof(*scope->namespaces));
	if (!scope->namespaces) {
		set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (;;) {
		const char *end = strchr(p, ',');
		const char *s = p, *e = end ? end : p + strlen(p);

		item++;
		while (s < e && isspace((unsigned char)*s))
			s++;
		while (e > s && isspace((unsigned char)e[-1]))
			e--;
		if (s == e) {
			set_err(err, errlen, "-n \"%s\": namespace %zu is empty", csv, item);
			return -EINVAL;
		}
		if (!floe_dns1123_label(s, (size_t)(e - s))) {
			set_err(err, errlen,
				"-n: \"%.*s\" is not a valid namespace name (DNS-1123 label: a-z, "
				"0-9 and '-', starting and ending with a letter or digit, at most "
				"%d characters)",
				(int)((size_t)(e - s) < QUOTE_MAX ? (size_t)(e - s) : QUOTE_MAX), s,
				FLOE_NAMESPACE_MAX);
			return -EINVAL;
		}
		scope->namespaces[scope->n_namespaces] = strndup(s, (size_t)(e - s));
		if (!scope->namespaces[scope->n_namespaces]) {
			set_err(err, errlen, "out of memory");
			return -ENOMEM;
		}
		scope->n_namespaces++;
		if (!end)
			break;
		p = end + 1;
	}
	return 0;
}

int tap_scope_init(struct tap_scope *scope, const char *regex, const char *namespaces_csv,
		   bool all_namespaces, char *err, size_t errlen)
{
	int rc;

	memset(scope, 0, sizeof(*scope));
	scope->all_namespaces = all_namespaces;
	if (regex && *regex) {
		rc = regcomp(&scope->pod_regex, regex, REG_EXTENDED | REG_NOSUB);
		if (rc) {
			char msg[128];

			regerror(rc, &scope->pod_regex, msg, sizeof(msg));
			set_err(err, errlen, "invalid pod regex \"%s\": %s", regex, msg);
			memset(scope, 0, sizeof(*scope));
			return -EINVAL;
		}
		scope->has_regex = true;
	}
	if (namespaces_csv) {
		rc = scope_parse_namespaces(scope, namespaces_csv, err, errlen);
		if (rc < 0) {
			tap_scope_free(scope);
			return rc;
		}
	}
	return 0;
}

bool tap_scope_match(const struct tap_scope *scope, const struct floe_pod *pod)
{
	if (scope->has_regex &&
	    regexec(&scope->pod_regex, floe_pod_short_name(pod), 0, NULL, 0) != 0)
		return false;
	if (scope->all_namespaces)
		return true;
	if (scope->n_namespaces == 0)
		return strcmp(pod->namespace, "default") == 0;
	for (size_t i = 0; i < scope->n_namespaces; i++)
		if (strcmp(pod->namespace, scope->namespaces[i]) == 0)
			return true;
	return false;
}
