// SPDX-License-Identifier: Apache-2.0
/*
 * A query's pushdown in the capture program's scope maps (capture_scope.h). Each term of the
 * pushdown is one bit; every value a term lists becomes a scope_values entry whose bits say
 * which terms it satisfies (a value two terms list carries both bits).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <bpf/libbpf.h>

#include "floe_record.h"
#include "capture/capture_scope.h"

struct capture_scope {
	struct capture_scope_maps maps;
	struct kfl_pushdown p;
};

static void addr_key(int family, const uint8_t *addr, uint8_t out[16])
{
	memset(out, 0, 16);
	if (family == AF_INET) {
		out[10] = 0xff;
		out[11] = 0xff;
		memcpy(out + 12, addr, 4);
	} else {
		memcpy(out, addr, 16);
	}
}

/* bits added to the entry of key (made if missing, with bits alone). */
static int or_bits(struct bpf_map *values, const struct floe_scope_key *key, uint32_t bits)
{
	uint32_t old = 0;

	if (bpf_map__lookup_elem(values, key, sizeof(*key), &old, sizeof(old), 0) < 0)
		old = 0;
	old |= bits;
	return bpf_map__update_elem(values, key, sizeof(*key), &old, sizeof(old), BPF_ANY);
}

/* One value of an address or port term into the map. */
static int load_value(struct bpf_map *values, const struct kfl_scope_term *t, size_t v,
		      uint32_t bit)
{
	struct floe_scope_key key = {0};
	uint8_t a[16];

	if (t->attr == KFL_PORT) {
		uint16_t port = htons((uint16_t)t->ints[v]);

		key.kind = FLOE_SCOPE_PORT;
		memcpy(key.value, &port, sizeof(port));
	} else {
		key.kind = FLOE_SCOPE_ADDR;
		if (inet_pton(AF_INET, t->values[v], a) == 1)
			addr_key(AF_INET, a, key.value);
		else if (inet_pton(AF_INET6, t->values[v], a) == 1)
			addr_key(AF_INET6, a, key.value);
		else
			return -EINVAL; /* kfl_pushdown checked it */
	}
	return or_bits(values, &key, bit);
}

/*
 * After a change of scope_values: the program's cached verdicts (scope_cache) are made under
 * the generation before it, so none is used again. The change itself has landed by now (a map
 * update is visible to the next lookup), so a verdict made under the new generation saw it.
 */
static int bump_generation(struct bpf_map *config)
{
	struct floe_scope_config cfg;
	uint32_t zero = 0;
	int ret = bpf_map__lookup_elem(config, &zero, sizeof(zero), &cfg, sizeof(cfg), 0);

	if (ret < 0)
		return ret;
	cfg.generation++;
	return bpf_map__update_elem(config, &zero, sizeof(zero), &cfg, sizeof(cfg), BPF_ANY);
}

static bool is_pod_term(const struct kfl_scope_term *t)
{
	return t->attr == KFL_POD || t->attr == KFL_NAMESPACE;
}

/*
 * Whatever scope the maps held goes: the check is turned off first (under a new generation, so
 * no verdict cached under the old scope is used again; every packet is recorded meanwhile),
 * then every value is deleted, the pods' entries included (their bits were the old terms').
 * The next generation is in *gen.
 */
static int scope_clear(const struct capture_scope_maps *m, uint32_t *gen)
{
	struct floe_scope_config cfg = {0}, old = {0};
	struct floe_scope_key key;
	uint32_t zero = 0;
	int ret;

	if (bpf_map__lookup_elem(m->config, &zero, sizeof(zero), &old, sizeof(old), 0) == 0)
		cfg.generation = old.generation + 1;
	ret = bpf_map__update_elem(m->config, &zero, sizeof(zero), &cfg, sizeof(cfg), BPF_ANY);
	if (ret < 0)
		return ret;
	/* Deleting the first key until none is left: the walk does not depend on the order of
	 * what remains; bounded by the map's size since each turn deletes one. */
	while (bpf_map__get_next_key(m->values, NULL, &key, sizeof(key)) == 0) {
		ret = bpf_map__delete_elem(m->values, &key, sizeof(key), 0);
		if (ret < 0 && ret != -ENOENT)
			return ret;
	}
	*gen = cfg.generation + 1;
	return 0;
}

int capture_scope_load(const struct capture_scope_maps *m, const struct kfl_pushdown *p,
		       struct capture_scope **out, char *err, size_t errlen)
{
	struct floe_scope_config cfg = {0};
	struct capture_scope *s;
	uint32_t zero = 0;
	int ret;

	*out = NULL;
	ret = scope_clear(m, &cfg.generation);
	if (ret < 0) {
		snprintf(err, errlen, "capture scope: clearing the last one: %s", strerror(-ret));
		return ret;
	}
	if (p->all || p->nclauses == 0 || p->nclauses > FLOE_SCOPE_CLAUSES_MAX)
		return 0;
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "capture scope: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	s->maps = *m;
	s->p = *p;
	for (size_t i = 0; i < p->nterms; i++) {
		const struct kfl_scope_term *t = &p->terms[i];

		if (t->attr == KFL_PORT)
			cfg.port_terms |= 1u << i;
		if (is_pod_term(t)) {
			cfg.pod_terms |= 1u << i;
			continue;
		}
		for (size_t v = 0; v < t->count; v++) {
			ret = load_value(m->values, t, v, 1u << i);
			if (ret < 0) {
				snprintf(err, errlen, "capture scope: value '%s': %s", t->values[v],
					 strerror(-ret));
				free(s);
				return ret;
			}
		}
	}
	cfg.enabled = 1;
	cfg.nclauses = (uint32_t)p->nclauses;
	for (size_t c = 0; c < p->nclauses; c++)
		cfg.clauses[c] = p->clauses[c];
	ret = bpf_map__update_elem(m->config, &zero, sizeof(zero), &cfg, sizeof(cfg), BPF_ANY);
	if (ret < 0) {
		snprintf(err, errlen, "capture scope: %s", strerror(-ret));
		free(s);
		return ret;
	}
	*out = s;
	return 0;
}

static bool listed(const struct kfl_scope_term *t, const char *name)
{
	for (size_t v = 0; v < t->count; v++)
		if (name && t->values[v] && !strcmp(t->values[v], name))
			return true;
	return false;
}

int capture_scope_pod_set(struct capture_scope *s, const char *pod, const char *ns, int family,
			  const uint8_t *addr)
{
	struct floe_scope_key key = {.kind = FLOE_SCOPE_POD};
	uint32_t bits = 0;
	int ret;

	if (!s)
		return 0;
	if (family != AF_INET && family != AF_INET6)
		return -EAFNOSUPPORT;
	for (size_t i = 0; i < s->p.nterms; i++) {
		const struct kfl_scope_term *t = &s->p.terms[i];

		if ((t->attr == KFL_POD && listed(t, pod)) ||
		    (t->attr == KFL_NAMESPACE && listed(t, ns)))
			bits |= 1u << i;
	}
	addr_key(family, addr, key.value);
	/* Replaced, not or'ed: a pod that changed its name loses the old one's bits. */
	ret = bpf_map__update_elem(s->maps.values, &key, sizeof(key), &bits, sizeof(bits), BPF_ANY);
	return ret < 0 ? ret : bump_generation(s->maps.config);
}

int capture_scope_pod_del(struct capture_scope *s, int family, const uint8_t *addr)
{
	struct floe_scope_key key = {.kind = FLOE_SCOPE_POD};
	int ret;

	if (!s)
		return 0;
	if (family != AF_INET && family != AF_INET6)
		return -EAFNOSUPPORT;
	addr_key(family, addr, key.value);
	ret = bpf_map__delete_elem(s->maps.values, &key, sizeof(key), 0);
	if (ret == -ENOENT)
		return 0;
	return ret < 0 ? ret : bump_generation(s->maps.config);
}

void capture_scope_describe(const struct capture_scope *s, char *buf, size_t size)
{
	if (!s) {
		snprintf(buf, size, "every packet");
		return;
	}
	kfl_pushdown_text(&s->p, buf, size);
}

void capture_scope_free(struct capture_scope *s)
{
	free(s);
}
