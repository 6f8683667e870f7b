/* The CLI's commands: one cmd-NAME.c each, listed in cmd.c's table. */
#ifndef GAZETTE_CLI_CMD_H
#define GAZETTE_CLI_CMD_H

#include <stdbool.h>
#include <stdio.h>

struct store;

/* Exit statuses: DESIGN.md's "0 ok, 1 error, 2 usage". */
#define EXIT_OK	   0
#define EXIT_ERR   1
#define EXIT_USAGE 2

/* What every command gets: the global options, and lazily opened state. */
struct cmd_ctx {
	const char *config_path; /* --config, else the default */
	const char *db_path;	 /* --db, else the config's, else default */
	const char *socket_path; /* the daemon's control socket */
	bool config_given;	 /* --config was on the command line */
	bool db_given;		 /* --db was on the command line */
	struct store *store;	 /* see cmd_store() */
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

#endif
