// SPDX-License-Identifier: Apache-2.0
/*
 * Every dissector names its protocol descriptor (struct dissector.protocol), and every
 * descriptor lists the dissectors that produce its entries: the two directions agree.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dissect/dissector.h"
#include "protocols/protocol.h"

static bool lists(const char *const *names, const char *name)
{
	for (; names && *names; names++)
		if (!strcmp(*names, name))
			return true;
	return false;
}

static void test_dissectors_have_descriptors(void **state)
{
	size_t n = 0;

	(void)state;
	for (const struct dissector *const *d = dissectors; *d; d++, n++) {
		const struct protocol_desc *p;

		if (!(*d)->protocol)
			fail_msg("dissector %s names no protocol descriptor", (*d)->name);
		p = protocol_find((*d)->protocol);
		if (!p)
			fail_msg("dissector %s: no descriptor '%s'", (*d)->name, (*d)->protocol);
		if (!lists(p->dissectors, (*d)->name))
			fail_msg("descriptor %s does not list dissector %s", p->name, (*d)->name);
	}
	assert_int_equal(n, 6);
}

static void test_descriptors_name_real_dissectors(void **state)
{
	(void)state;
	for (const struct protocol_desc *const *p = protocols; *p; p++)
		for (const char *const *name = (*p)->dissectors; *name; name++) {
			bool found = false;

			for (const struct dissector *const *d = dissectors; *d; d++)
				found |= !strcmp((*d)->name, *name);
			if (!found)
				fail_msg("descriptor %s: no dissector '%s'", (*p)->name, *name);
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dissectors_have_descriptors),
		cmocka_unit_test(test_descriptors_name_real_dissectors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
