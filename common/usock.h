/*
 * The unix socket files nginx connects to (pulse-api's FastCGI socket,
 * pushd's two listeners). Whoever can connect can claim any identity, so
 * both programs prepare and protect them the same way.
 */
#ifndef PULSE_USOCK_H
#define PULSE_USOCK_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/un.h>

/* Fill sun from path; -1 if it is empty or too long. */
int	usock_addr(const char *path, struct sockaddr_un *sun, char *err,
	    size_t errlen);
/*
 * Make the path free for a new listener: nothing there, or a stale socket
 * (removed). -1 if it is not a socket or a process still listens on it.
 * *removed is set when a stale socket was removed.
 */
int	usock_clear(const char *path, int *removed, char *err, size_t errlen);
/* Look up the group ("" means none: returns 0); 1 and *gid when found. */
int	usock_group(const char *group, gid_t *gid, char *err, size_t errlen);
/* Mode 0660, group gid when setgroup: for a socket created 0600. */
int	usock_protect(const char *path, int setgroup, gid_t gid, char *err,
	    size_t errlen);

#endif
