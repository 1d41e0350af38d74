// SPDX-License-Identifier: Apache-2.0
/*
 * tlsdl: a TLS client that is not linked against OpenSSL and loads it with dlopen() only when
 * told to (selftests/integration/test_tls_coverage.sh), so that floe, started before it, has
 * to notice a library mapped by a running process (docs/tls.md, "New libraries").
 *
 *   tlsdl LIB HOST PORT N   prints "started", waits for a line on stdin, dlopen()s LIB
 *                           (RTLD_NOW), prints "loaded", waits for another line, then makes N
 *                           HTTPS GETs /dl/1..N, one connection each, and prints per request
 *                           "STATUS BODY_BYTES LOCAL_PORT" (its own view, the test's oracle)
 *   tlsdl LIB hold          dlopen()s LIB, prints "loaded", waits for a line, exits
 *
 * Certificates are not verified (the test's server is self-signed).
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct ssl_api {
	const void *(*client_method)(void);
	void *(*ctx_new)(const void *);
	void (*ctx_free)(void *);
	void *(*ssl_new)(void *);
	int (*set_fd)(void *, int);
	int (*connect)(void *);
	int (*write)(void *, const void *, int);
	int (*read)(void *, void *, int);
	int (*shutdown)(void *);
	void (*ssl_free)(void *);
};

static int wait_line(void)
{
	char line[64];

	return fgets(line, sizeof(line), stdin) ? 0 : -1;
}

#define SYM(field, name)                                                                      \
	do {                                                                                  \
		*(void **)&api->field = dlsym(lib, name);                                     \
		if (!api->field) {                                                            \
			fprintf(stderr, "tlsdl: %s: %s\n", name, dlerror());                  \
			return -1;                                                            \
		}                                                                             \
	} while (0)

static int load_api(void *lib, struct ssl_api *api)
{
	SYM(client_method, "TLS_client_method");
	SYM(ctx_new, "SSL_CTX_new");
	SYM(ctx_free, "SSL_CTX_free");
	SYM(ssl_new, "SSL_new");
	SYM(set_fd, "SSL_set_fd");
	SYM(connect, "SSL_connect");
	SYM(write, "SSL_write");
	SYM(read, "SSL_read");
	SYM(shutdown, "SSL_shutdown");
	SYM(ssl_free, "SSL_free");
	return 0;
}

/* One GET over a new connection; prints the status, body size and local port. */
static int get(const struct ssl_api *api, void *ctx, const char *host, int port, int i)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct sockaddr_in la;
	socklen_t ll = sizeof(la);
	char req[256], resp[65536];
	size_t got = 0;
	int fd, n, status = 0;
	void *ssl;
	char *body;

	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return -1;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("tlsdl: connect");
		return -1;
	}
	getsockname(fd, (struct sockaddr *)&la, &ll);
	ssl = api->ssl_new(ctx);
	api->set_fd(ssl, fd);
	if (api->connect(ssl) != 1) {
		fprintf(stderr, "tlsdl: handshake failed\n");
		return -1;
	}
	n = snprintf(req, sizeof(req),
		     "GET /dl/%d HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", i, host);
	if (api->write(ssl, req, n) != n)
		return -1;
	while (got < sizeof(resp) - 1 && (n = api->read(ssl, resp + got, (int)(sizeof(resp) - 1 - got))) > 0)
		got += (size_t)n;
	resp[got] = 0;
	sscanf(resp, "HTTP/1.%*d %d", &status);
	body = strstr(resp, "\r\n\r\n");
	printf("%d %zu %u\n", status, body ? got - (size_t)(body + 4 - resp) : 0,
	       ntohs(la.sin_port));
	fflush(stdout);
	api->shutdown(ssl);
	api->ssl_free(ssl);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	struct ssl_api api;
	void *lib, *ctx;
	int n;

	if (argc == 3 && !strcmp(argv[2], "hold")) {
		if (!dlopen(argv[1], RTLD_LAZY | RTLD_LOCAL)) {
			fprintf(stderr, "tlsdl: %s\n", dlerror());
			return 1;
		}
		printf("loaded\n");
		fflush(stdout);
		wait_line();
		return 0;
	}
	if (argc != 5) {
		fprintf(stderr, "usage: tlsdl LIB HOST PORT N | tlsdl LIB hold\n");
		return 2;
	}
	printf("started\n");
	fflush(stdout);
	if (wait_line())
		return 1;
	lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (!lib || load_api(lib, &api)) {
		fprintf(stderr, "tlsdl: %s\n", lib ? "missing symbols" : dlerror());
		return 1;
	}
	printf("loaded\n");
	fflush(stdout);
	if (wait_line())
		return 1;
	ctx = api.ctx_new(api.client_method());
	n = atoi(argv[4]);
	for (int i = 1; i <= n; i++)
		if (get(&api, ctx, argv[2], atoi(argv[3]), i))
			return 1;
	api.ctx_free(ctx);
	return 0;
}
