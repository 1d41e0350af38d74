// SPDX-License-Identifier: Apache-2.0
/* Kubeconfig and in-cluster configuration. See k8s_config.h. */
#include "pods/k8s_config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

static int fail(char *err, size_t errlen, int ret, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return ret;
}

long k8s_base64_decode(const char *in, size_t len, unsigned char *out)
{
	unsigned int acc = 0, bits = 0, pad = 0;
	long n = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		int v;

		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad) /* data after padding */
			return -EINVAL;
		if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= 'a' && c <= 'z')
			v = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			v = c - '0' + 52;
		else if (c == '+')
			v = 62;
		else if (c == '/')
			v = 63;
		else
			return -EINVAL;
		acc = (acc << 6) | (unsigned int)v;
		bits += 6;
		if (bits >= 8) {
			/* Unpadded input would decode past the bound the caller sized out for. */
			if ((size_t)n >= len / 4 * 3)
				return -EINVAL;
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* Whole quads only: 0, 4 or 2 leftover bits (a quad of 4, 2 or 3 characters) match 0, 2
	 * or 1 padding characters. */
	if ((bits == 0 && pad) || (bits == 4 && pad != 2) || (bits == 2 && pad != 1) ||
	    (bits != 0 && bits != 2 && bits != 4) || acc)
		return -EINVAL;
	return n;
}

/* ------------------------------------------------------------ libyaml document helpers */

static yaml_node_t *map_get(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);

		if (k && k->type == YAML_SCALAR_NODE && strlen(key) == k->data.scalar.length &&
		    !memcmp(k->data.scalar.value, key, k->data.scalar.length))
			return yaml_document_get_node(doc, p->value);
	}
	return NULL;
}

/* A scalar's text (NUL-terminated by libyaml), or NULL when absent or not a scalar. */
static const char *scalar(yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* The entry named name in a list of {name: ..., <field>: {...}} (clusters, users, contexts). */
static yaml_node_t *named(yaml_document_t *doc, yaml_node_t *root, const char *list,
			  const char *name, const char *field)
{
	yaml_node_t *seq = map_get(doc, root, list);

	if (!seq || seq->type != YAML_SEQUENCE_NODE || !name)
		return NULL;
	for (yaml_node_item_t *it = seq->data.sequence.items.start;
	     it < seq->data.sequence.items.top; it++) {
		yaml_node_t *e = yaml_document_get_node(doc, *it);
		const char *n = scalar(map_get(doc, e, "name"));

		if (n && !strcmp(n, name))
			return map_get(doc, e, field);
	}
	return NULL;
}

static char *path_in(const char *dir, const char *p)
{
	char *out;

	if (p[0] == '/' || !dir)
		return strdup(p);
	if (asprintf(&out, "%s/%s", dir, p) < 0)
		return NULL;
	return out;
}

/* FIELD (a path) or FIELD-data (base64) of map into blob. */
static int blob_from(yaml_document_t *doc, yaml_node_t *map, const char *field, const char *dir,
		     struct k8s_blob *b, char *err, size_t errlen)
{
	char data_key[64];
	const char *path = scalar(map_get(doc, map, field)), *data;

	snprintf(data_key, sizeof(data_key), "%s-data", field);
	data = scalar(map_get(doc, map, data_key));
	if (data && *data) {
		size_t len = strlen(data);
		long n;

		b->data = malloc(len / 4 * 3 + 3);
		if (!b->data)
			return -ENOMEM;
		n = k8s_base64_decode(data, len, b->data);
		if (n < 0)
			return fail(err, errlen, -EINVAL, "%s is not valid base64", data_key);
		b->len = (size_t)n;
		return 0;
	}
	if (path && *path) {
		b->path = path_in(dir, path);
		if (!b->path)
			return -ENOMEM;
	}
	return 0;
}

static int dup_field(yaml_document_t *doc, yaml_node_t *map, const char *field, char **out)
{
	const char *v = scalar(map_get(doc, map, field));

	if (!v || !*v)
		return 0;
	*out = strdup(v);
	return *out ? 0 : -ENOMEM;
}

static int from_document(yaml_document_t *doc, const char *dir, struct k8s_config *cfg, char *err,
			 size_t errlen)
{
	yaml_node_t *root = yaml_document_get_root_node(doc), *ctx, *cluster, *user;
	const char *cur, *cluster_name, *user_name, *v;
	int ret;

	if (!root || root->type != YAML_MAPPING_NODE)
		return fail(err, errlen, -EINVAL, "not a kubeconfig (no mapping at the top)");
	cur = scalar(map_get(doc, root, "current-context"));
	if (!cur || !*cur)
		return fail(err, errlen, -EINVAL, "no current-context");
	ctx = named(doc, root, "contexts", cur, "context");
	if (!ctx)
		return fail(err, errlen, -EINVAL, "current-context \"%s\" is not in contexts", cur);
	cluster_name = scalar(map_get(doc, ctx, "cluster"));
	user_name = scalar(map_get(doc, ctx, "user"));
	cluster = named(doc, root, "clusters", cluster_name, "cluster");
	if (!cluster)
		return fail(err, errlen, -EINVAL,
			    "context \"%s\": cluster \"%s\" is not in clusters", cur,
			    cluster_name ? cluster_name : "");
	/* A context without a user is anonymous: allowed, the API server decides. */
	user = user_name ? named(doc, root, "users", user_name, "user") : NULL;
	if (user_name && !user)
		return fail(err, errlen, -EINVAL, "context \"%s\": user \"%s\" is not in users",
			    cur, user_name);
	if ((ret = dup_field(doc, cluster, "server", &cfg->server)) < 0)
		return ret;
	if (!cfg->server)
		return fail(err, errlen, -EINVAL, "cluster \"%s\" has no server", cluster_name);
	if (strncmp(cfg->server, "https://", 8) && strncmp(cfg->server, "http://", 7))
		return fail(err, errlen, -EINVAL, "server \"%s\": expected an https:// URL",
			    cfg->server);
	for (size_t n = strlen(cfg->server); n > 8 && cfg->server[n - 1] == '/'; n--)
		cfg->server[n - 1] = '\0';
	v = scalar(map_get(doc, cluster, "insecure-skip-tls-verify"));
	cfg->insecure = v && !strcmp(v, "true");
	if ((ret = dup_field(doc, cluster, "tls-server-name", &cfg->tls_server_name)) < 0 ||
	    (ret = blob_from(doc, cluster, "certificate-authority", dir, &cfg->ca, err, errlen)) <
		0)
		return ret;
	if (user) {
		static const char *const refused[] = {"exec", "auth-provider", "username"};

		for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
			if (map_get(doc, user, refused[i]))
				return fail(err, errlen, -ENOTSUP,
					    "user \"%s\": %s authentication is not supported by "
					    "floe; use a client certificate or a bearer token "
					    "(token or tokenFile), e.g. a service account's",
					    user_name, refused[i]);
		if ((ret = blob_from(doc, user, "client-certificate", dir, &cfg->cert, err,
				     errlen)) < 0 ||
		    (ret = blob_from(doc, user, "client-key", dir, &cfg->key, err, errlen)) < 0 ||
		    (ret = dup_field(doc, user, "token", &cfg->token)) < 0)
			return ret;
		v = scalar(map_get(doc, user, "tokenFile"));
		if (v && *v && !(cfg->token_file = path_in(dir, v)))
			return -ENOMEM;
		if (!(cfg->cert.path || cfg->cert.data) != !(cfg->key.path || cfg->key.data))
			return fail(
			    err, errlen, -EINVAL,
			    "user \"%s\": a client certificate needs its key (and a key its "
			    "certificate)",
			    user_name);
	}
	cfg->context = strdup(cur);
	return cfg->context ? 0 : -ENOMEM;
}

int k8s_config_parse(const char *text, size_t len, const char *origin, const char *dir,
		     struct k8s_config *cfg, char *err, size_t errlen)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	char msg[256];
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	if (!origin)
		origin = "kubeconfig";
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		ret = fail(err, errlen, -EINVAL, "%s:%zu:%zu: %s", origin,
			   parser.problem_mark.line + 1, parser.problem_mark.column + 1,
			   parser.problem ? parser.problem : "YAML error");
		yaml_parser_delete(&parser);
		return ret;
	}
	msg[0] = '\0';
	ret = from_document(&doc, dir, cfg, msg, sizeof(msg));
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (ret == 0)
		ret = (cfg->origin = strdup(origin)) ? 0 : -ENOMEM;
	if (ret < 0) {
		snprintf(err, errlen, "%s: %s", origin, msg[0] ? msg : strerror(-ret));
		k8s_config_free(cfg);
	}
	return ret;
}

/* Read a whole small file: 0 with *out (NUL-terminated) and *len, or -errno. */
static int read_small(const char *path, size_t max, char **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf;
	ssize_t n;
	size_t got = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || (size_t)st.st_size > max) {
		int ret = (size_t)st.st_size > max ? -EFBIG : -errno;

		close(fd);
		return ret;
	}
	buf = malloc(max + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (got < max && (n = read(fd, buf + got, max - got)) > 0)
		got += (size_t)n;
	close(fd);
	buf[got] = '\0';
	*out = buf;
	*len = got;
	return 0;
}

int k8s_config_load(const char *path, struct k8s_config *cfg, char *err, size_t errlen)
{
	char *text, *dir, *slash;
	size_t len;
	int ret = read_small(path, K8S_CONFIG_MAX_BYTES, &text, &len);

	memset(cfg, 0, sizeof(*cfg));
	if (ret < 0)
		return fail(err, errlen, ret, "cannot read kubeconfig %s: %s", path,
			    ret == -EFBIG ? "larger than 1 MiB" : strerror(-ret));
	dir = strdup(path);
	if (!dir) {
		free(text);
		return -ENOMEM;
	}
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	ret = k8s_config_parse(text, len, path, slash ? (dir[0] ? dir : "/") : NULL, cfg, err,
			       errlen);
	free(dir);
	free(text);
	return ret;
}

bool k8s_in_cluster_available(const char *sa_dir)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/token", sa_dir ? sa_dir : K8S_SA_DIR);
	return getenv("KUBERNETES_SERVICE_HOST") && *getenv("KUBERNETES_SERVICE_HOST") &&
	       access(path, R_OK) == 0;
}

int k8s_config_in_cluster(const char *sa_dir, struct k8s_config *cfg, char *err, size_t errlen)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST"),
		   *port = getenv("KUBERNETES_SERVICE_PORT");
	bool v6 = host && strchr(host, ':');

	memset(cfg, 0, sizeof(*cfg));
	if (!sa_dir)
		sa_dir = K8S_SA_DIR;
	if (!host || !*host)
		return fail(err, errlen, -ENOENT, "in-cluster: KUBERNETES_SERVICE_HOST is not set");
	if (asprintf(&cfg->server, "https://%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "",
		     port && *port ? port : "443") < 0 ||
	    asprintf(&cfg->ca.path, "%s/ca.crt", sa_dir) < 0 ||
	    asprintf(&cfg->token_file, "%s/token", sa_dir) < 0 ||
	    !(cfg->origin = strdup("in-cluster"))) {
		k8s_config_free(cfg);
		return -ENOMEM;
	}
	return 0;
}

int k8s_config_token(const struct k8s_config *cfg, char **out, char *err, size_t errlen)
{
	size_t len;
	int ret;

	*out = NULL;
	if (!cfg->token_file) {
		if (cfg->token && !(*out = strdup(cfg->token)))
			return -ENOMEM;
		return 0;
	}
	ret = read_small(cfg->token_file, K8S_TOKEN_MAX_BYTES, out, &len);
	if (ret < 0)
		return fail(err, errlen, ret, "cannot read the token file %s: %s", cfg->token_file,
			    ret == -EFBIG ? "larger than 64 KiB" : strerror(-ret));
	while (len &&
	       ((*out)[len - 1] == '\n' || (*out)[len - 1] == '\r' || (*out)[len - 1] == ' '))
		(*out)[--len] = '\0';
	return 0;
}

static void blob_free(struct k8s_blob *b)
{
	free(b->path);
	free(b->data);
}

void k8s_config_free(struct k8s_config *cfg)
{
	free(cfg->origin);
	free(cfg->context);
	free(cfg->server);
	blob_free(&cfg->ca);
	blob_free(&cfg->cert);
	blob_free(&cfg->key);
	free(cfg->tls_server_name);
	if (cfg->token)
		explicit_bzero(cfg->token, strlen(cfg->token));
	free(cfg->token);
	free(cfg->token_file);
	memset(cfg, 0, sizeof(*cfg));
}
