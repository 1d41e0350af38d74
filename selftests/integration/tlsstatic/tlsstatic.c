// SPDX-License-Identifier: Apache-2.0
/*
 * tlsstatic: an HTTPS client with OpenSSL linked in statically (Debian's libssl.a and
 * libcrypto.a), for selftests/integration/test_tls_static.sh: it maps no libssl.so*, so floe
 * finds its TLS only in the program file itself (docs/tls.md, "Statically linked").
 *
 *   tlsstatic HOST PORT N   N HTTPS GETs /st/1..N, one connection each, reading each answer to
 *                           its end; prints per request "PATH STATUS BODY_BYTES LOCAL_PORT" (its
 *                           own view, the test's oracle)
 *   tlsstatic hold          prints "holding" and sleeps (a live process for floe's blind list)
 *
 * Certificates are not verified (the test's server is self-signed).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

static int get(SSL_CTX *ctx, const char *host, int port, const char *path)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct sockaddr_in me;
	socklen_t melen = sizeof(me);
	char req[256], buf[16384], *body;
	size_t got = 0;
	int fd, n, status = 0;
	SSL *ssl;

	inet_pton(AF_INET, host, &sa.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	getsockname(fd, (struct sockaddr *)&me, &melen);
	ssl = SSL_new(ctx);
	if (!ssl || !SSL_set_fd(ssl, fd) || SSL_connect(ssl) != 1)
		return -1;
	n = snprintf(
	    req, sizeof(req),
	    "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: tlsstatic\r\nConnection: close\r\n\r\n",
	    path, host);
	if (SSL_write(ssl, req, n) != n)
		return -1;
	while (got < sizeof(buf) - 1 &&
	       (n = SSL_read(ssl, buf + got, (int)(sizeof(buf) - 1 - got))) > 0)
		got += (size_t)n;
	buf[got] = 0;
	sscanf(buf, "HTTP/1.%*d %d", &status);
	body = strstr(buf, "\r\n\r\n");
	printf("%s %d %zu %u\n", path, status, body ? got - (size_t)(body + 4 - buf) : 0,
	       ntohs(me.sin_port));
	fflush(stdout);
	SSL_shutdown(ssl);
	SSL_free(ssl);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	SSL_CTX *ctx;
	char path[32];

	if (argc == 2 && !strcmp(argv[1], "hold")) {
		printf("holding\n");
		fflush(stdout);
		sleep(600);
		return 0;
	}
	if (argc != 4) {
		fprintf(stderr, "usage: tlsstatic HOST PORT N | hold\n");
		return 2;
	}
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		return 1;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	for (int i = 1; i <= atoi(argv[3]); i++) {
		snprintf(path, sizeof(path), "/st/%d", i);
		if (get(ctx, argv[1], atoi(argv[2]), path) < 0) {
			fprintf(stderr, "tlsstatic: %s failed\n", path);
			return 1;
		}
	}
	SSL_CTX_free(ctx);
	return 0;
}
