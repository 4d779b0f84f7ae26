/*
 * GET /api/openapi.json: the OpenAPI 3 description of this API.
 *
 * The document is fcgi-api/openapi.json, hand-written. It is compiled into
 * pulse-api (Makefile.am turns it into openapi-doc.c, an array of bytes,
 * with od and awk), so the binary always serves the document of its own
 * route table, needs no installed data file, and works the same from a
 * build tree, after make install and in make distcheck.
 * tests/integration/test_openapi.py checks it against routes[].
 */
#include <stddef.h>

#include "api.h"
#include "log.h"
#include "pjson.h"

/* openapi-doc.c (generated) */
extern const unsigned char	 openapi_doc[];
extern const size_t		 openapi_doc_len;

#define OPENAPI_DEPTH	64	/* the document nests deeper than a body */

int
openapi_get(struct request *req)
{
	struct json_object	*doc;
	char			 err[128];

	/* Parsed per request: it is small, and this keeps one reply path. */
	doc = pjson_parse((const char *)openapi_doc, openapi_doc_len,
	    OPENAPI_DEPTH, err, sizeof(err));
	if (doc == NULL) {
		log_warnx("openapi.json: %s", err);
		reply_error(req, 500, "internal error");
		return 0;
	}
	reply_json(req, 200, doc);
	return 0;
}
