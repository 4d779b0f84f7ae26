/*
 * Templates (common/template.c): the save-time checker with its offsets
 * and messages, the expander, the size limit, and the quoting, proven by
 * running /bin/sh on every expansion of a corpus of shell syntax and
 * comparing the bytes printed with the value.
 */
#include <sys/wait.h>

#include <json-c/json.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "params.h"
#include "pulse-limits.h"
#include "template.h"
#include "test.h"

/* Table rows: a source and what must come of it. */
struct row {
	const char	*desc, *a, *b;
};
struct crow {
	const char	*desc, *a;
};
struct frow {
	const char	*desc, *src;
	size_t		 off;
	const char	*msg;
};

static struct params *ps;

static int
check_ok(const char *src)
{
	struct template_err	 err;

	if (template_check(src, strlen(src), ps, 0, &err) == -1) {
		printf("# %s: at %zu: %s\n", src, err.off, err.msg);
		return 0;
	}
	return 1;
}

static int
check_fails(const char *src, size_t off, const char *msg)
{
	struct template_err	 err;

	if (template_check(src, strlen(src), ps, 0, &err) == 0) {
		printf("# accepted: %s\n", src);
		return 0;
	}
	if (err.off != off || strcmp(err.msg, msg) != 0) {
		printf("# %s\n#   got: %zu %s\n#  want: %zu %s\n", src, err.off,
		    err.msg, off, msg);
		return 0;
	}
	return 1;
}

static int
expands(struct json_object *r, const char *src, const char *want)
{
	struct template_err	 err;
	char			*out;
	size_t			 len;

	if (template_expand(src, strlen(src), r, "6f1c7c1e-1111-4222-8333-"
	    "444455556666", "alice", WF_COMMAND_MAX, &out, &len, &err) == -1) {
		printf("# %s: %s\n", src, err.msg);
		return 0;
	}
	if (strcmp(out, want) != 0 || strlen(out) != len) {
		printf("# %s\n#   got: %s\n#  want: %s\n", src, out, want);
		free(out);
		return 0;
	}
	free(out);
	return 1;
}

static void
test_check(void)
{
	char	 buf[512];

	{
		static const struct crow rows[] = {
			{ "plain text", "echo hi } { }} {x}" },
			{ "empty source", "" },
			{ "a parameter", "deploy {{ params.version }}" },
			{ "no spaces", "deploy {{params.version}}" },
			{ "many spaces and tabs", "{{ \t params.n \t }}" },
			{ "execution.id and started_by",
			    "{{execution.id}} {{ execution.started_by }}" },
			{ "adjacent", "{{params.n}}{{params.n}}" },
		};
		size_t	 r;

		for (r = 0; r < sizeof(rows) / sizeof(rows[0]); r++)
			test_cond(rows[r].desc,
			    check_ok(rows[r].a));
	}
	{
		static const struct frow rows[] = {
			{ "unknown parameter",
			    "echo {{ params.nope }}",
			    5,
			    "unknown parameter 'nope'" },
			{ "parameter names are case-sensitive",
			    "{{params.VERSION}}",
			    0,
			    "unknown parameter 'VERSION'" },
			{ "unknown root",
			    "x {{ env.HOME }}",
			    2,
			    "unknown name 'env.HOME' (params.NAME, "
			    "execution.id or execution.started_by)" },
			{ "unknown execution member",
			    "{{ execution.status }}",
			    0,
			    "unknown name 'execution.status' (params.NAME, "
			    "execution.id or execution.started_by)" },
			{ "a bare name",
			    "{{ version }}",
			    0,
			    "unknown name 'version' (params.NAME, "
			    "execution.id or execution.started_by)" },
			{ "params with nothing after the dot",
			    "{{ params. }}",
			    0,
			    "'params.' is not params.NAME with NAME an "
			    "identifier" },
			{ "params.a.b",
			    "{{ params.a.b }}",
			    0,
			    "'params.a.b' is not params.NAME with NAME an "
			    "identifier" },
			{ "params . n (spaces inside the path)",
			    "{{ params . n }}",
			    0,
			    "unknown name 'params . n' (params.NAME, "
			    "execution.id or execution.started_by)" },
			{ "unterminated",
			    "echo {{ params.n",
			    5,
			    "unterminated '{{' (no '}}' within 128 bytes)" },
			{ "unterminated at the very end",
			    "echo {{",
			    5,
			    "unterminated '{{' (no '}}' within 128 bytes)" },
			{ "one brace is not a close",
			    "{{ params.n }",
			    0,
			    "unterminated '{{' (no '}}' within 128 bytes)" },
			{ "empty", "a {{}} b", 2, "empty '{{ }}'" },
			{ "blank", "a {{ \t }}", 2, "empty '{{ }}'" },
			{ "the first problem wins",
			    "{{params.n}} {{x}} {{",
			    13,
			    "unknown name 'x' (params.NAME, execution.id or "
			    "execution.started_by)" },
			{ "no escape: {{ \"{{\" }} is a template",
			    "{{ \"{{\" }}",
			    0,
			    "unknown name '\"{{\"' (params.NAME, "
			    "execution.id or execution.started_by)" },
			{ "control bytes and invalid UTF-8 quoted safely",
			    "{{ a\nb\xff }}",
			    0,
			    "unknown name 'a?b?' (params.NAME, execution.id "
			    "or execution.started_by)" },
			{ "a long name is cut",
			    "{{ abcdefghijabcdefghijabcdefghijabcdefghijXYZ }}",
			    0,
			    "unknown name 'abcdefghijabcdefghijabcdefghijabcd"
			    "efghij...' (params.NAME, execution.id or "
			    "execution.started_by)" },
		};
		size_t	 r;

		for (r = 0; r < sizeof(rows) / sizeof(rows[0]); r++)
			test_cond(rows[r].desc,
			    check_fails(rows[r].src, rows[r].off, rows[r].msg));
	}
	/* '}}' must come within PULSE_TEMPLATE_EXPR_MAX bytes. */
	memset(buf, ' ', sizeof(buf));
	memcpy(buf, "{{", 2);
	memcpy(buf + 2 + PULSE_TEMPLATE_EXPR_MAX - 8, "params.n", 8);
	memcpy(buf + 2 + PULSE_TEMPLATE_EXPR_MAX, "}}", 3);
	test_cond("128 bytes between the braces", check_ok(buf));
	memcpy(buf + 2 + PULSE_TEMPLATE_EXPR_MAX - 8, " params.n", 9);
	memcpy(buf + 3 + PULSE_TEMPLATE_EXPR_MAX, "}}", 3);
	test_cond("129 refused", check_fails(buf, 0,
	    "unterminated '{{' (no '}}' within 128 bytes)"));
	test_cond("with no params declared", template_check("{{params.n}}", 12,
	    NULL, 0, NULL) == -1 && template_check("{{execution.id}}", 16, NULL,
	    0, NULL) == 0);
}

static void
test_expand(void)
{
	struct json_object	*r;
	struct template_err	 err;
	char			*out, big[64];
	size_t			 len;

	r = json_tokener_parse("{\"version\":\"1.2\",\"n\":-5,\"ratio\":0.1,"
	    "\"dry\":true,\"off\":false,\"q\":\"it's a 'test'\",\"e\":\"\"}");
	test_cond("no templates: unchanged", expands(r, "echo } {", "echo } {"));
	test_cond("a string", expands(r, "deploy {{ params.version }} now",
	    "deploy '1.2' now"));
	test_cond("an integer", expands(r, "{{params.n}}", "'-5'"));
	test_cond("a number", expands(r, "{{params.ratio}}", "'0.1'"));
	test_cond("booleans", expands(r, "{{params.dry}} {{params.off}}",
	    "'true' 'false'"));
	test_cond("quotes", expands(r, "echo {{params.q}}",
	    "echo 'it'\\''s a '\\''test'\\'''"));
	test_cond("empty string", expands(r, "x{{params.e}}y", "x''y"));
	test_cond("absent parameter", expands(r, "x{{params.missing}}y",
	    "x''y"));
	test_cond("execution", expands(r, "{{execution.id}} by "
	    "{{ execution.started_by }}", "'6f1c7c1e-1111-4222-8333-"
	    "444455556666' by 'alice'"));
	test_cond("NULL resolved: every parameter absent", expands(NULL,
	    "a{{params.version}}b", "a''b"));
	test_cond("adjacent", expands(r, "{{params.n}}{{params.n}}",
	    "'-5''-5'"));
	test_cond("expand refuses what check refuses",
	    template_expand("{{ bad }}", 9, r, "id", "u", 100, &out, &len,
	    &err) == -1 && out == NULL && err.off == 0 &&
	    strncmp(err.msg, "unknown name", 12) == 0);
	test_cond("expand: unterminated", template_expand("ab {{", 5, r, "id",
	    "u", 100, &out, &len, &err) == -1 && err.off == 3);
	test_cond("NULL execution and user give ''", template_expand(
	    "{{execution.id}}{{execution.started_by}}", 40, r, NULL, NULL, 100,
	    &out, &len, &err) == 0 && strcmp(out, "''''") == 0);
	free(out);
	test_cond("exactly the limit", template_expand("ab{{params.n}}", 14, r,
	    "i", "u", 6, &out, &len, &err) == 0 && len == 6 &&
	    strcmp(out, "ab'-5'") == 0);
	free(out);
	test_cond("one past the limit", template_expand("ab{{params.n}}", 14,
	    r, "i", "u", 5, &out, &len, &err) == -1 && out == NULL &&
	    strcmp(err.msg, "expanded text longer than 5 bytes") == 0);
	test_cond("past the limit in the text after the last template",
	    template_expand("{{params.n}}abc", 15, r, "i", "u", 6, &out, &len,
	    &err) == -1);
	memset(big, 'x', sizeof(big));
	test_cond("a source with no NUL terminator", template_expand(big,
	    sizeof(big), r, "i", "u", 64, &out, &len, &err) == 0 && len == 64 &&
	    out[64] == '\0');
	free(out);
	test_cond("bytes after a NUL in the source are kept", template_expand(
	    "a\0{{params.n}}", 14, r, "i", "u", 100, &out, &len, &err) == 0 &&
	    len == 6 && memcmp(out, "a\0'-5'", 6) == 0);
	free(out);
	json_object_put(r);

	test_cond("quote: plain", template_quote(NULL, "abc", 3) == 5);
	test_cond("quote: empty", template_quote(NULL, "", 0) == 2);
	test_cond("quote: one quote is 6 bytes", template_quote(NULL, "'", 1)
	    == 6);
	{
		char	 q[16];
		size_t	 n = template_quote(q, "a'b", 3);

		test_cond("quote: a'b", n == 8 && memcmp(q, "'a'\\''b'", 8) == 0);
	}
}

/* The shell run_sh() runs: /bin/sh, then bash too where there is one. */
static const char *shell = "/bin/sh";

/*
 * Run shell -c cmd, with stdout captured: the bytes printed, and what
 * $# was (the harness prints it on stderr, kept apart).
 */
static int
run_sh(const char *cmd, char **outp, size_t *outlen)
{
	int	 fd[2], status;
	pid_t	 pid;
	char	*buf = NULL;
	size_t	 len = 0, cap = 0;
	ssize_t	 n;

	if (pipe(fd) == -1)
		return -1;
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		close(fd[0]);
		dup2(fd[1], 1);
		execl(shell, shell, "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	for (;;) {
		if (len + 4096 > cap) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap);
		}
		n = read(fd[0], buf + len, cap - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd[0]);
	if (waitpid(pid, &status, 0) == -1 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		free(buf);
		return -1;
	}
	*outp = buf;
	*outlen = len;
	return 0;
}

/*
 * The value v expanded into a real shell command, run: printf prints the
 * value's bytes exactly, and a second command shows the template was one
 * argument.
 */
static int
sh_roundtrip(const char *v, size_t vlen)
{
	struct json_object	*r = json_object_new_object();
	struct template_err	 err;
	const char		*srcs[2] = {
		"printf %s {{ params.v }}",
		"set -- {{params.v}}; printf %s $#",
	};
	char			*cmd, *got;
	size_t			 len, glen;
	int			 ok = 1, i;

	json_object_object_add(r, "v", json_object_new_string_len(v,
	    (int)vlen));
	for (i = 0; i < 2 && ok; i++) {
		if (template_expand(srcs[i], strlen(srcs[i]), r, "id", "u",
		    WF_COMMAND_MAX, &cmd, &len, &err) == -1) {
			printf("# expand: %s\n", err.msg);
			ok = 0;
			break;
		}
		if (run_sh(cmd, &got, &glen) == -1) {
			printf("# sh failed: %s\n", cmd);
			ok = 0;
		} else if (i == 0 && (glen != vlen || memcmp(got, v, vlen))) {
			printf("# sh printed %zu bytes for %zu: %s\n", glen, vlen,
			    cmd);
			ok = 0;
		} else if (i == 1 && (glen != 1 || got[0] != '1')) {
			printf("# not one argument: %s\n", cmd);
			ok = 0;
		}
		if (ok)
			free(got);
		free(cmd);
	}
	json_object_put(r);
	return ok;
}

static void
test_shell(void)
{
	static const char *const corpus[] = {
		"", "plain", "two words", "it's", "''", "'", "\"", "\"'\"",
		"`id`", "$(id)", "$HOME", "${HOME}", "$((1+2))", "a;b", "a|b",
		"a&b", "a&&b||c", "line1\nline2", "\n", "\ttab\t", "* ? [a-z]",
		"~", "~root", "\\", "\\'", "'\\''", "a\\nb", "!", "#comment",
		"> /tmp/pulse-template-should-not-exist", "< /etc/passwd",
		"$(rm -rf /tmp/pulse-template-should-not-exist)", "%s %d %%",
		"-n", "--", "-e \\n", "{a,b}", "a=b", "()", "(", ")", "{", "}",
		"{{ params.v }}", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
		"\xe2\x80\x8b\xc2\xa0", "'$(id)'\"`id`\"", "\r\n", " leading",
		"trailing ", "   ", "a'b'c'd", "''''''''", "\x01\x02\x1f\x7f",
	};
	char	 buf[300], desc[64];
	size_t	 i, n;

	for (i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++) {
		snprintf(desc, sizeof(desc), "sh gives back corpus value %zu", i);
		test_cond(desc, sh_roundtrip(corpus[i], strlen(corpus[i])));
	}
	/* Every byte but NUL (a value never holds one) in one value. */
	for (i = 1, n = 0; i < 256; i++)
		buf[n++] = (char)i;
	test_cond("sh gives back bytes 1..255", sh_roundtrip(buf, n));
	test_cond("nothing wrote the file a value named",
	    access("/tmp/pulse-template-should-not-exist", F_OK) == -1);
}

/*
 * Templates in a sh command (TEMPLATE_SH): refused where the quoting
 * would not hold, and every command accepted really keeps a hostile value
 * one literal word when /bin/sh runs it.
 */
static char mark[64];

static const char *const hostile[] = {
	"$(touch MARK)", "`touch MARK`", "'; touch MARK; '", "\"; touch MARK; \"",
	"a\ntouch MARK", "}'\"$(touch MARK)\"{", "EOF\ntouch MARK\nEOF",
	"# x\ntouch MARK", "\\", "))", "'$((1+1))'", "$((1+1))", "${HOME}",
	"*", "~", "a b\tc", "'", "\"", "{{ params.v }}", "",
	"a[$(touch MARK)]", "x[`touch MARK`]",
};

/* value with MARK replaced by the marker file's path */
static size_t
hostile_value(size_t i, char *buf, size_t len)
{
	const char	*h = hostile[i], *m;
	size_t		 n;

	if ((m = strstr(h, "MARK")) == NULL)
		return (size_t)snprintf(buf, len, "%s", h);
	n = (size_t)(m - h);
	return (size_t)snprintf(buf, len, "%.*s%s%s", (int)n, h, mark, m + 4);
}

/* cmd (with V for the value) run by sh prints want with V the value. */
static int
sh_runs(const char *src, const char *want)
{
	struct json_object	*r;
	struct template_err	 err;
	char			 v[256], exp[1024], *cmd, *got;
	size_t			 i, len, glen, vlen, o, k;
	int			 ok = 1;

	if (template_check(src, strlen(src), ps, TEMPLATE_SH, &err) == -1) {
		printf("# refused: %s: at %zu: %s\n", src, err.off, err.msg);
		return 0;
	}
	for (i = 0; i < sizeof(hostile) / sizeof(hostile[0]) && ok; i++) {
		vlen = hostile_value(i, v, sizeof(v));
		for (k = o = 0; want[k] != '\0'; k++) {
			if (want[k] == 'V') {
				memcpy(exp + o, v, vlen);
				o += vlen;
			} else
				exp[o++] = want[k];
		}
		r = json_object_new_object();
		json_object_object_add(r, "v", json_object_new_string(v));
		if (template_expand(src, strlen(src), r, "id", "u", 4096, &cmd,
		    &len, &err) == -1 || run_sh(cmd, &got, &glen) == -1) {
			printf("# expand or sh failed: %s\n", src);
			ok = 0;
			json_object_put(r);
			break;
		}
		if (glen != o || memcmp(got, exp, o) != 0 ||
		    access(mark, F_OK) == 0) {
			printf("# %s: value %zu printed %.*s\n", cmd, i, (int)glen,
			    got);
			ok = 0;
		}
		unlink(mark);
		free(got);
		free(cmd);
		json_object_put(r);
	}
	return ok;
}

static void
test_sh(void)
{
	static const struct crow accepted[] = {
		{ "a bare word", "printf %s {{params.v}}" },
		{ "quotes elsewhere", "printf '%s|' {{params.v}} 'x'" },
		{ "inside $( )", "x=$(printf %s {{params.v}}); printf %s \"$x\"" },
		{ "in $( ) inside double quotes",
		    "x=\"$(printf %s {{params.v}}.)\"; printf %s \"${x%.}\"" },
		{ "glued to text", "printf %s a{{params.v}}b" },
		{ "before a comment", "printf %s {{params.v}} # note" },
		{ "after a here-document",
		    "cat <<EOF\nhi 'x\"\nEOF\nprintf %s {{params.v}}" },
		{ "after a let, in the next command",
		    "let x=1 2>/dev/null; printf %s {{params.v}}" },
		{ "a word that starts with let",
		    "letx=1; printf %s {{params.v}}" },
		{ "escaped quotes before it",
		    "printf %s \\' \\\" {{params.v}}" },
	};
	static const char *const accepted_out[] = {
		"V", "V|x|", "V", "V", "aVb", "V", NULL, "V", "V", "'\"V",
	};
	static const struct frow refused[] = {
		{ "single quotes", "echo '{{params.v}}'", 6,
		    "a template inside single quotes is not quoted safely: "
		    "write it bare, as a word of its own; its value is quoted "
		    "for you" },
		{ "double quotes", "echo \"a {{params.v}}\"", 8,
		    "a template inside double quotes is not quoted safely: "
		    "write it bare, as a word of its own; its value is quoted "
		    "for you" },
		{ "backquotes", "echo `echo {{params.v}}`", 11,
		    "a template inside backquotes is not quoted safely: write "
		    "it bare, as a word of its own; its value is quoted for "
		    "you" },
		{ "arithmetic", "echo $(( {{params.n}} + 1 ))", 9,
		    "a template inside $(( )) or (( )) is not quoted safely: "
		    "write it bare, as a word of its own; its value is quoted "
		    "for you" },
		{ "a here-document", "cat <<EOF\nx {{params.v}}\nEOF", 12,
		    "a template inside a here-document is not quoted safely: "
		    "write it bare, as a word of its own; its value is quoted "
		    "for you" },
		{ "a quoted here-document", "cat <<-'E F'\n\t{{params.v}}\n\tE F\n"
		    "echo {{params.v}}", 14,
		    "a template inside a here-document is not quoted safely: "
		    "write it bare, as a word of its own; its value is quoted "
		    "for you" },
		{ "(( ))", "(( {{params.n}} > 1 )) && echo", 3,
		    "a template inside $(( )) or (( )) is not quoted safely: "
		    "write it bare, as a word of its own; its value is quoted "
		    "for you" },
		{ "[[ ]]", "[[ {{params.n}} -eq 1 ]]", 3,
		    "a template inside [[ ]] is not quoted safely: write it "
		    "bare, as a word of its own; its value is quoted for you" },
		{ "let", "true; let x={{params.n}}+1", 12,
		    "a template inside let is not quoted safely: write it bare, "
		    "as a word of its own; its value is quoted for you" },
		{ "${ }", "echo ${a[{{params.n}}]}", 9,
		    "a template inside ${ } is not quoted safely: write it bare, "
		    "as a word of its own; its value is quoted for you" },
		{ "a comment", "echo hi # {{params.v}}", 10,
		    "a template inside a comment is not quoted safely: write it "
		    "bare, as a word of its own; its value is quoted for you" },
		{ "after a backslash", "echo \\{{params.v}}", 6,
		    "a template inside a backslash is not quoted safely: write "
		    "it bare, as a word of its own; its value is quoted for "
		    "you" },
		{ "after a $", "echo ${{params.v}}", 6,
		    "a template inside a '$' is not quoted safely: write it "
		    "bare, as a word of its own; its value is quoted for you" },
		{ "${ } inside double quotes", "echo \"${X:-{{params.v}}}\"", 11,
		    "a template inside double quotes is not quoted safely: "
		    "write it bare, as a word of its own; its value is quoted "
		    "for you" },
		{ "double quotes in $( ) in double quotes",
		    "echo \"$(echo \"{{params.v}}\")\"", 14,
		    "a template inside double quotes is not quoted safely: "
		    "write it bare, as a word of its own; its value is quoted "
		    "for you" },
		{ "a backslash in double quotes", "echo \"\\{{params.v}}\"", 7,
		    "a template inside a backslash is not quoted safely: write "
		    "it bare, as a word of its own; its value is quoted for "
		    "you" },
		{ "single quotes after a good one",
		    "echo {{params.v}} '{{params.v}}'", 19,
		    "a template inside single quotes is not quoted safely: "
		    "write it bare, as a word of its own; its value is quoted "
		    "for you" },
		{ "bash: for((", "for((i={{params.n}};i<1;i++)); do :; done", 7,
		    "a template inside $(( )) or (( )) is not quoted safely: "
		    "write it bare, as a word of its own; its value is quoted "
		    "for you" },
		{ "bash: while((", "while((i<{{params.n}})); do :; done", 9,
		    "a template inside $(( )) or (( )) is not quoted safely: "
		    "write it bare, as a word of its own; its value is quoted "
		    "for you" },
		{ "bash: if((", "if((1+{{params.n}})); then :; fi", 6,
		    "a template inside $(( )) or (( )) is not quoted safely: "
		    "write it bare, as a word of its own; its value is quoted "
		    "for you" },
		{ "bash: {((", "{((n={{params.n}}));}", 5,
		    "a template inside $(( )) or (( )) is not quoted safely: "
		    "write it bare, as a word of its own; its value is quoted "
		    "for you" },
		{ "bash: f(){((", "f(){((n={{params.n}}));}", 8,
		    "a template inside $(( )) or (( )) is not quoted safely: "
		    "write it bare, as a word of its own; its value is quoted "
		    "for you" },
		{ "bash: $[ ]", "echo $[{{params.n}}]", 7,
		    "a template inside $[ ] is not quoted safely: write it bare, "
		    "as a word of its own; its value is quoted for you" },
		{ "bash: an assignment's subscript", "a[{{params.n}}]=1", 2,
		    "a template inside [ ] (bash reads a subscript as arithmetic) "
		    "is not quoted safely: write it bare, as a word of its own; "
		    "its value is quoted for you" },
		{ "bash: read into a subscript", "read a[{{params.n}}] </dev/null", 7,
		    "a template inside [ ] (bash reads a subscript as arithmetic) "
		    "is not quoted safely: write it bare, as a word of its own; "
		    "its value is quoted for you" },
		{ "bash: printf -v a subscript", "printf -v a[x{{params.n}}] %s 1", 13,
		    "a template inside [ ] (bash reads a subscript as arithmetic) "
		    "is not quoted safely: write it bare, as a word of its own; "
		    "its value is quoted for you" },
	};
	struct template_err	 err;
	char			 desc[128];
	size_t			 i, k;

	snprintf(mark, sizeof(mark), "/tmp/pulse-test-template-%d",
	    (int)getpid());
	for (k = 0; k < 2; k++) {
		shell = k == 0 ? "/bin/sh" : "/bin/bash";
		if (access(shell, X_OK) == -1) {
			printf("# no %s here\n", shell);
			continue;
		}
		for (i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
			snprintf(desc, sizeof(desc), "%s: %s: accepted, every "
			    "hostile value kept one word", shell,
			    accepted[i].desc);
			test_cond(desc, sh_runs(accepted[i].a,
			    accepted_out[i] != NULL ? accepted_out[i] :
			    "hi 'x\"\nV"));
		}
	}
	shell = "/bin/sh";
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		memset(&err, 0, sizeof(err));
		snprintf(desc, sizeof(desc), "sh: refused in %s",
		    refused[i].desc);
		test_cond(desc, template_check(refused[i].src,
		    strlen(refused[i].src), ps, TEMPLATE_SH, &err) == -1 &&
		    err.off == refused[i].off &&
		    strcmp(err.msg, refused[i].msg) == 0);
		if (err.off != refused[i].off ||
		    strcmp(err.msg, refused[i].msg) != 0)
			printf("#   got %zu: %s\n", err.off, err.msg);
		test_cond("... and accepted without TEMPLATE_SH",
		    template_check(refused[i].src, strlen(refused[i].src), ps,
		    0, NULL) == 0);
	}
	/* Why: in double quotes a value runs. */
	{
		struct json_object	*r = json_object_new_object();
		char			*cmd, *got = NULL;
		size_t			 len, glen = 0;

		json_object_object_add(r, "v",
		    json_object_new_string("$(echo RAN)"));
		test_cond("sh: why double quotes are refused: the value runs",
		    template_expand("printf %s \"{{params.v}}\"", 24, r, "i",
		    "u", 4096, &cmd, &len, &err) == 0 &&
		    run_sh(cmd, &got, &glen) == 0 && glen == 5 &&
		    memcmp(got, "'RAN'", 5) == 0);
		free(got);
		free(cmd);
		json_object_put(r);
	}
}

int
main(void)
{
	struct json_object	*o;
	struct fielderr	 err;

	o = json_tokener_parse("[{\"name\":\"version\",\"type\":\"string\"},"
	    "{\"name\":\"n\",\"type\":\"integer\"},"
	    "{\"name\":\"v\",\"type\":\"string\"}]");
	if (params_from_json(o, &ps, &err) == -1) {
		printf("Bail out! %s\n", err.msg);
		return 1;
	}
	json_object_put(o);
	test_check();
	test_expand();
	test_shell();
	test_sh();
	params_free(ps);
	test_report();
}
