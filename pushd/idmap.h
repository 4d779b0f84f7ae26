/*
 * idmap.c: a hash of short keys (ids, connection serials) to a number and
 * a pointer. Used by the loop and by the db thread, each with its own maps.
 */
#ifndef IDMAP_H
#define IDMAP_H

#include <stddef.h>
#include <stdint.h>

#include "id.h"

struct idmap_node {
	struct idmap_node	*next;
	size_t			 klen;
	unsigned char		 key[ID_LEN + 1];
	uint64_t		 num;
	void			*ptr;
};

struct idmap {
	struct idmap_node	**b;
	size_t			 nb, n;
};

void	 idmap_init(struct idmap *);
void	 idmap_free(struct idmap *);
struct idmap_node *idmap_get(const struct idmap *, const void *, size_t);
struct idmap_node *idmap_put(struct idmap *, const void *, size_t);
void	 idmap_del(struct idmap *, const void *, size_t);
void	 idmap_each(const struct idmap *,
	    void (*)(struct idmap_node *, void *), void *);

#endif
