/* Unit tests for common/ident.c and common/usock.c. */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ident.h"
#include "test.h"
#include "usock.h"

int
main(void)
{
	struct sockaddr_un	 sun;
	struct stat		 sb;
	char			 err[256], dir[] = "/tmp/pulse-usock.XXXXXX";
	char			 path[200], longpath[300];
	gid_t			 gid;
	int			 fd, removed;

	test_cond("key: equal", ident_key_equal("s3cret", "s3cret"));
	test_cond("key: prefix refused", !ident_key_equal("s3cre", "s3cret"));
	test_cond("key: longer refused", !ident_key_equal("s3crett", "s3cret"));
	test_cond("key: case matters", !ident_key_equal("S3cret", "s3cret"));
	test_cond("key: empty configured key matches nothing",
	    !ident_key_equal("", ""));
	test_cond("group: found", ident_in_group("ops, admin ,dev", "admin"));
	test_cond("group: first and last", ident_in_group("a,b", "a") &&
	    ident_in_group("a,b", "b"));
	test_cond("group: no substring match", !ident_in_group("admins",
	    "admin") && !ident_in_group("xadmin", "admin"));
	test_cond("group: case sensitive", !ident_in_group("Admin", "admin"));
	test_cond("group: empty list or group", !ident_in_group("", "admin") &&
	    !ident_in_group("admin", ""));
	test_cond("origin: same", ident_origin_ok("http://127.0.0.1:8080",
	    "http", "127.0.0.1:8080"));
	test_cond("origin: host case ignored", ident_origin_ok(
	    "https://Pulse.Example", "https", "pulse.example"));
	test_cond("origin: default port on either side", ident_origin_ok(
	    "https://p.example:443", "https", "p.example") &&
	    ident_origin_ok("http://p.example", "http", "p.example:80"));
	test_cond("origin: other port", !ident_origin_ok(
	    "http://127.0.0.1:9090", "http", "127.0.0.1:8080"));
	test_cond("origin: other scheme", !ident_origin_ok("http://p.example",
	    "https", "p.example"));
	test_cond("origin: other site", !ident_origin_ok("http://evil.example",
	    "http", "p.example"));
	test_cond("origin: suffix attack", !ident_origin_ok(
	    "http://p.example.evil.example", "http", "p.example"));
	test_cond("origin: null", !ident_origin_ok("null", "http",
	    "p.example"));
	test_cond("origin: empty", !ident_origin_ok("", "http", "p.example"));
	/* Issue 12: only a trailing ":80" was looked at. */
	test_cond("origin: a second port", !ident_origin_ok(
	    "http://127.0.0.1:8080:80", "http", "127.0.0.1:8080"));
	test_cond("origin: userinfo, path, space, bad port", !ident_origin_ok(
	    "http://x@p.example", "http", "p.example") && !ident_origin_ok(
	    "http://p.example/", "http", "p.example") && !ident_origin_ok(
	    "http://p.example ", "http", "p.example") && !ident_origin_ok(
	    "http://p.example:0", "http", "p.example:0") && !ident_origin_ok(
	    "http://p.example:080", "http", "p.example:80") &&
	    !ident_origin_ok("http://p.example:65536", "http",
	    "p.example:65536"));
	test_cond("origin: two origins joined", !ident_origin_ok(
	    "http://p.example,http://p.example", "http", "p.example"));
	test_cond("origin: IPv6", ident_origin_ok("http://[::1]:8080", "http",
	    "[::1]:8080") && !ident_origin_ok("http://[::1]:8080", "http",
	    "[::2]:8080"));

	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/s.sock", dir);
	test_cond("usock: nothing there is fine",
	    usock_clear(path, &removed, err, sizeof(err)) == 0 && !removed);
	memset(longpath, 'x', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	test_cond("usock: too long a path", usock_addr(longpath, &sun, err,
	    sizeof(err)) == -1 && strstr(err, "longer") != NULL);
	test_cond("usock: empty path", usock_addr("", &sun, err,
	    sizeof(err)) == -1);
	usock_addr(path, &sun, err, sizeof(err));
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	listen(fd, 1);
	test_cond("usock: a live socket is not taken",
	    usock_clear(path, &removed, err, sizeof(err)) == -1 &&
	    strstr(err, "listening") != NULL);
	test_cond("usock: protect gives 0660",
	    usock_protect(path, 0, 0, err, sizeof(err)) == 0 &&
	    stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0660);
	close(fd);
	test_cond("usock: a stale socket is removed",
	    usock_clear(path, &removed, err, sizeof(err)) == 0 && removed &&
	    access(path, F_OK) == -1);
	fd = creat(path, 0600);
	close(fd);
	test_cond("usock: a regular file is refused",
	    usock_clear(path, &removed, err, sizeof(err)) == -1 &&
	    strstr(err, "not a socket") != NULL);
	unlink(path);
	rmdir(dir);
	test_cond("usock: no group configured", usock_group("", &gid, err,
	    sizeof(err)) == 0);
	test_cond("usock: root group found", usock_group("root", &gid, err,
	    sizeof(err)) == 1 && gid == 0);
	test_cond("usock: unknown group named", usock_group("no-such-group-x",
	    &gid, err, sizeof(err)) == -1 &&
	    strstr(err, "no-such-group-x") != NULL);
	test_report();
}
