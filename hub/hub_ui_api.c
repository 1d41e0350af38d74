/* SPDX-License-Identifier: Apache-2.0 */
#include "hub_ui_api.h"

#include "entry/entry_filter.h"
#include "hub_query.h"
#include "protocols/schema.h"

json_t *hub_api_schema(void)
{
	return schema_to_json();
}

json_t *hub_api_validate(const char *q)
{
	char err[512];
	struct entry_filter *f = NULL;
	if (!q || !*q)
		return json_pack("{s:b}", "ok", 1);
	/* The same check the entries and stream routes make before asking any agent. */
	if (entry_filter_compile_checked(q, &f, err, sizeof(err)) == 0) {
		entry_filter_free(f);
		return json_pack("{s:b}", "ok", 1);
	}
	json_t *j = json_pack("{s:b, s:s}", "ok", 0, "error", err);
	int col = hub_error_column(err);
	if (j && col)
		json_object_set_new(j, "column", json_integer(col));
	return j;
}
