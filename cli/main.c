/* gazette: the command-line companion of gazetted. */
#include <getopt.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "gazette/log.h"
#include "gazette/paths.h"

/* The list of commands, for --help and for usage errors. */
static void
usage(FILE *f)
{
	fputs("usage: gazette [--config FILE] [--db FILE] COMMAND [ARGS]\n"
	      "\ncommands:\n",
	      f);
	for (size_t i = 0; cmd_table[i]; i++)
		fprintf(f, "  %-8s %s\n", cmd_table[i]->name,
		        cmd_table[i]->summary);
	fputs("\n'gazette COMMAND --help' describes a command.\n", f);
}

/* Global options, then the command, which gets the rest. */
int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"config", required_argument, NULL, 'c'},
	        {"db", required_argument, NULL, 'd'},
	        {"help", no_argument, NULL, 'h'},
	        {"version", no_argument, NULL, 'V'},
	        {0},
	};
	struct cmd_ctx ctx = {0};
	struct paths paths = {0};
	const struct cmd_entry *e = NULL;
	char q[QUOTE_MAX];
	int c, r, first;

	setlocale(LC_ALL, "");
	log_init("gazette", LOG_LVL_WARN);
	opterr = 0;
	/* "+": stop at the command name; its options are its own. */
	while ((c = getopt_long(argc, argv, "+:c:d:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			ctx.config_path = optarg;
			ctx.config_given = true;
			break;
		case 'd':
			ctx.db_path = optarg;
			ctx.db_given = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			puts("gazette " GAZETTE_VERSION);
			return EXIT_OK;
		default:
			if (c == ':')
				cmd_error("option %s needs a value",
				          cmd_quote(argv[optind - 1], q));
			else
				cmd_error("unknown option %s",
				          cmd_quote(argv[optind - 1], q));
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (size_t i = 0; cmd_table[i]; i++)
		if (strcmp(cmd_table[i]->name, argv[optind]) == 0)
			e = cmd_table[i];
	if (e == NULL) {
		cmd_error("unknown command %s", cmd_quote(argv[optind], q));
		usage(stderr);
		return EXIT_USAGE;
	}

	r = paths_default(&paths);
	if (r < 0 && (!ctx.db_given || !ctx.config_given)) {
		cmd_error("cannot find the default paths: set HOME or "
		          "use --config and --db");
		return EXIT_ERR;
	}
	if (!ctx.config_path)
		ctx.config_path = paths.config;
	ctx.default_db = paths.db;
	ctx.socket_path = paths.socket;

	first = optind; /* the command's getopt starts afresh */
	cmd_getopt_reset();
	r = e->exec(&ctx, argc - first, argv + first);

	cmd_ctx_clear(&ctx);
	paths_clear(&paths);
	return r;
}
