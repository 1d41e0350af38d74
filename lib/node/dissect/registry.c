// SPDX-License-Identifier: Apache-2.0
/*
 * The dissectors the engine tries, in detection order. HTTP/2 comes first: its preface
 * starts with "PRI * HTTP/2.0", which an HTTP/1 detector could take for a request line.
 * Not const: unit tests put toy dissectors in their place. Each names its protocol
 * descriptor in the core (struct dissector.protocol).
 */
#include "dissect/amqp.h"
#include "dissect/dissector.h"
#include "dissect/dns.h"
#include "dissect/http1.h"
#include "dissect/http2.h"
#include "dissect/kafka.h"
#include "dissect/redis.h"

const struct dissector *dissectors[] = { &dissector_http2, &dissector_http1, &dissector_amqp,
						&dissector_redis, &dissector_kafka, &dissector_dns,
						NULL };
