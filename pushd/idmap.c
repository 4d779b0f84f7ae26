/*
 * A small chained hash from short keys (ids, connection serials) to a
 * number and a pointer: the loop finds sockets by serial and by worker id,
 * the db thread finds the workers it holds, each in constant time however
 * many thousand sockets there are.
 */
#include <stdlib.h>
#include <string.h>

#include "idmap.h"
#include "xmalloc.h"

#define IDMAP_MIN	64

/* FNV-1a: keys are ids and serials, not chosen by an attacker's hash. */
static size_t
idmap_hash(const void *key, size_t len)
{
	const unsigned char	*p = key;
	uint64_t		 h = 0xcbf29ce484222325ULL;
	size_t			 i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return (size_t)h;
}

void
idmap_init(struct idmap *m)
{
	m->nb = IDMAP_MIN;
	m->n = 0;
	m->b = xcalloc(m->nb, sizeof(*m->b));
}

void
idmap_free(struct idmap *m)
{
	struct idmap_node	*e, *next;
	size_t			 i;

	for (i = 0; i < m->nb; i++)
		for (e = m->b[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	free(m->b);
	m->b = NULL;
	m->nb = m->n = 0;
}

struct idmap_node *
idmap_get(const struct idmap *m, const void *key, size_t len)
{
	struct idmap_node	*e;

	if (len > ID_LEN)
		return NULL;
	for (e = m->b[idmap_hash(key, len) % m->nb]; e != NULL; e = e->next)
		if (e->klen == len && memcmp(e->key, key, len) == 0)
			return e;
	return NULL;
}

static void
idmap_grow(struct idmap *m)
{
	struct idmap_node	**b, *e, *next;
	size_t			 nb = m->nb * 2, i, h;

	b = xcalloc(nb, sizeof(*b));
	for (i = 0; i < m->nb; i++)
		for (e = m->b[i]; e != NULL; e = next) {
			next = e->next;
			h = idmap_hash(e->key, e->klen) % nb;
			e->next = b[h];
			b[h] = e;
		}
	free(m->b);
	m->b = b;
	m->nb = nb;
}

/* The node for key, created (zeroed) if there was none. */
struct idmap_node *
idmap_put(struct idmap *m, const void *key, size_t len)
{
	struct idmap_node	*e;
	size_t			 h;

	if (len > ID_LEN)
		return NULL;
	e = idmap_get(m, key, len);
	if (e != NULL)
		return e;
	if (m->n >= m->nb)
		idmap_grow(m);
	e = xcalloc(1, sizeof(*e));
	memcpy(e->key, key, len);
	e->klen = len;
	h = idmap_hash(key, len) % m->nb;
	e->next = m->b[h];
	m->b[h] = e;
	m->n++;
	return e;
}

void
idmap_del(struct idmap *m, const void *key, size_t len)
{
	struct idmap_node	**pp, *e;

	if (len > ID_LEN)
		return;
	for (pp = &m->b[idmap_hash(key, len) % m->nb]; (e = *pp) != NULL;
	    pp = &e->next)
		if (e->klen == len && memcmp(e->key, key, len) == 0) {
			*pp = e->next;
			free(e);
			m->n--;
			return;
		}
}

void
idmap_each(const struct idmap *m, void (*fn)(struct idmap_node *, void *),
    void *arg)
{
	struct idmap_node	*e, *next;
	size_t			 i;

	for (i = 0; i < m->nb; i++)
		for (e = m->b[i]; e != NULL; e = next) {
			next = e->next;
			fn(e, arg);
		}
}
