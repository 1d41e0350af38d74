/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hub_static: the web UI's files (build/ui/, docs/ui.md) served from a directory by floe-hub.
 * Only what a request path names under that directory is served: a path is checked before
 * any file is opened (no "..", no hidden names, no control bytes) and symlinks are not
 * followed at the last component, so a request cannot reach outside the directory.
 */
#ifndef FLOE_HUB_STATIC_H
#define FLOE_HUB_STATIC_H

#include <stddef.h>
#include <stdint.h>

/*
 * The file a URL path (already percent-decoded, without its query) names, relative to the
 * UI directory: "/" is "index.html". Returns 0 and the relative path in out, or -EINVAL when
 * the path is not one the UI serves (traversal, hidden or empty components, control bytes,
 * backslashes, too long for outlen).
 */
int hub_static_path(const char *url_path, char *out, size_t outlen);

/* The Content-Type of a file by its extension ("application/octet-stream" when unknown). */
const char *hub_static_mime(const char *name);

/*
 * Open the file url_path names under dir for reading: 0 with *fd, *len and *ctype; -EINVAL
 * for a path hub_static_path refuses, -ENOENT when there is no such regular file (a
 * directory, a symlink and a missing file alike).
 */
int hub_static_open(const char *dir, const char *url_path, int *fd, uint64_t *len,
		    const char **ctype);

/*
 * The default UI directory for a binary at exe_path: "<dir>/ui" (the build tree:
 * build/floe-hub beside build/ui) or "<dir>/../share/floe/ui" (an install), the first that
 * holds an index.html. Returns 0 and the directory in out, -ENOENT when neither does.
 */
int hub_static_default_dir(const char *exe_path, char *out, size_t outlen);

#endif /* FLOE_HUB_STATIC_H */
