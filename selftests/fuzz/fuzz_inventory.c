// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for the local-mode text parsers of lib/node/pods/pods_local.c:
 *   - inventory_parse (the inventory file, docs/local-mode.md), and
 *   - the -n namespace list of tap_scope_init (when the input starts with byte 0x01).
 * Besides memory safety (ASan/UBSan), it checks what a successful parse promises: entries
 * sorted and unique, valid names, lookups that find every entry; and that a failed parse
 * leaves nothing behind and says where.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pods/pods_local.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

static void fuzz_inventory(const uint8_t *data, size_t size)
{
	struct inventory inv;
	char err[256];
	int rc;

	memset(err, 0, sizeof(err));
	rc = inventory_parse((const char *)data, size, "fuzz", &inv, err, sizeof(err));
	if (rc < 0) {
		CHECK(inv.n == 0 && inv.entries == NULL);
		CHECK(strncmp(err, "fuzz:", 5) == 0);
		CHECK(strcmp(inventory_lookup(&inv, "x"), "default") == 0);
		inventory_free(&inv);
		return;
	}
	CHECK(rc == 0);
	CHECK(inv.n <= FLOE_INVENTORY_MAX_ENTRIES);
	CHECK(floe_dns1123_label(inv.default_namespace, strlen(inv.default_namespace)));
	for (size_t i = 0; i < inv.n; i++) {
		const struct inventory_entry *e = &inv.entries[i];
		size_t len = strlen(e->netns);

		CHECK(len >= 1 && len <= FLOE_POD_NAME_MAX);
		CHECK(strchr(e->netns, '/') == NULL);
		CHECK(strcmp(e->netns, ".") && strcmp(e->netns, "..") && strcmp(e->netns, "*"));
		CHECK(e->netns[0] != '#');
		CHECK(floe_dns1123_label(e->namespace, strlen(e->namespace)));
		CHECK(e->line >= 1);
		if (i > 0)
			CHECK(strcmp(inv.entries[i - 1].netns, e->netns) < 0);
		CHECK(strcmp(inventory_lookup(&inv, e->netns), e->namespace) == 0);
	}
	/* A name that cannot be listed (contains '/') gets the default. */
	CHECK(inventory_lookup(&inv, "no/such") == inv.default_namespace);
	inventory_free(&inv);
}

static void fuzz_namespaces(const uint8_t *data, size_t size)
{
	struct tap_scope scope;
	struct floe_pod pod;
	char err[256];
	char *csv = malloc(size + 1);
	int rc;

	if (!csv)
		return;
	memcpy(csv, data, size);
	csv[size] = '\0'; /* stops at the first NUL byte, as a C string from argv would */
	rc = tap_scope_init(&scope, NULL, csv, false, err, sizeof(err));
	if (rc == 0) {
		memset(&pod, 0, sizeof(pod));
		strcpy(pod.name, "p");
		CHECK(scope.n_namespaces >= 1);
		for (size_t i = 0; i < scope.n_namespaces; i++) {
			CHECK(floe_dns1123_label(scope.namespaces[i], strlen(scope.namespaces[i])));
			strcpy(pod.namespace, scope.namespaces[i]);
			CHECK(tap_scope_match(&scope, &pod));
		}
		strcpy(pod.namespace, "Not-A-Label");
		CHECK(!tap_scope_match(&scope, &pod));
	} else {
		CHECK(scope.n_namespaces == 0 && scope.namespaces == NULL && !scope.has_regex);
	}
	tap_scope_free(&scope);
	free(csv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 0 && data[0] == 0x01)
		fuzz_namespaces(data + 1, size - 1);
	else
		fuzz_inventory(data, size);
	return 0;
}
