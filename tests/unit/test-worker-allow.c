/*
 * Unit test for worker/allow.c: the WORKER_ALLOW_FILE matcher (README
 * "Allow-list"): whole-command matching, wildcards that never cross a
 * line break or a shell control character, quoting and escapes in rules,
 * classes, the file format, every parse error with its line number, and
 * the checks on the file itself (missing, not regular, group-writable,
 * owned by someone else, too big).
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "worker.h"
#include "xmalloc.h"
#include "test.h"

static char	 err[512];

static struct allow *
parse(const char *text)
{
	err[0] = '\0';
	return allow_parse(text, strlen(text), "/etc/allow", err, sizeof(err));
}

/* Does command match the one-rule file `rule`? -1 when it does not parse. */
static int
m(const char *rule, const char *command)
{
	struct allow	*a = parse(rule);
	int		 rc;

	if (a == NULL) {
		printf("# %s: %s\n", rule, err);
		return -1;
	}
	rc = allow_match(a, command) != 0;
	allow_free(a);
	return rc;
}

/* Does text fail to parse with an error that contains want? */
static int
bad(const char *text, const char *want)
{
	struct allow	*a = parse(text);

	if (a != NULL) {
		allow_free(a);
		printf("# parsed: %.60s\n", text);
		return 0;
	}
	if (strstr(err, want) == NULL) {
		printf("# got: %s\n", err);
		return 0;
	}
	return 1;
}

static void
test_whole(void)
{
	test_cond("an exact rule allows its command",
	    m("systemctl restart nginx", "systemctl restart nginx") == 1);
	test_cond("another command is refused",
	    m("systemctl restart nginx", "systemctl stop nginx") == 0);
	test_cond("a prefix of an allowed command is refused",
	    m("systemctl restart nginx", "systemctl restart") == 0);
	test_cond("an allowed command with more after it is refused",
	    m("systemctl restart nginx", "systemctl restart nginx2") == 0);
	test_cond("... with '; rm -rf /' after it is refused",
	    m("systemctl restart nginx",
	    "systemctl restart nginx; rm -rf /") == 0);
	test_cond("the empty command matches no rule",
	    m("uptime", "") == 0);
	test_cond("'*' alone allows a plain command", m("*", "uptime") == 1);
	test_cond("'*' alone allows the empty command", m("*", "") == 1);
}

static void
test_star(void)
{
	const char	*r = "systemctl restart *";

	test_cond("'*' matches one argument",
	    m(r, "systemctl restart nginx") == 1);
	test_cond("'*' matches nothing", m(r, "systemctl restart ") == 1);
	test_cond("'*' matches blanks too (several arguments)",
	    m(r, "systemctl restart nginx php-fpm") == 1);
	test_cond("'*' never matches ';'",
	    m(r, "systemctl restart nginx; rm -rf /") == 0);
	test_cond("'*' never matches '&&'",
	    m(r, "systemctl restart nginx && reboot") == 0);
	test_cond("'*' never matches a lone '&'",
	    m(r, "systemctl restart nginx & reboot") == 0);
	test_cond("'*' never matches '|'",
	    m(r, "systemctl restart nginx | sh") == 0);
	test_cond("'*' never matches '||'",
	    m(r, "systemctl restart x || reboot") == 0);
	test_cond("'*' never matches $(...)",
	    m(r, "systemctl restart $(reboot)") == 0);
	test_cond("'*' never matches a $VARIABLE",
	    m(r, "systemctl restart $HOME") == 0);
	test_cond("'*' never matches backticks",
	    m(r, "systemctl restart `reboot`") == 0);
	test_cond("'*' never matches a subshell (...)",
	    m(r, "systemctl restart (reboot)") == 0);
	test_cond("'*' never matches a redirection >",
	    m(r, "systemctl restart x >/etc/passwd") == 0);
	test_cond("'*' never matches a redirection <",
	    m(r, "systemctl restart x </etc/shadow") == 0);
	test_cond("'*' never matches a newline",
	    m(r, "systemctl restart nginx\nreboot") == 0);
	test_cond("'*' never matches a carriage return",
	    m(r, "systemctl restart nginx\rreboot") == 0);
	test_cond("'*' never matches '#': the rule's tail is not a comment",
	    m("/usr/local/bin/deploy * --dry-run",
	    "/usr/local/bin/deploy prod # --dry-run") == 0);
	test_cond("'*' never matches a backslash: the tail stays a word",
	    m("rsync -a * /backup/", "rsync -a /etc/shadow evil:x\\ /backup/")
	    == 0);
	test_cond("'*' never matches a single quote",
	    m("echo * end", "echo 'a end' end") == 0);
	test_cond("'*' never matches a double quote",
	    m("echo * end", "echo \"a end\" end") == 0);
	test_cond("a literal '#' in a rule still matches",
	    m("echo a#b", "echo a#b") == 1);
	test_cond("'*' in the middle",
	    m("tail -n * /var/log/syslog", "tail -n 50 /var/log/syslog") ==
	    1);
	test_cond("'*' in the middle: its tail must still match",
	    m("tail -n * /var/log/syslog", "tail -n 50 /var/log/auth.log") ==
	    0);
	test_cond("two '*' with backtracking",
	    m("a*b*c", "axxbyybzzc") == 1);
	test_cond("'**' is '*'", m("ls **", "ls -la /tmp") == 1);
	test_cond("a leading '*'", m("*.sh", "/opt/run.sh") == 1);
	test_cond("a leading '*' never crosses ';'",
	    m("*.sh", "reboot; /opt/run.sh") == 0);
	test_cond("the tail after '*' is anchored at the end",
	    m("echo *x", "echo axb") == 0);
}

static void
test_any(void)
{
	test_cond("'?' matches one character", m("id -u ?", "id -u 0") == 1);
	test_cond("'?' does not match zero characters",
	    m("id -u ?", "id -u ") == 0);
	test_cond("'?' does not match two", m("id -u ?", "id -u 10") == 0);
	test_cond("'?' never matches ';'", m("echo ?ls", "echo ;ls") == 0);
	test_cond("'?' never matches a newline",
	    m("echo ?ls", "echo \nls") == 0);
	test_cond("'?' never matches '$'", m("echo ?x", "echo $x") == 0);
	test_cond("'?' never matches a backtick",
	    m("echo ?x?", "echo `x`") == 0);
}

static void
test_quotes(void)
{
	test_cond("'*' inside single quotes matches only '*'",
	    m("echo '*'", "echo *") == 1);
	test_cond("'*' inside single quotes does not match 'x'",
	    m("echo '*'", "echo x") == 0);
	test_cond("'*' inside double quotes matches only '*'",
	    m("echo \"*\"", "echo x") == 0 && m("echo \"*\"", "echo *") == 1);
	test_cond("'?' inside quotes is literal",
	    m("echo '?'", "echo a") == 0 && m("echo '?'", "echo ?") == 1);
	test_cond("'[' inside quotes is literal",
	    m("echo '[ab]'", "echo a") == 0 &&
	    m("echo '[ab]'", "echo [ab]") == 1);
	test_cond("quotes are removed: a quoted blank matches a blank",
	    m("'ls -l' /tmp", "ls -l /tmp") == 1);
	test_cond("quotes are not part of the command",
	    m("'ls -l' /tmp", "'ls -l' /tmp") == 0);
	test_cond("a quote in the command is matched by an escaped one",
	    m("grep \\'error\\' /var/log/syslog",
	    "grep 'error' /var/log/syslog") == 1);
	test_cond("... or by double quotes around single ones",
	    m("\"grep 'error' /var/log/syslog\"",
	    "grep 'error' /var/log/syslog") == 1);
	test_cond("\\\" inside double quotes is a double quote",
	    m("\"echo \\\"hi\\\"\"", "echo \"hi\"") == 1);
	test_cond("\\\\ inside double quotes is one backslash",
	    m("\"a\\\\b\"", "a\\b") == 1);
	test_cond("another backslash inside double quotes is itself",
	    m("\"a\\nb\"", "a\\nb") == 1);
	test_cond("a backslash inside single quotes is itself",
	    m("'a\\'", "a\\") == 1);
	test_cond("a quoted ';' is a literal the command must hold",
	    m("'make; make install'", "make; make install") == 1);
	test_cond("an unquoted ';' in a rule is literal too",
	    m("make; make install", "make; make install") == 1 &&
	    m("make; make install", "make; reboot") == 0);
	test_cond("quotes and '*' mixed",
	    m("echo 'a b'*", "echo a bcd") == 1 &&
	    m("echo 'a b'*", "echo a; b") == 0);
}

static void
test_escapes(void)
{
	test_cond("\\* is a literal '*'",
	    m("echo \\*", "echo *") == 1 && m("echo \\*", "echo x") == 0);
	test_cond("\\? is a literal '?'",
	    m("echo \\?", "echo ?") == 1 && m("echo \\?", "echo x") == 0);
	test_cond("\\[ is a literal '['",
	    m("echo \\[a]", "echo [a]") == 1 && m("echo \\[a]", "echo a") ==
	    0);
	test_cond("\\\\ is one backslash", m("echo \\\\", "echo \\") == 1);
	test_cond("\\# starts a rule with '#'", m("\\#x", "#x") == 1);
	test_cond("an escaped blank", m("echo a\\ b", "echo a b") == 1);
}

static void
test_classes(void)
{
	test_cond("[abc] matches a member",
	    m("rc[abc]", "rcb") == 1 && m("rc[abc]", "rcd") == 0);
	test_cond("[a-z] is a range",
	    m("x[a-z]", "xq") == 1 && m("x[a-z]", "xQ") == 0);
	test_cond("[0-9][0-9] two digits",
	    m("tail -n [0-9][0-9] f", "tail -n 42 f") == 1 &&
	    m("tail -n [0-9][0-9] f", "tail -n 4 f") == 0);
	test_cond("[!a] negates", m("x[!a]", "xb") == 1 && m("x[!a]", "xa") ==
	    0);
	test_cond("[^a] negates", m("x[^a]", "xb") == 1 && m("x[^a]", "xa") ==
	    0);
	test_cond("[!a] never matches ';'", m("x[!a]y", "x;y") == 0);
	test_cond("[!a] never matches a newline", m("x[!a]y", "x\ny") == 0);
	test_cond("[!a] never matches '$' '(' ')' '`' '|' '&' '<' '>'",
	    m("x[!a]", "x$") == 0 && m("x[!a]", "x(") == 0 &&
	    m("x[!a]", "x)") == 0 && m("x[!a]", "x`") == 0 &&
	    m("x[!a]", "x|") == 0 && m("x[!a]", "x&") == 0 &&
	    m("x[!a]", "x<") == 0 && m("x[!a]", "x>") == 0);
	test_cond("a listed ';' is still never matched by a class",
	    m("x[;a]", "x;") == 0 && m("x[;a]", "xa") == 1);
	test_cond("a range over ';' skips it",
	    m("x[!-~]", "x;") == 0 && m("x[!-~]", "x:") == 1);
	test_cond("']' first is a member",
	    m("x[]a]", "x]") == 1 && m("x[]a]", "xa") == 1);
	test_cond("']' first after '!' is a member",
	    m("x[!]]", "x]") == 0 && m("x[!]]", "xa") == 1);
	test_cond("'-' last is a member",
	    m("x[a-]", "x-") == 1 && m("x[a-]", "xb") == 0);
	test_cond("an escaped ']' inside a class",
	    m("x[\\]b]", "x]") == 1 && m("x[\\]b]", "xb") == 1);
	test_cond("[[:digit:]]",
	    m("x[[:digit:]]", "x7") == 1 && m("x[[:digit:]]", "xa") == 0);
	test_cond("[[:alnum:]_-] mixes a named class and members",
	    m("x[[:alnum:]_-]", "x_") == 1 && m("x[[:alnum:]_-]", "xZ") == 1 &&
	    m("x[[:alnum:]_-]", "x.") == 0);
	test_cond("[[:punct:]] never matches ';'",
	    m("x[[:punct:]]", "x;") == 0 && m("x[[:punct:]]", "x.") == 1);
	test_cond("a class with '*' after it",
	    m("systemctl [rs]* nginx", "systemctl restart nginx") == 1 &&
	    m("systemctl [rs]* nginx", "systemctl status nginx") == 1 &&
	    m("systemctl [rs]* nginx", "systemctl enable nginx") == 0);
}

static void
test_file(void)
{
	struct allow	*a;

	a = parse("# web server\n\n   \t\n  uptime  \n\t# indented comment\n"
	    "df -h\n");
	test_cond("comments and blank lines are skipped",
	    a != NULL && allow_rules(a) == 2);
	test_cond("blanks around a rule are trimmed",
	    a != NULL && allow_match(a, "uptime") == 4 &&
	    allow_match(a, "  uptime") == 0);
	test_cond("allow_match says the line of the rule that matched",
	    a != NULL && allow_match(a, "df -h") == 6);
	test_cond("a comment is not a rule",
	    a != NULL && allow_match(a, "# web server") == 0);
	allow_free(a);

	a = parse("uptime\r\ndf -h\r\n");
	test_cond("CRLF line endings", a != NULL && allow_rules(a) == 2 &&
	    allow_match(a, "uptime") == 1 && allow_match(a, "df -h") == 2 &&
	    allow_match(a, "uptime\r") == 0);
	allow_free(a);

	a = parse("uptime");
	test_cond("no newline at the end of the file",
	    a != NULL && allow_match(a, "uptime") == 1);
	allow_free(a);

	a = parse("");
	test_cond("an empty file has no rules and refuses everything",
	    a != NULL && allow_rules(a) == 0 && allow_match(a, "") == 0 &&
	    allow_match(a, "uptime") == 0);
	allow_free(a);

	a = parse("# only comments\n\n");
	test_cond("a file of comments refuses everything",
	    a != NULL && allow_rules(a) == 0 && allow_match(a, "x") == 0);
	allow_free(a);

	a = parse("uptime\n*\n");
	test_cond("a command with a newline never matches, even '*'",
	    a != NULL && allow_match(a, "uptime\n") == 0 &&
	    allow_match(a, "uptime\nreboot") == 0 &&
	    allow_match(a, "echo\rx") == 0 && allow_match(a, "x") == 2);
	allow_free(a);

	a = parse("uptime\n");
	test_cond("the reason names the file",
	    a != NULL && strcmp(allow_reason(a), "refused by "
	    "WORKER_ALLOW_FILE (/etc/allow): no rule matches") == 0 &&
	    strcmp(allow_path(a), "/etc/allow") == 0);
	allow_free(a);
}

static void
test_errors(void)
{
	struct allow	*a;
	char	*big;
	size_t	 i;

	test_cond("unterminated ' quote: its line",
	    bad("uptime\n# c\necho 'abc\n", "/etc/allow line 3: "
	    "unterminated ' quote"));
	test_cond("unterminated \" quote: its line",
	    bad("\necho \"abc\n", "/etc/allow line 2: unterminated \" quote"));
	test_cond("an escaped closing quote does not close it",
	    bad("echo \"abc\\\"\n", "line 1: unterminated \" quote"));
	test_cond("unterminated [ class: its line",
	    bad("a\nb\nc\nls [abc\n", "/etc/allow line 4: unterminated [ "
	    "class"));
	test_cond("'[]' alone is an unterminated class",
	    bad("ls []\n", "line 1: unterminated [ class"));
	test_cond("a trailing backslash: its line",
	    bad("ok\necho \\\n", "/etc/allow line 2: a trailing backslash"));
	test_cond("a trailing backslash before blanks",
	    bad("echo \\   \n", "line 1: a trailing backslash"));
	test_cond("a reversed range",
	    bad("x[z-a]\n", "line 1: the range z-a"));
	test_cond("an unknown [:class:]",
	    bad("x[[:nope:]]\n", "line 1: unknown class [:nope:]"));
	test_cond("a NUL byte: its line",
	    allow_parse("ok\nab\0c\n", 7, "/etc/allow", err, sizeof(err)) ==
	    NULL && strstr(err, "/etc/allow line 2: a NUL byte") != NULL);
	test_cond("a control character: its line",
	    bad("ok\necho \x1b[1m\n", "line 2: a control character (0x1b)"));
	test_cond("a CR inside a line: its line",
	    bad("echo a\rb\n", "line 1: a control character (0x0d)"));

	big = xmalloc(ALLOW_LINE_MAX + 16);
	memset(big, 'a', ALLOW_LINE_MAX);
	big[ALLOW_LINE_MAX] = '\0';
	test_cond("a line of ALLOW_LINE_MAX bytes is read",
	    m(big, big) == 1);
	big[ALLOW_LINE_MAX] = 'a';
	big[ALLOW_LINE_MAX + 1] = '\0';
	test_cond("a longer line: its line number",
	    bad(big, "/etc/allow line 1: longer than 4096 bytes"));
	free(big);

	big = xmalloc((ALLOW_RULES_MAX + 1) * 4 + 1);
	for (i = 0; i < ALLOW_RULES_MAX + 1; i++)
		memcpy(big + i * 4, "a*b\n", 4);
	big[ALLOW_RULES_MAX * 4] = '\0';
	a = parse(big);
	test_cond("ALLOW_RULES_MAX rules are read",
	    a != NULL && allow_rules(a) == ALLOW_RULES_MAX);
	allow_free(a);
	big[ALLOW_RULES_MAX * 4] = 'a';
	big[(ALLOW_RULES_MAX + 1) * 4] = '\0';
	test_cond("one more: its line number",
	    bad(big, "/etc/allow line 1001: more than 1000 rules"));
	free(big);
}

/* A file with this content and mode; its path in path. */
static void
file(char *path, const char *content, size_t len, mode_t mode)
{
	int	 fd;

	strlcpy_p(path, "/tmp/test-allow.XXXXXX", 64);
	fd = mkstemp(path);
	if (fd == -1 || write(fd, content, len) != (ssize_t)len ||
	    fchmod(fd, mode) == -1) {
		perror(path);
		exit(99);
	}
	close(fd);
}

static struct allow *
load(const char *path, uid_t self)
{
	err[0] = '\0';
	return allow_load(path, self, err, sizeof(err));
}

static void
test_load(void)
{
	struct allow	*a;
	char		 path[64], dir[64], *big;
	uid_t		 me = geteuid();

	file(path, "uptime\n# x\ndf -h\n", 17, 0644);
	a = load(path, me);
	test_cond("a 0644 file of ours loads", a != NULL &&
	    allow_rules(a) == 2 && allow_match(a, "df -h") == 3);
	allow_free(a);
	chmod(path, 0600);
	a = load(path, me);
	test_cond("0600 loads too", a != NULL);
	allow_free(a);

	chmod(path, 0664);
	test_cond("group-writable: refused, saying so",
	    load(path, me) == NULL && strstr(err, "writable by its group") !=
	    NULL && strstr(err, path) != NULL);
	chmod(path, 0646);
	test_cond("world-writable: refused",
	    load(path, me) == NULL && strstr(err, "writable") != NULL);
	chmod(path, 0644);

	/*
	 * Owned by neither root nor us: as root, give the file away; else
	 * say "we" are another uid, so that our own file is someone else's.
	 */
	if (me == 0 && chown(path, 65534, (gid_t)-1) == -1)
		perror("chown");
	a = load(path, me == 0 ? 0 : me + 1);
	test_cond("owned by neither root nor the agent's user: refused",
	    a == NULL && strstr(err, "neither root nor") != NULL);
	allow_free(a);
	a = load(path, me == 0 ? 65534 : me);
	test_cond("owned by the agent's own user: loads", a != NULL);
	allow_free(a);
	if (me == 0) {
		if (chown(path, 0, (gid_t)-1) == -1)
			perror("chown");
		a = load(path, 65534);
		test_cond("owned by root, the agent not root: loads",
		    a != NULL);
		allow_free(a);
	}
	unlink(path);

	test_cond("a missing file: refused, with the system's reason",
	    load(path, me) == NULL && strstr(err, "No such file") != NULL);
	test_cond("a relative path: refused",
	    load("allow.list", me) == NULL && strstr(err,
	    "not an absolute path") != NULL);

	strlcpy_p(dir, "/tmp/test-allow-dir.XXXXXX", sizeof(dir));
	if (mkdtemp(dir) == NULL)
		exit(99);
	chmod(dir, 0755);
	test_cond("a directory: refused, not a regular file",
	    load(dir, me) == NULL && strstr(err, "not a regular file") !=
	    NULL);
	rmdir(dir);
	test_cond("/dev/null: refused, not a regular file",
	    load("/dev/null", me) == NULL && strstr(err,
	    "not a regular file") != NULL);

	file(path, "ok\n\n'oops\n", 10, 0644);
	test_cond("a bad rule in a file: the file and its line",
	    load(path, me) == NULL && strstr(err, path) != NULL &&
	    strstr(err, "line 3: unterminated ' quote") != NULL);
	unlink(path);

	file(path, "", 0, 0644);
	a = load(path, me);
	test_cond("an empty file loads, with no rules",
	    a != NULL && allow_rules(a) == 0 && allow_match(a, "x") == 0);
	allow_free(a);
	unlink(path);

	big = xcalloc(1, ALLOW_FILE_MAX + 1);
	memset(big, '\n', ALLOW_FILE_MAX + 1);
	file(path, big, ALLOW_FILE_MAX + 1, 0644);
	test_cond("a file over ALLOW_FILE_MAX: refused",
	    load(path, me) == NULL && strstr(err, "larger than") != NULL);
	unlink(path);
	file(path, big, ALLOW_FILE_MAX, 0644);
	a = load(path, me);
	test_cond("ALLOW_FILE_MAX bytes load", a != NULL);
	allow_free(a);
	unlink(path);
	free(big);
}

/* What the server is told of a refused command (proto.c). */
static void
test_result(void)
{
	struct result	 r;
	const char	*why = "refused by WORKER_ALLOW_FILE (/etc/a): no rule "
	    "matches";
	char		*s;
	size_t		 len;

	memset(&r, 0, sizeof(r));
	r.command_id = "6f1c2a52-3b8e-4c1d-9a7e-0d2b5c4e8f11";
	r.execution_id = "0b5e7a3c-1d2f-4e6a-8b9c-7d1e2f3a4b5c";
	r.worker_id = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d";
	r.refused = 1;
	r.out[STREAM_STDERR].buf = why;
	r.out[STREAM_STDERR].len = r.out[STREAM_STDERR].total = strlen(why);
	r.out[STREAM_STDOUT].buf = "";
	test_cond("a refused result is not a success",
	    !proto_result_success(&r));
	s = proto_result(&r, WORKER_MSG_MAX, &len);
	test_cond("command_result: status refused, success false, no exit "
	    "code, the reason in stderr",
	    s != NULL && strstr(s, "\"status\":\"refused\"") != NULL &&
	    strstr(s, "\"success\":false") != NULL &&
	    strstr(s, "\"exit_code\":null") != NULL &&
	    strstr(s, "\"stderr\":\"refused by WORKER_ALLOW_FILE (\\/etc\\/a)") ==
	    NULL && strstr(s, "\"stderr\":\"refused by WORKER_ALLOW_FILE "
	    "(/etc/a): no rule matches\"") != NULL);
	free(s);
	r.refused = 0;
	s = proto_result(&r, WORKER_MSG_MAX, &len);
	test_cond("any other result has no status", s != NULL &&
	    strstr(s, "\"status\"") == NULL);
	free(s);
}

int
main(void)
{
	test_result();
	test_whole();
	test_star();
	test_any();
	test_quotes();
	test_escapes();
	test_classes();
	test_file();
	test_errors();
	test_load();
	test_report();
}
