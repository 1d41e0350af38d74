// SPDX-License-Identifier: Apache-2.0
/*
 * The dissectors the engine tries, in detection order: the DISSECTOR column of the one
 * registration list (protocols/registry.h). Not const: unit tests put toy dissectors in their
 * place. Each names its protocol descriptor in the core (struct dissector.protocol).
 */
#include "dissect/dissector.h"
#include "protocols/registry.h"

#define DISSECTOR_DECLARE(name) extern const struct dissector dissector_##name;
#define DISSECTOR_ENTRY(name) &dissector_##name,

FLOE_PROTOCOLS(FLOE_REGISTRY_NONE, DISSECTOR_DECLARE)

const struct dissector *dissectors[] = {FLOE_PROTOCOLS(FLOE_REGISTRY_NONE, DISSECTOR_ENTRY) NULL};
