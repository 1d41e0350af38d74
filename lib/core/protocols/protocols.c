// SPDX-License-Identifier: Apache-2.0
/* The protocols the core knows (protocol.h), from the one registration list (registry.h). */
#include <string.h>

#include "protocols/protocol.h"
#include "protocols/registry.h"

#define PROTOCOL_DECLARE(name) extern const struct protocol_desc protocol_##name;
#define PROTOCOL_ENTRY(name) &protocol_##name,

FLOE_PROTOCOLS(PROTOCOL_DECLARE, FLOE_REGISTRY_NONE)

const struct protocol_desc *const protocols[] = {FLOE_PROTOCOLS(PROTOCOL_ENTRY, FLOE_REGISTRY_NONE) NULL};

const struct protocol_desc *protocol_find(const char *name)
{
	for (const struct protocol_desc *const *p = protocols; *p; p++)
		if (!strcmp((*p)->name, name))
			return *p;
	return NULL;
}

const struct protocol_word *protocol_word(const struct protocol_desc *p, const char *w)
{
	for (const struct protocol_word *pw = p->words; pw && pw->word; pw++)
		if (!strcmp(pw->word, w))
			return pw;
	return NULL;
}

const struct protocol_desc *protocol_find_word(const char *w, const struct protocol_word **word)
{
	for (const struct protocol_desc *const *p = protocols; *p; p++) {
		const struct protocol_word *pw = protocol_word(*p, w);

		if (pw) {
			if (word)
				*word = pw;
			return *p;
		}
	}
	return NULL;
}

static bool version_fits(const struct protocol_word *word, const char *version)
{
	return !word->version ||
	       (version && !strncmp(version, word->version, strlen(word->version)));
}

bool protocol_word_selects(const struct protocol_desc *owner, const struct protocol_word *word,
			   const char *name, const char *version)
{
	const struct protocol_desc *p;

	if (!name)
		return false;
	if (!strcmp(name, owner->name))
		return version_fits(word, version);
	/* A child protocol answers to the parent words it lists (GraphQL to http1/http2). */
	p = protocol_find(name);
	if (!p || !p->parent || strcmp(p->parent, owner->name))
		return false;
	for (const char *const *w = p->parent_words; w && *w; w++)
		if (!strcmp(*w, word->word))
			return version_fits(word, version);
	return false;
}
