// SPDX-License-Identifier: Apache-2.0
/* The entry filter's functions, kept for their callers: KFL underneath (kfl/kfl.h). */
#include "entry/entry_filter.h"

#include "entry/entry_kfl.h"
#include "kfl/kfl.h"

/* The handle is the compiled query itself: no second allocation, no indirection per match. */
static struct entry_filter *as_filter(struct kfl *q)
{
	return (struct entry_filter *)q;
}

static const struct kfl *as_query(const struct entry_filter *f)
{
	return (const struct kfl *)f;
}

static int compile(const char *text, unsigned flags, struct entry_filter **out, char *err,
		   size_t errlen)
{
	struct kfl_options opts = {.flags = flags};
	struct kfl *q = NULL;
	int rc = kfl_compile(text, &opts, &q, err, errlen);

	if (!rc)
		*out = as_filter(q);
	return rc;
}

int entry_filter_compile(const char *text, struct entry_filter **out, char *err, size_t errlen)
{
	return compile(text, 0, out, err, errlen);
}

int entry_filter_compile_checked(const char *text, struct entry_filter **out, char *err,
				 size_t errlen)
{
	return compile(text, KFL_CHECK_SCHEMA, out, err, errlen);
}

bool entry_filter_match(const struct entry_filter *f, const json_t *entry)
{
	return kfl_match_json(as_query(f), entry);
}

bool entry_filter_match_entry(const struct entry_filter *f, const struct entry *e, json_t **tree)
{
	return entry_kfl_match(as_query(f), e, tree);
}

const struct kfl *entry_filter_query(const struct entry_filter *f)
{
	return as_query(f);
}

void entry_filter_free(struct entry_filter *f)
{
	kfl_free((struct kfl *)f);
}
