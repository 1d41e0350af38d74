/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config: floe's configuration file (docs/config.md) and --set.
 *
 *   tap:                       # every `floe tap` flag under its long name
 *     storagelimit: 1GB
 *     namespaces: [shop, pay]  # comma flags take a list
 *     no-compress: true        # flags without a value: true gives the flag
 *   scripting: {source: DIR, watchScripts: true}
 *   triggers: [...]            # lib/node/trigger/trigger.h
 *
 * The file is parsed by libyaml into a small tree that remembers each node's line, so every
 * error can name the key and FILE:LINE. --set a.b.c=VALUE writes a scalar into the same tree
 * (its "line" is the --set). The tap section (and scripting's keys) are then turned into
 * flags placed before the command line's own flags: file < --set < flags holds by the order
 * getopt sees them in, not by a merge written twice.
 */
#ifndef FLOE_CONFIG_H
#define FLOE_CONFIG_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum config_type { CONFIG_SCALAR, CONFIG_MAP, CONFIG_SEQ };

struct config_node {
	enum config_type type;
	char *key;   /* the key this node is under in its map; NULL in a sequence / the root */
	char *value; /* CONFIG_SCALAR: the text (NUL-terminated) */
	bool quoted; /* the scalar was quoted in the file: a string, never a bool or number */
	int line;    /* 1-based line in the file; 0: set by --set or a flag */
	struct config_node **kids;
	size_t n_kids;
};

struct config {
	char *path;		  /* the file read, or NULL when there was none */
	struct config_node *root; /* a CONFIG_MAP, never NULL */
};

/*
 * Parse YAML text (one document; a mapping at the top, or empty). name is what errors call the
 * file. Returns 0 and *out, or -EINVAL with "NAME:LINE: ..." in err, or -ENOMEM.
 */
int config_parse(const char *name, const char *text, size_t len, struct config **out, char *err,
		 size_t errlen);

/* Read path. A missing file is an error unless may_be_absent (then an empty config). */
int config_load(const char *path, bool may_be_absent, struct config **out, char *err,
		size_t errlen);

void config_free(struct config *c);

/* --set KEY.PATH=VALUE: replace (or add) the scalar at the dotted path; the maps on the way are
 * made. -EINVAL when the text has no '=' or the path crosses a scalar or list. */
int config_set(struct config *c, const char *kv, char *err, size_t errlen);

/* The member key of a map, or NULL. */
const struct config_node *config_get(const struct config_node *map, const char *key);

/* "FILE:LINE" (or "--set") of a node, for messages; buf has 300+ bytes. */
const char *config_where(const struct config *c, const struct config_node *n, char *buf,
			 size_t size);

/* A YAML boolean (true/false/yes/no/on/off, any case); -EINVAL for anything else. */
int config_bool(const struct config_node *n, bool *out);

/* "5s", "200ms", "1.5m", "2h", "3" (seconds) → ns; -EINVAL when it is none of those. */
int config_duration(const char *text, long long *ns);

/*
 * Checks one flag's value (NAME is the long name); returns 0, or -EINVAL with a message.
 * The tap provides it (tap_option_check) so config knows what a good value is without
 * duplicating the flag parser.
 */
typedef int (*config_check_fn)(const char *name, const char *value, char *err, size_t errlen);

/*
 * The command line a program sees: argv with --config-path and -s/--set taken out, the config
 * file's tap flags and --set's in front of the rest (argv[0] kept first). opts are the
 * program's getopt flags. On success *cfg_out is the merged config (the caller frees it and
 * *argv_out with config_argv_free). Errors: -EINVAL with "FILE:LINE: tap.KEY: ..." in err.
 * default_path: used when there is no --config-path (may be absent).
 */
int config_argv(int argc, char **argv, const char *default_path, const struct option *opts,
		config_check_fn check, struct config **cfg_out, int *argc_out, char ***argv_out,
		char *err, size_t errlen);
void config_argv_free(int argc, char **argv);

/* $HOME/.floe/config.yaml (or /root/...) into buf. */
const char *config_default_path(char *buf, size_t size);

/*
 * The effective configuration as YAML: c's tree, with the flags of argv (argc/argv as
 * config_argv returned them: the file's and --set's flags come first, so a later flag
 * overrides) written into its tap section.
 */
int config_print(const struct config *c, int argc, char **argv, const struct option *opts,
		 FILE *out);

#endif /* FLOE_CONFIG_H */
