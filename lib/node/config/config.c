// SPDX-License-Identifier: Apache-2.0
/* The configuration file and --set (config.h, docs/config.md). */
#include "config/config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

/* Deeper than any sane configuration; bounds the recursion of a hostile file. */
#define CONFIG_MAX_DEPTH 32

static struct config_node *node_new(enum config_type type, int line)
{
	struct config_node *n = calloc(1, sizeof(*n));

	if (n) {
		n->type = type;
		n->line = line;
	}
	return n;
}

static void node_free(struct config_node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n_kids; i++)
		node_free(n->kids[i]);
	free(n->kids);
	free(n->key);
	free(n->value);
	free(n);
}

static int node_add(struct config_node *parent, struct config_node *kid)
{
	struct config_node **k = realloc(parent->kids, (parent->n_kids + 1) * sizeof(*k));

	if (!k)
		return -ENOMEM;
	parent->kids = k;
	k[parent->n_kids++] = kid;
	return 0;
}

void config_free(struct config *c)
{
	if (!c)
		return;
	node_free(c->root);
	free(c->path);
	free(c);
}

const struct config_node *config_get(const struct config_node *map, const char *key)
{
	if (!map || map->type != CONFIG_MAP)
		return NULL;
	for (size_t i = 0; i < map->n_kids; i++)
		if (!strcmp(map->kids[i]->key, key))
			return map->kids[i];
	return NULL;
}

const char *config_where(const struct config *c, const struct config_node *n, char *buf,
			 size_t size)
{
	if (n && n->line > 0)
		snprintf(buf, size, "%s:%d", c && c->path ? c->path : "config", n->line);
	else
		snprintf(buf, size, "--set");
	return buf;
}

/* ---- YAML → tree ---- */

struct yparse {
	yaml_parser_t p;
	const char *name;
	char *err;
	size_t errlen;
};

static int yerr(struct yparse *y, int line, const char *what)
{
	snprintf(y->err, y->errlen, "%s:%d: %s", y->name, line, what);
	return -EINVAL;
}

static int next_event(struct yparse *y, yaml_event_t *ev)
{
	if (yaml_parser_parse(&y->p, ev))
		return 0;
	snprintf(y->err, y->errlen, "%s:%zu: %s%s%s", y->name, y->p.problem_mark.line + 1,
		 y->p.problem ? y->p.problem : "invalid YAML", y->p.context ? " " : "",
		 y->p.context ? y->p.context : "");
	return -EINVAL;
}

/* One node whose first event is ev (consumed by the caller afterwards). */
static int parse_node(struct yparse *y, yaml_event_t *ev, int depth, struct config_node **out);

static int parse_collection(struct yparse *y, struct config_node *n, int depth)
{
	yaml_event_t ev;
	int ret;

	for (;;) {
		struct config_node *kid = NULL;
		char *key = NULL;
		int key_line = 0;

		if ((ret = next_event(y, &ev)))
			return ret;
		if (ev.type == YAML_MAPPING_END_EVENT || ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			return 0;
		}
		if (n->type == CONFIG_MAP) {
			key_line = (int)ev.start_mark.line + 1;
			if (ev.type != YAML_SCALAR_EVENT) {
				yaml_event_delete(&ev);
				return yerr(y, key_line, "a key must be a plain word");
			}
			key = strndup((const char *)ev.data.scalar.value, ev.data.scalar.length);
			yaml_event_delete(&ev);
			if (!key)
				return -ENOMEM;
			if (strlen(key) == 0 || config_get(n, key)) {
				ret = yerr(y, key_line,
					   *key ? "this key is given twice" : "an empty key");
				free(key);
				return ret;
			}
			if ((ret = next_event(y, &ev))) {
				free(key);
				return ret;
			}
		}
		ret = parse_node(y, &ev, depth + 1, &kid);
		yaml_event_delete(&ev);
		if (!ret && node_add(n, kid))
			ret = -ENOMEM;
		if (ret) {
			node_free(kid);
			free(key);
			return ret;
		}
		kid->key = key;
		if (key) /* the key's line: where a section starts, not its first member */
			kid->line = key_line;
	}
}

static int parse_node(struct yparse *y, yaml_event_t *ev, int depth, struct config_node **out)
{
	int line = (int)ev->start_mark.line + 1;
	struct config_node *n;
	int ret;

	if (depth > CONFIG_MAX_DEPTH)
		return yerr(y, line, "nested too deeply");
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		n = node_new(CONFIG_SCALAR, line);
		if (!n)
			return -ENOMEM;
		n->value = strndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
		if (!n->value) {
			node_free(n);
			return -ENOMEM;
		}
		if (strlen(n->value) != ev->data.scalar.length) {
			node_free(n);
			return yerr(y, line, "a value holds a NUL character");
		}
		n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
		*out = n;
		return 0;
	case YAML_MAPPING_START_EVENT:
	case YAML_SEQUENCE_START_EVENT:
		n = node_new(ev->type == YAML_MAPPING_START_EVENT ? CONFIG_MAP : CONFIG_SEQ, line);
		if (!n)
			return -ENOMEM;
		ret = parse_collection(y, n, depth);
		if (ret) {
			node_free(n);
			return ret;
		}
		*out = n;
		return 0;
	case YAML_ALIAS_EVENT:
		/* Aliases would let a small file expand without bound: not needed for settings. */
		return yerr(y, line, "aliases (*name) are not supported");
	default:
		return yerr(y, line, "unexpected YAML structure");
	}
}

int config_parse(const char *name, const char *text, size_t len, struct config **out, char *err,
		 size_t errlen)
{
	struct yparse y = {.name = name, .err = err, .errlen = errlen};
	struct config *c = calloc(1, sizeof(*c));
	yaml_event_t ev;
	int ret = 0, docs = 0;

	if (!c || !(c->path = strdup(name)) || !(c->root = node_new(CONFIG_MAP, 1))) {
		config_free(c);
		return -ENOMEM;
	}
	if (!yaml_parser_initialize(&y.p)) {
		config_free(c);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&y.p, (const unsigned char *)text, len);
	for (bool done = false; !done && !ret;) {
		if ((ret = next_event(&y, &ev)))
			break;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1)
				ret =
				    yerr(&y, (int)ev.start_mark.line + 1, "one YAML document only");
			break;
		case YAML_MAPPING_START_EVENT: {
			struct config_node *root = NULL;

			ret = parse_node(&y, &ev, 0, &root);
			if (!ret) {
				node_free(c->root);
				c->root = root;
			}
			break;
		}
		case YAML_SCALAR_EVENT:
			/* an empty document is a null scalar: an empty configuration */
			if (ev.data.scalar.length == 0 ||
			    !strcmp((const char *)ev.data.scalar.value, "~") ||
			    !strcmp((const char *)ev.data.scalar.value, "null"))
				break;
			/* fallthrough */
		case YAML_SEQUENCE_START_EVENT:
		case YAML_ALIAS_EVENT:
			ret = yerr(&y, (int)ev.start_mark.line + 1,
				   "expected a mapping (key: value) at the top");
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&y.p);
	if (ret) {
		config_free(c);
		return ret;
	}
	*out = c;
	return 0;
}

int config_load(const char *path, bool may_be_absent, struct config **out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t len = 0, cap = 0;
	int ret;

	if (!f) {
		if (errno == ENOENT && may_be_absent) {
			ret = config_parse(path, "", 0, out, err, errlen);
			if (!ret) {
				free((*out)->path);
				(*out)->path = NULL; /* no file was read */
			}
			return ret;
		}
		snprintf(err, errlen, "--config-path: cannot read %s: %s", path, strerror(errno));
		return -EINVAL;
	}
	for (;;) {
		if (len == cap) {
			char *t =
			    cap > (16u << 20) ? NULL : realloc(text, cap = cap ? cap * 2 : 4096);

			if (!t) {
				free(text);
				fclose(f);
				snprintf(err, errlen, "%s: too large (16 MiB at most)", path);
				return -EINVAL;
			}
			text = t;
		}
		size_t n = fread(text + len, 1, cap - len, f);

		if (!n)
			break;
		len += n;
	}
	ret = ferror(f) ? -EIO : 0;
	fclose(f);
	if (ret) {
		free(text);
		snprintf(err, errlen, "%s: read error", path);
		return -EINVAL;
	}
	ret = config_parse(path, text, len, out, err, errlen);
	free(text);
	return ret;
}

/* ---- values ---- */

int config_bool(const struct config_node *n, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no",
									       "off"};

	if (!n || n->type != CONFIG_SCALAR)
		return -EINVAL;
	for (size_t i = 0; i < 3; i++) {
		if (!strcasecmp(n->value, yes[i]))
			return *out = true, 0;
		if (!strcasecmp(n->value, no[i]))
			return *out = false, 0;
	}
	return -EINVAL;
}

int config_duration(const char *text, long long *ns)
{
	static const struct {
		const char *unit;
		double ns;
	} units[] = {{"", 1e9},	 {"ns", 1},   {"us", 1e3},  {"ms", 1e6},
		     {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
	char *end;
	double v;

	if (!text || !(isdigit((unsigned char)*text) || *text == '.'))
		return -EINVAL;
	errno = 0;
	v = strtod(text, &end);
	if (errno || !isfinite(v) || v < 0)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit))
			continue;
		if (v * units[i].ns > 9.2e18)
			return -EINVAL;
		*ns = (long long)(v * units[i].ns);
		return 0;
	}
	return -EINVAL;
}

/* ---- --set ---- */

int config_set(struct config *c, const char *kv, char *err, size_t errlen)
{
	const char *eq = strchr(kv, '=');
	struct config_node *map = c->root;
	const char *p = kv;

	if (!eq || eq == kv) {
		snprintf(err, errlen, "--set: expected KEY=VALUE (tap.storagelimit=1GB), got '%s'",
			 kv);
		return -EINVAL;
	}
	for (;;) {
		const char *dot = memchr(p, '.', (size_t)(eq - p));
		size_t klen = (size_t)((dot ? dot : eq) - p);
		struct config_node *n = NULL;
		char *key;

		if (!klen) {
			snprintf(err, errlen, "--set %s: an empty key", kv);
			return -EINVAL;
		}
		key = strndup(p, klen);
		if (!key)
			return -ENOMEM;
		n = (struct config_node *)config_get(map, key);
		if (n && (dot ? n->type != CONFIG_MAP : n->type == CONFIG_MAP)) {
			snprintf(err, errlen, "--set %.*s: '%s' is %s", (int)(eq - kv), kv, key,
				 n->type == CONFIG_MAP	 ? "a section"
				 : n->type == CONFIG_SEQ ? "a list, not a section"
							 : "a value, not a section");
			free(key);
			return -EINVAL;
		}
		if (!n) {
			n = node_new(dot ? CONFIG_MAP : CONFIG_SCALAR, 0);
			if (!n || node_add(map, n)) {
				free(n);
				free(key);
				return -ENOMEM;
			}
			n->key = key;
		} else {
			free(key);
		}
		if (!dot) {
			char *v = strdup(eq + 1);

			if (!v)
				return -ENOMEM;
			/* a list given in the file becomes the scalar: "a,b" for comma flags */
			for (size_t i = 0; i < n->n_kids; i++)
				node_free(n->kids[i]);
			free(n->kids);
			n->kids = NULL;
			n->n_kids = 0;
			n->type = CONFIG_SCALAR;
			free(n->value);
			n->value = v;
			n->quoted = false;
			n->line = 0;
			return 0;
		}
		map = n;
		p = dot + 1;
	}
}

/* ---- config → flags ---- */

/* Top-level keys besides tap: scripting's map to flags (the scripts' helper adds them). */
static const struct {
	const char *section, *key, *flag;
} mapped[] = {
    {"scripting", "source", "scripting-source"},
    {"scripting", "watchScripts", "scripting-watch"},
};

/* "KEY=VALUE" for config_set of a flag: tap.FLAG, or the top-level key a flag maps from
 * (scripting.source for --scripting-source), so each setting is printed once. */
static int flag_key(const char *flag, const char *value, char **kv)
{
	for (size_t i = 0; i < sizeof(mapped) / sizeof(mapped[0]); i++)
		if (!strcmp(mapped[i].flag, flag))
			return asprintf(kv, "%s.%s=%s", mapped[i].section, mapped[i].key, value);
	return asprintf(kv, "tap.%s=%s", flag, value);
}

/* Keys of the tap section that are not settings: the command line's own business. */
static bool tap_key_refused(const char *name)
{
	return !strcmp(name, "set") || !strcmp(name, "help") || !strcmp(name, "config-path");
}

/* Flags whose value is a comma-separated list: a YAML list is accepted for them. */
static bool comma_flag(const char *name)
{
	return !strcmp(name, "namespaces");
}

static const struct option *find_opt(const struct option *opts, const char *name)
{
	for (const struct option *o = opts; o->name; o++)
		if (!strcmp(o->name, name))
			return o;
	return NULL;
}

struct argv_buf {
	char **v;
	int n, cap;
};

static int argv_push(struct argv_buf *a, char *s)
{
	if (!s)
		return -ENOMEM;
	if (a->n + 1 >= a->cap) {
		int cap = a->cap ? a->cap * 2 : 16;
		char **v = realloc(a->v, (size_t)cap * sizeof(*v));

		if (!v) {
			free(s);
			return -ENOMEM;
		}
		a->v = v;
		a->cap = cap;
	}
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
	return 0;
}

/* The flag for node n (key: its name in messages), pushed onto a. */
static int node_flag(const struct config *c, const struct config_node *n, const char *key,
		     const struct option *o, config_check_fn check, struct argv_buf *a, char *err,
		     size_t errlen)
{
	char where[320], cerr[512], *val = NULL, *s = NULL;
	bool b;
	int ret;

	config_where(c, n, where, sizeof(where));
	if (o->has_arg == no_argument) {
		if (config_bool(n, &b)) {
			snprintf(err, errlen, "%s: %s: expected true or false", where, key);
			return -EINVAL;
		}
		return b ? argv_push(a, (asprintf(&s, "--%s", o->name) < 0 ? NULL : s)) : 0;
	}
	if (n->type == CONFIG_SEQ && comma_flag(o->name)) {
		size_t len = 0;

		for (size_t i = 0; i < n->n_kids; i++) {
			const struct config_node *k = n->kids[i];

			if (k->type != CONFIG_SCALAR || !*k->value || strchr(k->value, ',')) {
				snprintf(err, errlen, "%s: %s: expected a list of names", where,
					 key);
				return -EINVAL;
			}
			len += strlen(k->value) + 1;
		}
		if (!n->n_kids) {
			snprintf(err, errlen, "%s: %s: an empty list", where, key);
			return -EINVAL;
		}
		val = calloc(1, len);
		if (!val)
			return -ENOMEM;
		for (size_t i = 0; i < n->n_kids; i++) {
			if (i)
				strcat(val, ",");
			strcat(val, n->kids[i]->value);
		}
	} else if (n->type != CONFIG_SCALAR) {
		snprintf(err, errlen, "%s: %s: expected a value%s", where, key,
			 comma_flag(o->name) ? " or a list" : "");
		return -EINVAL;
	} else {
		val = strdup(n->value);
		if (!val)
			return -ENOMEM;
	}
	if (check && check(o->name, val, cerr, sizeof(cerr)) < 0) {
		snprintf(err, errlen, "%s: %s: %s", where, key, cerr);
		free(val);
		return -EINVAL;
	}
	ret = asprintf(&s, "--%s=%s", o->name, val);
	free(val);
	return argv_push(a, ret < 0 ? NULL : s);
}

/* The flags of the tap section and the mapped keys, in the file's order. */
static int config_flags(const struct config *c, const struct option *opts, config_check_fn check,
			struct argv_buf *a, char *err, size_t errlen)
{
	const struct config_node *root = c->root;
	char where[320], key[256];
	int ret;

	for (size_t i = 0; i < root->n_kids; i++) {
		const struct config_node *sec = root->kids[i];

		config_where(c, sec, where, sizeof(where));
		if (strcmp(sec->key, "tap") && strcmp(sec->key, "scripting") &&
		    strcmp(sec->key, "triggers")) {
			snprintf(err, errlen,
				 "%s: unknown key '%s' (expected tap, scripting, triggers)", where,
				 sec->key);
			return -EINVAL;
		}
		if (!strcmp(sec->key, "triggers"))
			continue; /* the triggers' own module reads them */
		if (sec->type != CONFIG_MAP) {
			snprintf(err, errlen, "%s: %s: expected a section (key: value lines)",
				 where, sec->key);
			return -EINVAL;
		}
		for (size_t j = 0; j < sec->n_kids; j++) {
			const struct config_node *n = sec->kids[j];
			const struct option *o = NULL;
			const char *flag = NULL;

			snprintf(key, sizeof(key), "%s.%s", sec->key, n->key);
			config_where(c, n, where, sizeof(where));
			if (!strcmp(sec->key, "tap")) {
				flag = tap_key_refused(n->key) ? NULL : n->key;
			} else {
				for (size_t m = 0; m < sizeof(mapped) / sizeof(mapped[0]); m++)
					if (!strcmp(mapped[m].section, sec->key) &&
					    !strcmp(mapped[m].key, n->key))
						flag = mapped[m].flag;
			}
			o = flag ? find_opt(opts, flag) : NULL;
			if (!flag || (!o && !strcmp(sec->key, "tap"))) {
				snprintf(err, errlen, "%s: unknown key '%s'", where, key);
				return -EINVAL;
			}
			if (!o) {
				snprintf(err, errlen, "%s: %s: this build of floe has no --%s",
					 where, key, flag);
				return -EINVAL;
			}
			ret = node_flag(c, n, key, o, check, a, err, errlen);
			if (ret)
				return ret;
		}
	}
	return 0;
}

const char *config_default_path(char *buf, size_t size)
{
	const char *home = getenv("HOME");

	snprintf(buf, size, "%s/.floe/config.yaml", home && *home ? home : "/root");
	return buf;
}

void config_argv_free(int argc, char **argv)
{
	if (!argv)
		return;
	for (int i = 0; i < argc; i++)
		free(argv[i]);
	free(argv);
}

/* argv[i] is --NAME or --NAME=V (or -C / -CV for short): its value, advancing *i. */
static const char *flag_value(int argc, char **argv, int *i, const char *lname, char sname,
			      bool *is)
{
	const char *a = argv[*i];
	size_t l = strlen(lname);

	*is = false;
	if (a[0] == '-' && a[1] == '-' && !strncmp(a + 2, lname, l) &&
	    (a[2 + l] == '\0' || a[2 + l] == '=')) {
		*is = true;
		if (a[2 + l] == '=')
			return a + 3 + l;
		return *i + 1 < argc ? argv[++*i] : NULL;
	}
	if (sname && a[0] == '-' && a[1] == sname) {
		*is = true;
		if (a[2])
			return a + 2;
		return *i + 1 < argc ? argv[++*i] : NULL;
	}
	return NULL;
}

int config_argv(int argc, char **argv, const char *default_path, const struct option *opts,
		config_check_fn check, struct config **cfg_out, int *argc_out, char ***argv_out,
		char *err, size_t errlen)
{
	struct argv_buf rest = {0}, out = {0};
	const char *path = NULL;
	struct config *c = NULL;
	int ret = 0;

	/* Pass 1: --config-path (the last one wins); everything else kept for pass 2. */
	for (int i = 1; i < argc && !ret; i++) {
		bool is;
		const char *v = flag_value(argc, argv, &i, "config-path", 0, &is);

		if (!strcmp(argv[i], "--")) {
			break;
		} else if (is) {
			if (!v || !*v) {
				snprintf(err, errlen, "--config-path: needs a file");
				ret = -EINVAL;
			}
			path = v;
		}
	}
	if (!ret)
		ret = path ? config_load(path, false, &c, err, errlen)
			   : config_load(default_path, true, &c, err, errlen);
	/* Pass 2: --set into the tree, the rest kept. */
	for (int i = 1; i < argc && !ret; i++) {
		bool is, set;
		const char *v;

		if (!strcmp(argv[i], "--")) {
			while (i < argc && !ret)
				ret = argv_push(&rest, strdup(argv[i++]));
			break;
		}
		flag_value(argc, argv, &(int){i}, "config-path", 0, &is);
		if (is) {
			v = flag_value(argc, argv, &i, "config-path", 0, &is);
			continue;
		}
		v = flag_value(argc, argv, &i, "set", 's', &set);
		if (set) {
			if (!v) {
				snprintf(err, errlen, "--set: needs KEY=VALUE");
				ret = -EINVAL;
			} else {
				ret = config_set(c, v, err, errlen);
			}
			continue;
		}
		ret = argv_push(&rest, strdup(argv[i]));
	}
	if (!ret)
		ret = argv_push(&out, strdup(argv[0]));
	if (!ret)
		ret = config_flags(c, opts, check, &out, err, errlen);
	for (int i = 0; i < rest.n && !ret; i++) {
		ret = argv_push(&out, rest.v[i]);
		rest.v[i] = NULL;
	}
	config_argv_free(rest.n, rest.v);
	if (ret) {
		if (ret == -ENOMEM)
			snprintf(err, errlen, "out of memory");
		config_argv_free(out.n, out.v);
		config_free(c);
		return -EINVAL;
	}
	*cfg_out = c;
	*argc_out = out.n;
	*argv_out = out.v;
	return 0;
}

/* ---- printing ---- */

/* A scalar as YAML: plain when that reads back as the same string, else double-quoted. */
static void print_scalar(FILE *out, const char *s, bool quoted)
{
	bool plain = *s && !quoted && !strchr("-?:,[]{}#&*!|>'\"%@` ", *s);

	for (const char *p = s; *p && plain; p++)
		if ((unsigned char)*p < 0x20 || *p == '#' ||
		    (*p == ':' && (p[1] == ' ' || !p[1])) || (unsigned char)*p >= 0x7f)
			plain = false;
	if (plain && s[strlen(s) - 1] == ' ')
		plain = false;
	if (plain) {
		fputs(s, out);
		return;
	}
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", out);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(out, "\\x%02x", *p);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

static void print_node(FILE *out, const struct config_node *n, int indent)
{
	for (size_t i = 0; i < n->n_kids; i++) {
		const struct config_node *k = n->kids[i];

		fprintf(out, "%*s", indent, "");
		if (n->type == CONFIG_SEQ) {
			fputc('-', out);
		} else {
			print_scalar(out, k->key, false);
			fputc(':', out);
		}
		if (k->type == CONFIG_SCALAR) {
			fputc(' ', out);
			print_scalar(out, k->value, k->quoted);
			fputc('\n', out);
		} else if (!k->n_kids) {
			fputs(k->type == CONFIG_MAP ? " {}\n" : " []\n", out);
		} else {
			/* the members on the lines below, deeper: valid after "key:" and "-" */
			fputc('\n', out);
			print_node(out, k, indent + 2);
		}
	}
}

int config_print(const struct config *c, int argc, char **argv, const struct option *opts,
		 FILE *out)
{
	struct config *eff = NULL;
	char err[512];
	int opt, idx, ret = 0;

	/* A copy to write the flags into: parse the printed source again (cheap, and exact). */
	{
		char *text = NULL;
		size_t len = 0;
		FILE *m = open_memstream(&text, &len);

		if (!m)
			return -ENOMEM;
		print_node(m, c->root, 0);
		fclose(m);
		ret = config_parse(c->path ? c->path : "config", text ? text : "", len, &eff, err,
				   sizeof(err));
		free(text);
		if (ret)
			return ret;
	}
	optind = 0;
	opterr = 0;
	{
		/* getopt's short options: those of opts with a short letter */
		char shorts[128] = ":";
		size_t sl = 1;

		for (const struct option *o = opts; o->name && sl + 3 < sizeof(shorts); o++)
			if (o->val > 0 && o->val < 128 && isalpha(o->val)) {
				shorts[sl++] = (char)o->val;
				if (o->has_arg == required_argument)
					shorts[sl++] = ':';
				shorts[sl] = '\0';
			}
		for (;;) {
			const struct option *o = NULL;
			char *kv = NULL;

			idx = -1;
			opt = getopt_long(argc, argv, shorts, opts, &idx);
			if (opt == -1)
				break;

			if (opt == '?' || opt == ':')
				continue;
			if (idx >= 0)
				o = &opts[idx];
			else
				for (const struct option *p = opts; p->name; p++)
					if (p->val == opt)
						o = p;
			if (!o || tap_key_refused(o->name))
				continue;
			if (flag_key(o->name, optarg ? optarg : "true", &kv) < 0)
				break;
			config_set(eff, kv, err, sizeof(err));
			free(kv);
		}
	}
	optind = 0;
	fprintf(out, "# effective configuration%s%s\n", c->path ? " from " : " (no file)",
		c->path ? c->path : "");
	print_node(out, eff->root, 0);
	config_free(eff);
	return 0;
}
