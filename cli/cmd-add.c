/* gazette add URL: subscribe, finding the feed of a web page. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "gazette/config.h"
#include "gazette/html.h"
#include "gazette/parse.h"
#include "gazette/store.h"
#include "gazette/url.h"
#include "poll.h"

#define MAX_MIRRORS 15

/* What fetching a URL gave: a feed, or the page's body to search. */
struct fetched {
	struct poll_fetched got;
	struct gz_feed *feed; /* NULL when the body is not a feed */
};

/* Fetch url and parse it; EXIT_OK, or EXIT_ERR after saying why. */
static int
fetch(const struct config *cfg, const char *url, const char *proxy,
      struct fetched *ret)
{
	struct gz_parser_opts opts = {0};
	char q[QUOTE_MAX], *err = NULL;
	int r;

	memset(ret, 0, sizeof(*ret));
	r = poll_fetch_url(cfg, url, proxy, &ret->got, &err);
	if (r < 0) {
		cmd_error("cannot fetch %s: %s", cmd_quote(url, q),
		          err ? err : strerror(-r));
		free(err);
		return EXIT_ERR;
	}
	if (ret->got.status != 200) {
		cmd_error("cannot fetch %s: HTTP status %d", cmd_quote(url, q),
		          ret->got.status);
		poll_fetched_clear(&ret->got);
		return EXIT_ERR;
	}
	opts.base_url = ret->got.final_url ? ret->got.final_url : url;
	opts.content_type = ret->got.content_type;
	r = gz_parse_buffer(ret->got.body, ret->got.len, &opts, &ret->feed);
	if (r < 0 || !ret->feed->is_feed) {
		gz_feed_free(ret->feed);
		ret->feed = NULL;
	}
	return EXIT_OK;
}

/* Free what fetch() kept. */
static void
fetched_clear(struct fetched *f)
{
	poll_fetched_clear(&f->got);
	gz_feed_free(f->feed);
	memset(f, 0, sizeof(*f));
}

/*
 * url is a web page: pick its feed link (the only one, or --pick N),
 * fetch it into *f and its address into *ret_url.
 */
static int
discover(const struct config *cfg, const char *url, const char *proxy,
         int64_t pick, struct fetched *f, char **ret_url)
{
	const char *base = f->got.final_url ? f->got.final_url : url;
	struct html_feed_link *v = NULL;
	char q[QUOTE_MAX];
	size_t n = 0, i;
	int r;

	r = html_feed_links(f->got.body, f->got.len, base, &v, &n);
	if (r < 0) {
		cmd_error("cannot read %s: %s", cmd_quote(url, q),
		          strerror(-r));
		return EXIT_ERR;
	}
	if (n == 0) {
		cmd_error("%s is not a feed, and links to no feed: nothing "
		          "added",
		          cmd_quote(url, q));
		html_feed_links_free(v, n);
		return EXIT_ERR;
	}
	if (n > 1 && pick == 0) {
		cmd_error("%s links to %zu feeds: choose one with --pick N",
		          cmd_quote(url, q), n);
		for (i = 0; i < n; i++) {
			char *href = cmd_clean(v[i].href);
			char *title = v[i].title ? cmd_clean(v[i].title) : NULL;

			fprintf(stderr, "  %zu  %s%s%s%s\n", i + 1, href,
			        title ? "  (" : "", title ? title : "",
			        title ? ")" : "");
			free(href);
			free(title);
		}
		html_feed_links_free(v, n);
		return EXIT_ERR;
	}
	if (pick > (int64_t)n) {
		cmd_error("--pick %" PRId64 ": %s links to %zu feed%s", pick,
		          cmd_quote(url, q), n, n == 1 ? "" : "s");
		html_feed_links_free(v, n);
		return EXIT_ERR;
	}
	i = pick ? (size_t)(pick - 1) : 0;
	*ret_url = v[i].href;
	v[i].href = NULL;
	html_feed_links_free(v, n);
	fetched_clear(f);
	r = fetch(cfg, *ret_url, proxy, f);
	if (r != EXIT_OK)
		return r;
	if (f->feed == NULL) {
		char q2[QUOTE_MAX];

		cmd_error("%s, linked from %s, is not a feed: nothing added",
		          cmd_quote(*ret_url, q), cmd_quote(url, q2));
		return EXIT_ERR;
	}
	return EXIT_OK;
}

/* Subscribe and keep what the fetch brought. */
static int
subscribe(struct cmd_ctx *ctx, const struct store_feed_spec *spec,
          const struct gz_feed *feed)
{
	struct store_merge_result res = {0};
	char q[QUOTE_MAX];
	struct store *s = cmd_store(ctx);
	int64_t id;
	int r;

	if (s == NULL)
		return EXIT_ERR;
	r = store_feed_add(s, spec, &id);
	if (r < 0) {
		cmd_error("cannot add %s: %s", cmd_quote(spec->urls[0], q),
		          store_errmsg(s));
		return EXIT_ERR;
	}
	if (r == 0) {
		printf("already subscribed: feed %" PRId64 "\n", id);
		return EXIT_OK;
	}
	if (feed->title && *feed->title)
		store_feed_set_parsed_title(s, id, feed->title);
	/* the stories the fetch brought, so that they show at once */
	if (store_merge(s, id, 0, feed, cmd_now(), &res) < 0)
		cmd_error("feed %" PRId64 " added, but its stories were not "
		          "stored: %s",
		          id, store_errmsg(s));
	printf("added feed %" PRId64 " %s: %d stories\n", id,
	       cmd_quote(spec->title                   ? spec->title
	                 : feed->title && *feed->title ? feed->title
	                                               : spec->urls[0],
	                 q),
	       res.new_stories);
	return EXIT_OK;
}

/* gazette add URL [--mirror URL]... [--proxy URL] [--title T] ... */
static int
add_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	        {"mirror", required_argument, NULL, 'm'},
	        {"proxy", required_argument, NULL, 'p'},
	        {"title", required_argument, NULL, 't'},
	        {"interval", required_argument, NULL, 'i'},
	        {"pick", required_argument, NULL, 'P'},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	const char *urls[MAX_MIRRORS + 1], *proxies[MAX_MIRRORS + 1] = {0};
	const char *title = NULL, *proxy = NULL, *url;
	struct store_feed_spec spec = {0};
	struct fetched f = {0};
	struct config *cfg;
	char q[QUOTE_MAX], *found = NULL;
	int64_t interval = 0, pick = 0;
	size_t n_mirrors = 0;
	int c, r;

	while ((c = getopt_long(argc, argv, ":m:p:t:i:P:h", opts, NULL)) !=
	       -1) {
		switch (c) {
		case 'm':
			if (n_mirrors == MAX_MIRRORS)
				return cmd_usage_error(&cmd_add,
				                       "at most %d mirrors",
				                       MAX_MIRRORS);
			if (!url_is_http(optarg))
				return cmd_usage_error(
				        &cmd_add,
				        "--mirror %s is not an http or https "
				        "URL",
				        cmd_quote(optarg, q));
			urls[1 + n_mirrors++] = optarg;
			break;
		case 'p':
			proxy = optarg;
			break;
		case 't':
			title = optarg;
			break;
		case 'i':
			if (config_parse_duration(optarg, &interval) < 0 ||
			    interval <= 0)
				return cmd_usage_error(
				        &cmd_add,
				        "--interval wants a duration (15m, "
				        "2h), not %s",
				        cmd_quote(optarg, q));
			break;
		case 'P':
			if (!cmd_parse_count(optarg, HTML_MAX_FEED_LINKS,
			                     &pick))
				return cmd_usage_error(
				        &cmd_add,
				        "--pick wants a number, not %s",
				        cmd_quote(optarg, q));
			break;
		case 'h':
			return cmd_help(&cmd_add);
		default:
			return cmd_bad_option(&cmd_add, argv, c);
		}
	}
	if (argc - optind != 1)
		return cmd_usage_error(&cmd_add, "one URL, please");
	url = argv[optind];
	if (!url_is_http(url)) {
		cmd_error("%s is not an http or https URL", cmd_quote(url, q));
		return EXIT_ERR;
	}
	if (title && *title == '\0')
		return cmd_usage_error(&cmd_add, "the title is empty");
	cfg = cmd_config(ctx);
	if (cfg == NULL)
		return EXIT_ERR;
	r = fetch(cfg, url, proxy, &f);
	if (r != EXIT_OK)
		return r;
	if (f.feed == NULL) {
		r = discover(cfg, url, proxy, pick, &f, &found);
		if (r != EXIT_OK)
			goto out;
		url = found;
	}
	urls[0] = url;
	proxies[0] = proxy;
	spec.title = title;
	spec.interval = interval;
	spec.n_urls = 1 + n_mirrors;
	spec.urls = urls;
	spec.proxies = proxies;
	r = subscribe(ctx, &spec, f.feed);
out:
	fetched_clear(&f);
	free(found);
	return r;
}

const struct cmd_entry cmd_add = {
        .name = "add",
        .usage = "[--mirror URL]... [--proxy URL] [--title TITLE] "
                 "[--interval DURATION] [--pick N] URL",
        .summary = "subscribe to a feed, or to the feed a web page links to",
        .help = "  --mirror URL      another address of the same feed "
                "(repeatable, tried in order)\n"
                "  --proxy URL       reach URL through this proxy "
                "(socks5h://127.0.0.1:9050)\n"
                "  --title TITLE     your title, instead of the feed's\n"
                "  --interval D      poll every D (15m, 2h, 1d)\n"
                "  --pick N          the page links to several feeds: take the "
                "Nth\n",
        .exec = add_exec,
};
