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

	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
		return 1;	/* cannot tell: do not remove it */
	live = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0;
	close(fd);
	return live;
}

int
usock_clear(const char *path, int *removed, char *err, size_t errlen)
{
	struct sockaddr_un	 sun;
	struct stat		 sb;

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
	if (usock_live(&sun)) {
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
