/*
 * Unix socket files for nginx. A listener is created 0600 (the caller sets
 * the umask), given its group, then opened to 0660, so no one else can
 * connect in between; a stale file from a crash is removed only when
 * nothing answers on it, so a second instance cannot steal a live socket.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "usock.h"
#include "xmalloc.h"

#define USOCK_WAIT_TRIES	30	/* x 100 ms: a dying owner's listener */
#define USOCK_WAIT_US		100000

int
usock_addr(const char *path, struct sockaddr_un *sun, char *err,
    size_t errlen)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (*path == '\0') {
		snprintf(err, errlen, "empty path");
		return -1;
	}
	if (strlcpy_p(sun->sun_path, path, sizeof(sun->sun_path)) >=
	    sizeof(sun->sun_path)) {
		snprintf(err, errlen, "path longer than %zu bytes",
		    sizeof(sun->sun_path) - 1);
		return -1;
	}
	return 0;
}

static int
usock_live(const struct sockaddr_un *sun)
{
	int	 fd, live;

	/*
	 * Non-blocking: a listener whose queue is full (busy, or dying and
	 * no longer accepting) makes a blocking connect wait for ever; it is
	 * live all the same (EAGAIN).
	 */
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1)
		return 1;	/* cannot tell: do not remove it */
	live = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0 ||
	    errno == EAGAIN;
	close(fd);
	return live;
}

int
usock_clear(const char *path, int *removed, char *err, size_t errlen)
{
	struct sockaddr_un	 sun;
	struct stat		 sb;
	int			 tries;

	*removed = 0;
	if (usock_addr(path, &sun, err, errlen) == -1)
		return -1;
	if (lstat(path, &sb) == -1) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(sb.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket", path);
		return -1;
	}
	/*
	 * A process killed a moment ago may hold its listener until its
	 * last thread is gone (its main thread already a zombie): give it a
	 * few seconds rather than fail the restart that follows a crash.
	 */
	for (tries = 0; tries < USOCK_WAIT_TRIES && usock_live(&sun); tries++)
		usleep(USOCK_WAIT_US);
	if (tries == USOCK_WAIT_TRIES) {
		snprintf(err, errlen, "another process is listening on %s",
		    path);
		return -1;
	}
	if (unlink(path) == -1) {
		snprintf(err, errlen, "unlink %s: %s", path, strerror(errno));
		return -1;
	}
	*removed = 1;
	return 0;
}

int
usock_group(const char *group, gid_t *gid, char *err, size_t errlen)
{
	struct group	*gr;

	if (group == NULL || *group == '\0')
		return 0;
	errno = 0;
	if ((gr = getgrnam(group)) == NULL) {
		if (errno != 0)
			snprintf(err, errlen, "looking up '%s': %s", group,
			    strerror(errno));
		else
			snprintf(err, errlen, "unknown group '%s'", group);
		return -1;
	}
	*gid = gr->gr_gid;
	return 1;
}

int
usock_protect(const char *path, int setgroup, gid_t gid, char *err,
    size_t errlen)
{
	if (setgroup && chown(path, (uid_t)-1, gid) == -1) {
		snprintf(err, errlen, "chown %s: %s", path, strerror(errno));
		return -1;
	}
	if (chmod(path, 0660) == -1) {
		snprintf(err, errlen, "chmod %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}
