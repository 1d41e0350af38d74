/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hub_ui_api: the routes the web UI needs beyond the entries (docs/hub.md): the field schema
 * for KFL completion and a query check that answers with the error's column. Both are
 * answered from the hub's own compiled-in schema, without asking any agent.
 */
#ifndef FLOE_HUB_UI_API_H
#define FLOE_HUB_UI_API_H

#include <jansson.h>

/* GET /api/v1/schema: {"common":[fields],"protocols":[{name,...,fields}]} (floe schema --json). */
json_t *hub_api_schema(void);

/*
 * GET /api/v1/validate?q=KFL: {"ok":true} or {"ok":false,"error":"column 5: ...","column":5}.
 * Always an object (NULL only when out of memory): a bad query is an answer, not an error.
 */
json_t *hub_api_validate(const char *q);

#endif /* FLOE_HUB_UI_API_H */
