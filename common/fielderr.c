/* Field-named errors of the workflow language's checkers (fielderr.h). */
#include <stdarg.h>
#include <stdio.h>

#include "fielderr.h"
#include "pjson.h"

void
fielderr_set(struct fielderr *err, const char *field, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	if (err == NULL)
		return;
	snprintf(err->field, sizeof(err->field), "%s", field);
	pjson_utf8_trim(err->field);
	n = snprintf(err->msg, sizeof(err->msg), "%s: ", err->field);
	if (n > 0 && (size_t)n < sizeof(err->msg)) {
		va_start(ap, fmt);
		vsnprintf(err->msg + n, sizeof(err->msg) - (size_t)n, fmt, ap);
		va_end(ap);
	}
	pjson_utf8_trim(err->msg);
}

void
fielderr_clear(struct fielderr *err)
{
	if (err != NULL)
		err->field[0] = err->msg[0] = '\0';
}
