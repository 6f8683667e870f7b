/* gazette show ID: one story, its feeds and links, its content as text. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "gazette/date.h"
#include "gazette/html.h"
#include "gazette/store.h"

/* What showing needs besides the story. */
struct show {
	unsigned width;
	int err;
};

/* A header line "Name:  value", the value cleaned for the terminal. */
static void
header(const char *name, const char *value)
{
	char *v;

	if (value == NULL || *value == '\0')
		return;
	v = cmd_clean(value);
	printf("%-10s%s\n", name, v);
	free(v);
}

/* Print the story. */
static int
show_story(const struct store_story *st, void *arg)
{
	struct show *sh = arg;
	const char *body =
	        st->content && *st->content ? st->content : st->summary;
	char date[DATE_RFC3339_LEN];
	char id[96], *text = NULL;

	snprintf(id, sizeof(id), "%" PRId64 "%s%s%s", st->id,
	         st->read ? "" : " (unread)", st->starred ? " (starred)" : "",
	         st->changed ? " (updated)" : "");
	header("Title:", st->title && *st->title ? st->title : "(untitled)");
	header("Story:", id);
	for (size_t i = 0; i < st->n_feeds; i++) {
		char feed[64];
		char *t = cmd_clean(st->feed_titles[i]);

		snprintf(feed, sizeof(feed), " (feed %" PRId64 ")",
		         st->feed_ids[i]);
		printf("%-10s%s%s\n", i ? "" : "Feeds:", t, feed);
		free(t);
	}
	header("Link:", st->link);
	header("Author:", st->author);
	if (st->published != GZ_NO_DATE) {
		date_format(st->published, date);
		header("Date:", date);
	}
	if (st->updated != GZ_NO_DATE) {
		date_format(st->updated, date);
		header("Updated:", date);
	}
	if (body && *body) {
		sh->err = html_to_text(body, strlen(body), sh->width, &text);
		if (sh->err < 0)
			return sh->err;
		/* the rendering keeps newlines; clean the rest line by line */
		putchar('\n');
		for (char *line = text, *nl; *line; line = nl + 1) {
			char *c;

			nl = strchr(line, '\n');
			if (nl == NULL)
				nl = line + strlen(line) - 1;
			else
				*nl = '\0';
			c = cmd_clean(line);
			puts(c);
			free(c);
		}
		free(text);
	}
	return 0;
}

/* gazette show ID. */
static int
show_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	        {"width", required_argument, NULL, 'w'},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	struct show sh = {0};
	char q[QUOTE_MAX];
	struct store *s;
	int64_t id, w = 0;
	int c, r;

	while ((c = getopt_long(argc, argv, ":w:h", opts, NULL)) != -1) {
		switch (c) {
		case 'w':
			if (!cmd_parse_count(optarg, 10000, &w))
				return cmd_usage_error(
				        &cmd_show,
				        "--width wants a number, not %s",
				        cmd_quote(optarg, q));
			break;
		case 'h':
			return cmd_help(&cmd_show);
		default:
			return cmd_bad_option(&cmd_show, argv, c);
		}
	}
	if (argc - optind != 1)
		return cmd_usage_error(&cmd_show, "one story id, please");
	if (!cmd_parse_id(argv[optind], &id))
		return cmd_usage_error(&cmd_show, "%s is not a story id",
		                       cmd_quote(argv[optind], q));
	if (w == 0) {
		w = cmd_is_tty() ? cmd_term_width() : 72;
		if (w > 100)
			w = 100;
	}
	sh.width = (unsigned)w;
	s = cmd_store(ctx);
	if (s == NULL)
		return EXIT_ERR;
	r = store_story_get(s, id, show_story, &sh);
	if (r == -ENOENT) {
		cmd_error("no story %" PRId64, id);
		return EXIT_ERR;
	}
	if (r < 0) {
		cmd_error("cannot show story %" PRId64 ": %s", id,
		          sh.err ? strerror(-sh.err) : store_errmsg(s));
		return EXIT_ERR;
	}
	return fflush(stdout) == 0 ? EXIT_OK : EXIT_ERR;
}

const struct cmd_entry cmd_show = {
        .name = "show",
        .usage = "[--width N] ID",
        .summary = "show one story with its content as text",
        .help = "  --width N   wrap the text at N columns (default: the "
                "terminal's, at most 100; 72 when piped)\n",
        .exec = show_exec,
};
