/*
 * A result row as a JSON object, by a table of its columns (name and
 * kind, in SELECT order): for the replies that show rows as they are
 * stored (the audit trail, workflow versions).
 */
#include "api.h"
#include "db.h"
#include "jtext.h"
#include "pjson.h"

struct json_object *
dbjson_row(const struct db_res *r, size_t row, const struct dbjson_col *cols)
{
	struct json_object	*o = json_object_new_object(), *v;
	size_t			 c;

	for (c = 0; cols[c].name != NULL; c++) {
		const char *s = db_res_get(r, row, c);

		switch (cols[c].kind) {
		case DBJSON_INT:
			v = s == NULL ? NULL :
			    json_object_new_int64(db_res_int(r, row, c, 0));
			break;
		case DBJSON_TIME:
			v = pjson_time(s);
			break;
		case DBJSON_RAW:	/* JSON the database checked */
			v = pjson_raw(s, db_res_len(r, row, c));
			break;
		default:
			v = pjson_string_or_null(s);
			break;
		}
		json_object_object_add(o, cols[c].name, v);
	}
	return o;
}

/*
 * The same object written as text (jtext.h), for long lists: no json-c
 * object per value. Byte for byte what dbjson_row() prints.
 */
void
dbjson_row_text(struct jtext *j, const struct db_res *r, size_t row,
    const struct dbjson_col *cols)
{
	size_t	 c;

	for (c = 0; cols[c].name != NULL; c++) {
		const char *s = db_res_get(r, row, c);

		jtext_raw(j, c == 0 ? "{" : ",", 1);
		jtext_str(j, cols[c].name);
		jtext_raw(j, ":", 1);
		if (s == NULL) {
			jtext_raw(j, "null", 4);
			continue;
		}
		switch (cols[c].kind) {
		case DBJSON_INT:
			jtext_int(j, db_res_int(r, row, c, 0));
			break;
		case DBJSON_TIME:
			jtext_time(j, s);
			break;
		case DBJSON_RAW:
			jtext_raw(j, s, db_res_len(r, row, c));
			break;
		default:
			jtext_str(j, s);
			break;
		}
	}
	jtext_raw(j, c == 0 ? "{}" : "}", c == 0 ? 2 : 1);
}
