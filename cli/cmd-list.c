/* gazette list: stories, newest first, as a table, tab-separated or JSON. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "gazette/date.h"
#include "gazette/export.h"
#include "gazette/html.h"
#include "gazette/store.h"
#include "gazette/xalloc.h"

#define C_RESET "\033[0m"
#define C_BOLD  "\033[1m"
#define C_DIM   "\033[2m"
#define C_CYAN  "\033[36m"
#define C_YEL   "\033[33m"

/* How stories are printed, and the layout of the table. */
struct printer {
	FILE *f;
	bool json, table, color, utf8;
	struct export *x;
	int64_t now;
	unsigned width;      /* terminal columns */
	unsigned id_w;       /* columns of the id column */
	unsigned feed_w;     /* columns of the feeds column */
	struct cmd_ids *ids; /* what was printed, when asked */
	int err;
	/* a limited listing is gathered first, to fit the columns to it */
	bool gather;
	struct row *rows;
	size_t n_rows;
};

/* Listings up to this many stories are fitted to their own rows. */
#define GATHER_MAX 1000

/* Digits of n. */
static unsigned
digits(int64_t n)
{
	unsigned d = 1;

	while (n >= 10) {
		n /= 10;
		d++;
	}
	return d;
}

/* A date relative to now for the table: "5m ago", "3h ago", "2d ago". */
static void
relative(int64_t t, int64_t now, char *buf, size_t size)
{
	int64_t d = now - t;

	if (t == GZ_NO_DATE) {
		snprintf(buf, size, "-");
	} else if (d < 60) {
		snprintf(buf, size, "now");
	} else if (d < 3600) {
		snprintf(buf, size, "%" PRId64 "m ago", d / 60);
	} else if (d < 86400) {
		snprintf(buf, size, "%" PRId64 "h ago", d / 3600);
	} else if (d < 30 * 86400) {
		snprintf(buf, size, "%" PRId64 "d ago", d / 86400);
	} else {
		time_t tt = (time_t)t;
		struct tm tm;

		if (localtime_r(&tt, &tm))
			strftime(buf, size, "%Y-%m-%d", &tm);
		else
			snprintf(buf, size, "-");
	}
}

/* The feeds of a story joined with ", ", cleaned for the terminal. */
static char *
feeds_of(const struct store_story *st)
{
	size_t n = 1;
	char *s, *c;

	for (size_t i = 0; i < st->n_feeds; i++)
		n += strlen(st->feed_titles[i] ? st->feed_titles[i] : "") + 2;
	s = xmalloc(n);
	s[0] = '\0';
	for (size_t i = 0; i < st->n_feeds; i++) {
		if (i)
			strcat(s, ", ");
		strcat(s, st->feed_titles[i] ? st->feed_titles[i] : "");
	}
	c = cmd_clean(s);
	free(s);
	return c;
}

/* Write s into exactly cols columns: cut with an ellipsis, or padded. */
static void
put_cell(struct printer *p, const char *s, unsigned cols, bool pad)
{
	size_t w = html_width(s), ell, k;

	if (w > cols) {
		ell = p->utf8 ? 1 : 3;
		if (ell > cols)
			ell = 0;
		k = html_fit(s, cols - ell);
		fwrite(s, 1, k, p->f);
		fputs(ell == 1 ? "\xe2\x80\xa6" : ell == 3 ? "..." : "", p->f);
		/* widths add up: what was written is the whole less the rest */
		w = w - html_width(s + k) + ell;
	} else {
		fputs(s, p->f);
	}
	if (pad)
		for (; w < cols; w++)
			fputc(' ', p->f);
}

/* What a table row shows of a story, cleaned for the terminal. */
struct row {
	int64_t id, published;
	bool read, starred;
	char *title, *feeds;
};

/* The row of a story. */
static void
row_make(struct row *r, const struct store_story *st)
{
	r->id = st->id;
	r->published = st->published;
	r->read = st->read;
	r->starred = st->starred;
	r->title =
	        cmd_clean(st->title && *st->title ? st->title : "(untitled)");
	r->feeds = feeds_of(st);
}

/* One story as a table row fitted to the width. */
static void
row_table(struct printer *p, const struct row *st)
{
	char date[32];
	unsigned used, rest;

	relative(st->published, p->now, date, sizeof(date));
	/* "ID  * DATE      FEEDS  TITLE" */
	fprintf(p->f, "%s%*" PRId64 "%s ", p->color ? C_DIM : "", (int)p->id_w,
	        st->id, p->color ? C_RESET : "");
	fprintf(p->f, "%s%c%s ", p->color && st->starred ? C_YEL : "",
	        st->starred ? '*' : (st->read ? ' ' : 'N'),
	        p->color && st->starred ? C_RESET : "");
	fprintf(p->f, "%s%-10s%s ", p->color ? C_DIM : "", date,
	        p->color ? C_RESET : "");
	used = p->id_w + 1 + 2 + 11;
	if (p->feed_w > 0) {
		fputs(p->color ? C_CYAN : "", p->f);
		put_cell(p, st->feeds, p->feed_w, true);
		fputs(p->color ? C_RESET : "", p->f);
		fputc(' ', p->f);
		used += p->feed_w + 1;
	}
	rest = p->width > used + 10 ? p->width - used : 10;
	if (p->color && !st->read)
		fputs(C_BOLD, p->f);
	put_cell(p, st->title, rest, false);
	if (p->color && !st->read)
		fputs(C_RESET, p->f);
	fputc('\n', p->f);
}

/* One story as a tab-separated line: id, date, flags, feeds, title, link. */
static void
row_tsv(struct printer *p, const struct store_story *st)
{
	char date[DATE_RFC3339_LEN] = "";
	char *title = cmd_clean(st->title ? st->title : "");
	char *link = cmd_clean(st->link ? st->link : "");
	char *feeds = feeds_of(st);
	char flags[4] = "", *fl = flags;

	if (st->published != GZ_NO_DATE)
		date_format(st->published, date);
	if (!st->read)
		*fl++ = 'N';
	if (st->starred)
		*fl++ = '*';
	if (fl == flags)
		*fl++ = '-';
	*fl = '\0';
	fprintf(p->f, "%" PRId64 "\t%s\t%s\t%s\t%s\t%s\n", st->id, date, flags,
	        feeds, title, link);
	free(title);
	free(link);
	free(feeds);
}

/* Print one story. */
static int
print_story(const struct store_story *st, void *arg)
{
	struct printer *p = arg;

	if (p->ids) {
		if (p->ids->n == p->ids->cap) {
			p->ids->cap = p->ids->cap ? p->ids->cap * 2 : 64;
			p->ids->v = xreallocarray(p->ids->v, p->ids->cap,
			                          sizeof(*p->ids->v));
		}
		p->ids->v[p->ids->n++] = st->id;
	}
	if (p->json) {
		p->err = export_story(p->x, st);
		return p->err;
	}
	if (p->table) {
		struct row r;

		row_make(&r, st);
		if (p->gather) {
			p->rows = xreallocarray(p->rows, p->n_rows + 1,
			                        sizeof(*p->rows));
			p->rows[p->n_rows++] = r;
			return 0;
		}
		row_table(p, &r);
		free(r.title);
		free(r.feeds);
	} else {
		row_tsv(p, st);
	}
	return ferror(p->f) ? -1 : 0;
}

/* The width of the feeds column: the longest title, within bounds. */
static unsigned
feed_column(struct store *s, unsigned width)
{
	struct store_feed **v = NULL;
	size_t n = 0, w = 0;

	if (store_feeds(s, &v, &n) < 0)
		return 16;
	for (size_t i = 0; i < n; i++) {
		size_t fw = v[i]->title ? html_width(v[i]->title) : 10;

		if (fw > w)
			w = fw;
	}
	store_feeds_free(v, n);
	if (w > width / 4)
		w = width / 4;
	if (w > 24)
		w = 24;
	return (unsigned)w;
}

/* Print stories as `list` does. */
int
list_print(struct cmd_ctx *ctx, struct store *s, const struct store_query *q,
           bool json, struct cmd_ids *printed)
{
	struct printer p = {
	        .f = stdout,
	        .json = json,
	        .table = !json && cmd_is_tty(),
	        .color = !json && cmd_use_color(),
	        .utf8 = cmd_utf8(),
	        .now = cmd_now(),
	        .ids = printed,
	};
	int r;

	(void)ctx;
	if (p.table) {
		int64_t max = 0;

		p.width = cmd_term_width();
		p.gather = q->limit > 0 && q->limit <= GATHER_MAX;
		if (!p.gather) {
			store_max_story_id(s, &max);
			p.id_w = digits(max);
			p.feed_w = feed_column(s, p.width);
		}
	}
	if (json &&
	    export_begin(stdout, EXPORT_JSON, NULL, p.now, 0, &p.x) < 0) {
		cmd_error("out of memory");
		return EXIT_ERR;
	}
	r = store_stories(s, q, print_story, &p);
	if (p.gather) {
		size_t fw = 0;

		for (size_t i = 0; i < p.n_rows; i++) {
			size_t w = html_width(p.rows[i].feeds);

			if (w > fw)
				fw = w;
			if (digits(p.rows[i].id) > p.id_w)
				p.id_w = digits(p.rows[i].id);
		}
		p.feed_w = (unsigned)(fw < 24 ? fw : 24);
		if (p.feed_w > p.width / 4)
			p.feed_w = p.width / 4;
		for (size_t i = 0; i < p.n_rows; i++) {
			row_table(&p, &p.rows[i]);
			free(p.rows[i].title);
			free(p.rows[i].feeds);
		}
		free(p.rows);
	}
	if (p.x) {
		if (export_end(p.x) < 0 && r >= 0)
			r = -EIO;
		export_free(p.x);
	}
	if (r < 0 && p.err == 0) {
		cmd_error("cannot list stories: %s", store_errmsg(s));
		return EXIT_ERR;
	}
	if (fflush(stdout) != 0 || ferror(stdout) || p.err) {
		cmd_error("cannot write the output");
		return EXIT_ERR;
	}
	return EXIT_OK;
}

/* gazette list [--new|--unread|--starred|--all] [filters] [--json]. */
static int
list_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	        {"new", no_argument, NULL, 'n'},
	        {"unread", no_argument, NULL, 'u'},
	        {"starred", no_argument, NULL, 's'},
	        {"all", no_argument, NULL, 'a'},
	        {"feed", required_argument, NULL, 'f'},
	        {"since", required_argument, NULL, 'S'},
	        {"search", required_argument, NULL, 'q'},
	        {"limit", required_argument, NULL, 'l'},
	        {"json", no_argument, NULL, 'j'},
	        {"peek", no_argument, NULL, 'p'},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	struct store_query q = {.flags = STORE_Q_UNREAD};
	const char *feed = NULL, *since = NULL;
	bool is_new = false, peek = false, json = false;
	struct cmd_ids shown = {0};
	char qb[QUOTE_MAX];
	struct store *s;
	int c, modes = 0, r;

	while ((c = getopt_long(argc, argv, ":nusaf:S:q:l:jph", opts, NULL)) !=
	       -1) {
		switch (c) {
		case 'n':
			is_new = true;
			q.flags = STORE_Q_NEW;
			modes++;
			break;
		case 'u':
			q.flags = STORE_Q_UNREAD;
			modes++;
			break;
		case 's':
			q.flags = STORE_Q_STARRED;
			modes++;
			break;
		case 'a':
			q.flags = 0;
			modes++;
			break;
		case 'f':
			feed = optarg;
			break;
		case 'S':
			since = optarg;
			break;
		case 'q':
			q.search = optarg;
			break;
		case 'l':
			if (!cmd_parse_count(optarg, INT32_MAX, &q.limit))
				return cmd_usage_error(
				        &cmd_list,
				        "--limit wants a positive number, "
				        "not %s",
				        cmd_quote(optarg, qb));
			break;
		case 'j':
			json = true;
			break;
		case 'p':
			peek = true;
			break;
		case 'h':
			return cmd_help(&cmd_list);
		default:
			return cmd_bad_option(&cmd_list, argv, c);
		}
	}
	if (optind < argc)
		return cmd_usage_error(&cmd_list, "unexpected argument %s",
		                       cmd_quote(argv[optind], qb));
	if (modes > 1)
		return cmd_usage_error(&cmd_list,
		                       "--new, --unread, --starred and --all "
		                       "exclude each other");
	if (peek && !is_new)
		return cmd_usage_error(&cmd_list, "--peek goes with --new");
	if (since && date_parse_user(since, cmd_now(), &q.since) < 0)
		return cmd_usage_error(&cmd_list,
		                       "--since wants a date (2024-05-01) or "
		                       "an age (3d, 12h), not %s",
		                       cmd_quote(since, qb));
	s = cmd_store(ctx);
	if (s == NULL)
		return EXIT_ERR;
	if (feed && cmd_feed_find(s, feed, &q.feed_id) != EXIT_OK)
		return EXIT_ERR;
	r = list_print(ctx, s, &q, json, is_new && !peek ? &shown : NULL);
	/* only what was printed stops being new */
	if (r == EXIT_OK && shown.n > 0 &&
	    store_new_seen(s, shown.v, shown.n) < 0) {
		cmd_error("cannot record the stories shown as seen: %s",
		          store_errmsg(s));
		r = EXIT_ERR;
	}
	free(shown.v);
	return r;
}

const struct cmd_entry cmd_list = {
        .name = "list",
        .usage = "[--new [--peek]|--unread|--starred|--all] [--feed FEED] "
                 "[--since DATE] [--search QUERY] [--limit N] [--json]",
        .summary = "list stories, newest first",
        .help = "  --new           stories no --new has printed yet\n"
                "  --peek          with --new: leave the cursor where it is\n"
                "  --unread        unread stories (the default)\n"
                "  --starred       starred stories\n"
                "  --all           every story\n"
                "  --feed FEED     only this feed (id, URL or title prefix)\n"
                "  --since DATE    published since DATE (2024-05-01, 3d, 12h)\n"
                "  --search QUERY  full-text search, best matches first\n"
                "  --limit N       at most N stories\n"
                "  --json          one JSON object per line\n",
        .exec = list_exec,
};
