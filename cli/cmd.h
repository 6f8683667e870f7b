/* The CLI's commands: one cmd-NAME.c each, listed in cmd.c's table. */
#ifndef GAZETTE_CLI_CMD_H
#define GAZETTE_CLI_CMD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct config;
struct store;
struct store_query;

/* Exit statuses: DESIGN.md's "0 ok, 1 error, 2 usage". */
#define EXIT_OK    0
#define EXIT_ERR   1
#define EXIT_USAGE 2

/* Room for one quoted piece of user text in a message. */
#define QUOTE_MAX 256

/* What every command gets: the global options, and lazily opened state. */
struct cmd_ctx {
	const char *config_path; /* --config, else the default */
	const char *db_path;     /* --db, else the config's, else default */
	const char *socket_path; /* the daemon's control socket */
	const char *default_db;  /* paths_default()'s database */
	bool config_given;       /* --config was on the command line */
	bool db_given;           /* --db was on the command line */
	struct store *store;     /* see cmd_store() */
	struct config *config;   /* see cmd_config() */
};

struct cmd_entry {
	const char *name;
	const char *usage;   /* the arguments after the name */
	const char *summary; /* one line for `gazette --help` */
	const char *help;    /* the options, one per line, for --help */
	/* argv[0] is the command name; returns an exit status. */
	int (*exec)(struct cmd_ctx *ctx, int argc, char **argv);
};

extern const struct cmd_entry *const cmd_table[];

/* Print "gazette: " and the message to stderr. */
void cmd_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print the usage of e to f; returns EXIT_USAGE for convenience. */
int cmd_usage(const struct cmd_entry *e, FILE *f);

/* --help for a command: full help on stdout, EXIT_OK. */
int cmd_help(const struct cmd_entry *e);

/* The main getopt_long loop prelude shared by commands: resets optind. */
void cmd_getopt_reset(void);

/*
 * What getopt_long returned that no case took ('?' or ':'): say which
 * option was wrong, print the usage, return EXIT_USAGE.
 */
int cmd_bad_option(const struct cmd_entry *e, char **argv, int c);

/* A usage error with a message: print it and the usage, EXIT_USAGE. */
int cmd_usage_error(const struct cmd_entry *e, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/*
 * The configuration (--config, or the default path; a missing default
 * file gives the defaults). NULL after printing the error.
 */
struct config *cmd_config(struct cmd_ctx *ctx);

/*
 * The store, opened (and created, with its directory 0700) on first use:
 * --db, else the configuration's `database`, else the default path.
 * NULL after printing the error.
 */
struct store *cmd_store(struct cmd_ctx *ctx);

/* Close what the context opened. */
void cmd_ctx_clear(struct cmd_ctx *ctx);

/*
 * FEED as the user names it (id, URL or unique title prefix) into *ret;
 * prints "no feed ..." or "... matches several feeds" and returns
 * EXIT_ERR when it cannot, else EXIT_OK.
 */
int cmd_feed_find(struct store *s, const char *name, int64_t *ret);

/* A positive integer argument of option opt, up to max. */
bool cmd_parse_count(const char *s, int64_t max, int64_t *ret);

/* A story id: a positive integer. */
bool cmd_parse_id(const char *s, int64_t *ret);

/* Quote user text for a message (log_quote into buf of QUOTE_MAX). */
const char *cmd_quote(const char *s, char buf[QUOTE_MAX]);

/*
 * Text from a feed made safe for a terminal: control characters (C0,
 * DEL, C1, so no escape sequences) become spaces. Newly allocated.
 */
char *cmd_clean(const char *s);

/* stdout is a terminal. */
bool cmd_is_tty(void);

/* Colour may be used: stdout is a terminal and NO_COLOR is not set. */
bool cmd_use_color(void);

/* The terminal's width in columns (80 when unknown). */
unsigned cmd_term_width(void);

/* The locale's character set is UTF-8. */
bool cmd_utf8(void);

/* The time now, seconds since the epoch. */
int64_t cmd_now(void);

/*
 * Open -o FILE for writing (stdout for NULL or "-"); cmd_output_close
 * flushes and closes it, removing a partial file on failure. Both
 * print their errors; EXIT_OK or EXIT_ERR.
 */
int cmd_output_open(const char *path, FILE **ret);
int cmd_output_close(const char *path, FILE *f, bool ok);

/* The ids of the stories a listing printed. */
struct cmd_ids {
	int64_t *v;
	size_t n, cap;
};

/*
 * Print stories as `list` does (table, tab-separated or JSON Lines); the
 * ids printed are added to *printed when it is not NULL (caller frees v).
 */
int list_print(struct cmd_ctx *ctx, struct store *s,
               const struct store_query *q, bool json, struct cmd_ids *printed);

extern const struct cmd_entry cmd_add;
extern const struct cmd_entry cmd_export;
extern const struct cmd_entry cmd_feeds;
extern const struct cmd_entry cmd_import;
extern const struct cmd_entry cmd_list;
extern const struct cmd_entry cmd_mark;
extern const struct cmd_entry cmd_mirror;
extern const struct cmd_entry cmd_parse;
extern const struct cmd_entry cmd_poll;
extern const struct cmd_entry cmd_purge;
extern const struct cmd_entry cmd_remove;
extern const struct cmd_entry cmd_rename;
extern const struct cmd_entry cmd_reindex;
extern const struct cmd_entry cmd_search;
extern const struct cmd_entry cmd_show;
extern const struct cmd_entry cmd_status;

/* Options of a command that takes only --help: -1 to go on, else a status. */
int cmd_only_help(const struct cmd_entry *e, int argc, char **argv);

#endif
