/* SPDX-License-Identifier: Apache-2.0 */
/*
 * k8s_config: how to reach a Kubernetes API server: a kubeconfig file (YAML, read with libyaml)
 * or a pod's service account (in-cluster), and applying it to a libcurl handle.
 *
 * Supported in a kubeconfig's current context (docs/kubernetes.md, "Authentication"):
 * cluster server, certificate-authority(-data), insecure-skip-tls-verify, tls-server-name;
 * user client-certificate(-data) + client-key(-data), token, tokenFile. exec plugins,
 * auth-provider and username/password are refused with a message that says so.
 * Relative file paths are relative to the kubeconfig's directory, as kubectl has them.
 */
#ifndef FLOE_PODS_K8S_CONFIG_H
#define FLOE_PODS_K8S_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

/* A kubeconfig larger than this is refused (-EFBIG): real ones are a few KiB. */
#define K8S_CONFIG_MAX_BYTES (1024 * 1024)
/* A token (inline or in its file) longer than this is refused: bound tokens are ~1 KiB. */
#define K8S_TOKEN_MAX_BYTES (64 * 1024)

/* The in-cluster files, as the kubelet mounts a service account. */
#define K8S_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/* Either a path or bytes (decoded *-data), never both. */
struct k8s_blob {
	char *path;
	unsigned char *data;
	size_t len;
};

struct k8s_config {
	char *origin;  /* the kubeconfig's path, or "in-cluster" */
	char *context; /* the context used (kubeconfig) */
	char *server;  /* https://host:port, no trailing slash */
	struct k8s_blob ca, cert, key;
	bool insecure;
	char *tls_server_name;
	char *token;	  /* inline */
	char *token_file; /* re-read before each request: rotated tokens are picked up */
};

/* Parse a kubeconfig held in memory; dir resolves relative paths (NULL: the current one).
 * Returns 0 or a negative errno with a message in err; cfg is then empty. */
int k8s_config_parse(const char *text, size_t len, const char *origin, const char *dir,
		     struct k8s_config *cfg, char *err, size_t errlen);
/* Read and parse a kubeconfig file. */
int k8s_config_load(const char *path, struct k8s_config *cfg, char *err, size_t errlen);

/* True when this process runs in a pod with a service account: KUBERNETES_SERVICE_HOST set and
 * sa_dir/token readable. sa_dir NULL: K8S_SA_DIR. */
bool k8s_in_cluster_available(const char *sa_dir);
/* The in-cluster configuration: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT,
 * sa_dir/ca.crt, sa_dir/token (re-read: the kubelet rotates it). */
int k8s_config_in_cluster(const char *sa_dir, struct k8s_config *cfg, char *err, size_t errlen);

/* The bearer token to send now (inline, or read from token_file): 0 with *out malloc'd or
 * NULL when the config has none; a negative errno with a message when the file is unreadable. */
int k8s_config_token(const struct k8s_config *cfg, char **out, char *err, size_t errlen);

void k8s_config_free(struct k8s_config *cfg);

/* Strict base64 (RFC 4648 section 4, padding required, whitespace ignored). Returns the decoded
 * length, or -EINVAL. out must hold len / 4 * 3 bytes. */
long k8s_base64_decode(const char *in, size_t len, unsigned char *out);

#endif /* FLOE_PODS_K8S_CONFIG_H */
