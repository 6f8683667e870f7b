/* The command table and what the commands share. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"

/* Every command, in the order `gazette --help` lists them. */
const struct cmd_entry *const cmd_table[] = {
	NULL,
};

/* Print "gazette: " and the message to stderr. */
void
cmd_error(const char *fmt, ...)
{
	va_list ap;

	fputs("gazette: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
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
	opterr = 1;
}
