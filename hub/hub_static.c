/* SPDX-License-Identifier: Apache-2.0 */
#include "hub_static.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

int hub_static_path(const char *url_path, char *out, size_t outlen)
{
	if (!url_path || url_path[0] != '/' || !outlen)
		return -EINVAL;
	const char *p = url_path + 1;
	if (!*p)
		p = "index.html";
	size_t n = strlen(p);
	if (n + 1 > outlen)
		return -EINVAL;
	/* Component by component: each non-empty, not starting with '.' (which also refuses
	 * "." and ".."), and only printable bytes other than '\\'. */
	const char *comp = p;
	for (size_t i = 0; i <= n; i++) {
		unsigned char ch = (unsigned char)p[i];
		if (ch == '/' || ch == '\0') {
			if (p + i == comp || comp[0] == '.')
				return -EINVAL;
			comp = p + i + 1;
			continue;
		}
		if (ch < 0x20 || ch == 0x7f || ch == '\\')
			return -EINVAL;
	}
	memcpy(out, p, n + 1);
	return 0;
}

const char *hub_static_mime(const char *name)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
	    {".html", "text/html; charset=utf-8"},
	    {".js", "text/javascript; charset=utf-8"},
	    {".mjs", "text/javascript; charset=utf-8"},
	    {".css", "text/css; charset=utf-8"},
	    {".json", "application/json"},
	    {".map", "application/json"},
	    {".svg", "image/svg+xml"},
	    {".png", "image/png"},
	    {".ico", "image/x-icon"},
	    {".woff2", "font/woff2"},
	    {".txt", "text/plain; charset=utf-8"},
	};
	const char *dot = strrchr(name, '.');
	const char *slash = strrchr(name, '/');
	if (dot && (!slash || dot > slash))
		for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
			if (!strcasecmp(dot, types[i].ext))
				return types[i].type;
	return "application/octet-stream";
}

int hub_static_open(const char *dir, const char *url_path, int *fd, uint64_t *len,
		    const char **ctype)
{
	char rel[PATH_MAX / 2], full[PATH_MAX];
	if (hub_static_path(url_path, rel, sizeof(rel)))
		return -EINVAL;
	if ((size_t)snprintf(full, sizeof(full), "%s/%s", dir, rel) >= sizeof(full))
		return -EINVAL;
	int f = open(full, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (f < 0)
		return -ENOENT;
	struct stat st;
	if (fstat(f, &st) || !S_ISREG(st.st_mode)) {
		close(f);
		return -ENOENT;
	}
	*fd = f;
	*len = (uint64_t)st.st_size;
	*ctype = hub_static_mime(rel);
	return 0;
}

static int has_index(const char *dir)
{
	char p[PATH_MAX];
	struct stat st;
	return (size_t)snprintf(p, sizeof(p), "%s/index.html", dir) < sizeof(p) && !stat(p, &st) &&
	       S_ISREG(st.st_mode);
}

int hub_static_default_dir(const char *exe_path, char *out, size_t outlen)
{
	char exe[PATH_MAX];
	if (!exe_path || strlen(exe_path) >= sizeof(exe))
		return -ENOENT;
	strcpy(exe, exe_path);
	char *slash = strrchr(exe, '/');
	if (!slash)
		return -ENOENT;
	*slash = '\0';
	static const char *const rel[] = {"/ui", "/../share/floe/ui"};
	for (size_t i = 0; i < 2; i++) {
		if ((size_t)snprintf(out, outlen, "%s%s", exe, rel[i]) < outlen && has_index(out))
			return 0;
	}
	return -ENOENT;
}
