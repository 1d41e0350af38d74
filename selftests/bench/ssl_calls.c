// SPDX-License-Identifier: Apache-2.0
/*
 * The cost of one SSL call, for selftests/bench/tls.sh: a TLS connection over TCP on
 * 127.0.0.1 inside one process (run it inside a tapped pod to have floe's uprobes on it, and
 * outside any tap, or before floe starts, for the baseline). The client thread makes N
 * SSL_write calls of SIZE bytes in a tight loop; the server thread makes an SSL_read per
 * record (OpenSSL returns one record per SSL_read). Prints one line:
 *   calls=C wall_us_per_call=W cpu_us_per_call=U
 * where C counts both sides' calls, W is the loop's wall time over C and U the process's
 * CPU time (user + system: a uprobe's work is charged to the traced process) over C.
 * usage: ssl_calls CERT KEY [N [SIZE [ADDR]]]
 * ADDR (default 127.0.0.1) is where the server thread listens: a pod's own address makes the
 * connection an ordinary one for floe (a loopback one is an in-pod mesh hop, not copied with
 * --servicemesh, docs/tls.md).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

struct server {
	SSL_CTX *ctx;
	int lfd;
	long long want; /* bytes to read */
	long long reads;
	int rc;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void *serve(void *arg)
{
	struct server *s = arg;
	char buf[16384];
	long long got = 0;
	int fd = accept(s->lfd, NULL, NULL);
	SSL *ssl = fd < 0 ? NULL : SSL_new(s->ctx);

	s->rc = 1;
	if (!ssl || !SSL_set_fd(ssl, fd) || SSL_accept(ssl) != 1)
		goto out;
	while (got < s->want) {
		int n = SSL_read(ssl, buf, sizeof(buf));

		if (n <= 0)
			goto out;
		got += n;
		s->reads++;
	}
	/* one byte back: the client's loop ends when everything was read */
	if (SSL_write(ssl, "k", 1) == 1)
		s->rc = 0;
out:
	if (ssl) {
		SSL_shutdown(ssl);
		SSL_free(ssl);
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	long long n = argc > 3 ? atoll(argv[3]) : 100000, size = argc > 4 ? atoll(argv[4]) : 100;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	struct server s = {.want = n * size};
	SSL_CTX *cctx;
	SSL *ssl;
	pthread_t th;
	char *buf, k;
	int fd, one = 1;
	double t0, c0, t1, c1;

	if (argc < 3 || n <= 0 || size <= 0 || size > 16384 ||
	    (argc > 5 && inet_pton(AF_INET, argv[5], &sa.sin_addr) != 1)) {
		fprintf(stderr, "usage: ssl_calls CERT KEY [N [SIZE (1..16384) [ADDR]]]\n");
		return 2;
	}
	s.ctx = SSL_CTX_new(TLS_server_method());
	cctx = SSL_CTX_new(TLS_client_method());
	if (!s.ctx || !cctx || SSL_CTX_use_certificate_file(s.ctx, argv[1], SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_use_PrivateKey_file(s.ctx, argv[2], SSL_FILETYPE_PEM) != 1) {
		ERR_print_errors_fp(stderr);
		return 1;
	}
	s.lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (s.lfd < 0 || bind(s.lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(s.lfd, 1) || getsockname(s.lfd, (struct sockaddr *)&sa, &sl)) {
		perror("ssl_calls: listen");
		return 1;
	}
	if (pthread_create(&th, NULL, serve, &s)) {
		fprintf(stderr, "ssl_calls: no thread\n");
		return 1;
	}
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("ssl_calls: connect");
		return 1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	ssl = SSL_new(cctx);
	if (!ssl || !SSL_set_fd(ssl, fd) || SSL_connect(ssl) != 1) {
		ERR_print_errors_fp(stderr);
		return 1;
	}
	buf = malloc((size_t)size);
	if (!buf)
		return 1;
	memset(buf, 'x', (size_t)size);
	t0 = now_s();
	c0 = cpu_s();
	for (long long i = 0; i < n; i++)
		if (SSL_write(ssl, buf, (int)size) != (int)size) {
			ERR_print_errors_fp(stderr);
			return 1;
		}
	if (SSL_read(ssl, &k, 1) != 1) {
		fprintf(stderr, "ssl_calls: the server did not read everything\n");
		return 1;
	}
	t1 = now_s();
	c1 = cpu_s();
	pthread_join(th, NULL);
	if (s.rc)
		return 1;
	printf("calls=%lld wall_us_per_call=%.3f cpu_us_per_call=%.3f\n", n + s.reads + 2,
	       (t1 - t0) * 1e6 / (double)(n + s.reads + 2), (c1 - c0) * 1e6 / (double)(n + s.reads + 2));
	SSL_shutdown(ssl);
	SSL_free(ssl);
	SSL_CTX_free(cctx);
	SSL_CTX_free(s.ctx);
	close(fd);
	close(s.lfd);
	free(buf);
	return 0;
}
