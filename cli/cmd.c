/* The command table and what the commands share. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <langinfo.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "gazette/config.h"
#include "gazette/log.h"
#include "gazette/paths.h"
#include "gazette/store.h"
#include "gazette/utf8.h"
#include "gazette/xalloc.h"

/* Every command, in the order `gazette --help` lists them. */
/* clang-format off */
const struct cmd_entry *const cmd_table[] = {
	&cmd_feeds,
	&cmd_add,
	&cmd_remove,
	&cmd_mirror,
	&cmd_rename,
	&cmd_import,
	&cmd_export,
	&cmd_list,
	&cmd_show,
	&cmd_mark,
	&cmd_reindex,
	&cmd_purge,
	&cmd_search,
	&cmd_poll,
	&cmd_status,
	&cmd_parse,
	NULL,
};
/* clang-format on */

/* Print "gazette: " and the message to stderr. */
void
cmd_error(const char *fmt, ...)
{
	va_list ap;
	char *msg;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0) {
		fputs("gazette: out of memory\n", stderr);
		return;
	}
	/*
	 * What the user typed comes back in messages: bytes that are not
	 * UTF-8 and control characters are written as \xNN, whatever the
	 * message quoted or not.
	 */
	fputs("gazette: ", stderr);
	for (const char *p = msg; *p;) {
		size_t n = utf8_valid_len(p);

		if (n == 0 || (unsigned char)*p < 0x20 || *p == 0x7f) {
			fprintf(stderr, "\\x%02x", (unsigned char)*p);
			p++;
		} else {
			fwrite(p, 1, n, stderr);
			p += n;
		}
	}
	fputc('\n', stderr);
	free(msg);
}

/* Print the usage line of a command. */
int
cmd_usage(const struct cmd_entry *e, FILE *f)
{
	fprintf(f, "usage: gazette %s %s\n", e->name, e->usage);
	return EXIT_USAGE;
}

/* The whole help of a command, on stdout. */
int
cmd_help(const struct cmd_entry *e)
{
	cmd_usage(e, stdout);
	printf("\n%s\n", e->summary);
	if (e->help && e->help[0])
		printf("\n%s", e->help);
	return EXIT_OK;
}

/* getopt_long keeps state between calls; each command starts afresh. */
void
cmd_getopt_reset(void)
{
	optind = 0;
	opterr = 0; /* cmd_bad_option says it, in our words */
}

/* Say which option getopt_long did not take. */
int
cmd_bad_option(const struct cmd_entry *e, char **argv, int c)
{
	char q[QUOTE_MAX];
	const char *arg = optind > 0 ? argv[optind - 1] : "";

	if (c == ':')
		cmd_error("%s: option %s needs a value", e->name,
		          cmd_quote(arg, q));
	else if (optopt)
		cmd_error("%s: unknown option '-%c'", e->name, optopt);
	else
		cmd_error("%s: unknown option %s", e->name, cmd_quote(arg, q));
	return cmd_usage(e, stderr);
}

/* A usage error with a message. */
int
cmd_usage_error(const struct cmd_entry *e, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "gazette: %s: ", e->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return cmd_usage(e, stderr);
}

/* The configuration, loaded once. */
struct config *
cmd_config(struct cmd_ctx *ctx)
{
	char *err = NULL;
	int r;

	if (ctx->config)
		return ctx->config;
	r = config_load(ctx->config_path,
	                ctx->config_given ? CONFIG_MUST_EXIST : 0, &ctx->config,
	                &err);
	if (r < 0) {
		if (err)
			cmd_error("%s", err);
		else
			cmd_error("cannot read '%s': %s",
			          ctx->config_path ? ctx->config_path
			                           : "the configuration",
			          strerror(-r));
		free(err);
		ctx->config = NULL;
		return NULL;
	}
	return ctx->config;
}

/* The store, opened on first use. */
struct store *
cmd_store(struct cmd_ctx *ctx)
{
	char q[QUOTE_MAX];
	char *err = NULL;
	int r;

	if (ctx->store)
		return ctx->store;
	if (!ctx->db_given) {
		struct config *c = cmd_config(ctx);

		if (c == NULL)
			return NULL;
		ctx->db_path = c->database ? c->database : ctx->default_db;
	}
	if (ctx->db_path == NULL) {
		cmd_error("no database: use --db FILE");
		return NULL;
	}
	if (access(ctx->db_path, F_OK) == 0) {
		/*
		 * An existing database is opened, never created: a reader
		 * who may not write it (a member of the system service's
		 * group, a read-only mount) still reads it.
		 */
		r = store_open(ctx->db_path, STORE_SYNC_FULL, &ctx->store,
		               &err);
		if (r == -EACCES || r == -EROFS || r == -EPERM) {
			free(err);
			err = NULL;
			r = store_open(ctx->db_path, STORE_READONLY,
			               &ctx->store, &err);
		}
	} else {
		/* A PostgreSQL URI names a server's database: no directory. */
		r = store_is_url(ctx->db_path)
		            ? 0
		            : paths_make_parent(ctx->db_path, 0700);
		if (r < 0) {
			cmd_error("cannot create the directory of %s: %s",
			          cmd_quote(ctx->db_path, q), strerror(-r));
			return NULL;
		}
		r = store_open(ctx->db_path, STORE_CREATE | STORE_SYNC_FULL,
		               &ctx->store, &err);
	}
	if (r < 0) {
		if (err)
			cmd_error("%s", err);
		else {
			char *shown = store_display(ctx->db_path);

			cmd_error("cannot open the database %s: %s",
			          cmd_quote(shown ? shown : "", q),
			          strerror(-r));
			free(shown);
		}
		free(err);
		ctx->store = NULL;
		return NULL;
	}
	return ctx->store;
}

/* Close what the context opened. */
void
cmd_ctx_clear(struct cmd_ctx *ctx)
{
	store_close(ctx->store);
	ctx->store = NULL;
	config_free(ctx->config);
	ctx->config = NULL;
}

/* FEED as the user names it. */
int
cmd_feed_find(struct store *s, const char *name, int64_t *ret)
{
	char q[QUOTE_MAX];
	int r = store_feed_find(s, name, ret);

	if (r == 0)
		return EXIT_OK;
	if (r == -ENOENT || r == -EINVAL)
		cmd_error("no feed %s (see 'gazette feeds')",
		          cmd_quote(name, q));
	else if (r == -EEXIST)
		cmd_error("%s matches several feeds: give more of the title "
		          "or the id",
		          cmd_quote(name, q));
	else
		cmd_error("cannot look up feed %s: %s", cmd_quote(name, q),
		          store_errmsg(s));
	return EXIT_ERR;
}

/* A positive integer up to max. */
bool
cmd_parse_count(const char *s, int64_t max, int64_t *ret)
{
	char *end;
	long long v;

	if (s == NULL || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v <= 0 || v > max)
		return false;
	*ret = v;
	return true;
}

/* A story id. */
bool
cmd_parse_id(const char *s, int64_t *ret)
{
	return cmd_parse_count(s, INT64_MAX, ret);
}

/* Quote user text for a message. */
const char *
cmd_quote(const char *s, char buf[QUOTE_MAX])
{
	return log_quote(s, buf, QUOTE_MAX);
}

/* Feed text made safe for a terminal. */
char *
cmd_clean(const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	char *out = xmalloc(strlen((const char *)p) + 1), *o = out;

	for (; *p; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			*o++ = ' ';
		} else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			/* a C1 control, U+0080..U+009F */
			*o++ = ' ';
			p++;
		} else {
			*o++ = (char)*p;
		}
	}
	*o = '\0';
	return out;
}

/* stdout is a terminal. */
bool
cmd_is_tty(void)
{
	return isatty(STDOUT_FILENO) == 1;
}

/* Colour only on a terminal, never with NO_COLOR, never on TERM=dumb. */
bool
cmd_use_color(void)
{
	const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");

	if (nc && *nc)
		return false;
	if (term && strcmp(term, "dumb") == 0)
		return false;
	return cmd_is_tty();
}

/* The terminal's width. */
unsigned
cmd_term_width(void)
{
	struct winsize ws;
	const char *cols = getenv("COLUMNS");
	int64_t n;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	if (cols && cmd_parse_count(cols, 10000, &n))
		return (unsigned)n;
	return 80;
}

/* The locale's character set is UTF-8. */
bool
cmd_utf8(void)
{
	const char *cs = nl_langinfo(CODESET);

	return cs && (strcmp(cs, "UTF-8") == 0 || strcmp(cs, "utf8") == 0);
}

/* The time now. */
int64_t
cmd_now(void)
{
	return (int64_t)time(NULL);
}

/* Open -o FILE (or stdout). */
int
cmd_output_open(const char *path, FILE **ret)
{
	char q[QUOTE_MAX];
	int fd;

	if (path == NULL || strcmp(path, "-") == 0) {
		*ret = stdout;
		return EXIT_OK;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd < 0 || (*ret = fdopen(fd, "w")) == NULL) {
		cmd_error("cannot write %s: %s", cmd_quote(path, q),
		          strerror(errno));
		if (fd >= 0)
			close(fd);
		return EXIT_ERR;
	}
	return EXIT_OK;
}

/* Flush and close the output; a failed one is removed. */
int
cmd_output_close(const char *path, FILE *f, bool ok)
{
	char q[QUOTE_MAX];
	bool to_file = f != stdout;
	int r = fflush(f);

	if (r != 0 || ferror(f)) {
		cmd_error("cannot write %s: %s",
		          to_file ? cmd_quote(path, q) : "the output",
		          strerror(errno ? errno : EIO));
		ok = false;
	}
	if (to_file && fclose(f) != 0 && ok) {
		cmd_error("cannot write %s: %s", cmd_quote(path, q),
		          strerror(errno));
		ok = false;
	}
	if (to_file && !ok)
		unlink(path);
	return ok ? EXIT_OK : EXIT_ERR;
}

/* Options of a command that takes only --help: -1 to go on, else a status. */
int
cmd_only_help(const struct cmd_entry *e, int argc, char **argv)
{
	static const struct option opts[] = {
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	int c;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (c == 'h')
			return cmd_help(e);
		return cmd_bad_option(e, argv, c);
	}
	return -1;
}
