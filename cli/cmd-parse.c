/* gazette parse: print what gazette sees in a feed, as JSON. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cmd.h"
#include "gazette/date.h"
#include "gazette/parse.h"

/* declared in cmd.h too; here for the table-less build */
extern const struct cmd_entry cmd_parse;

#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

struct out {
	FILE *f;
	size_t n;
};

/* Add key: a string, or null when absent. */
static void
put_str(struct json_object *o, const char *key, const char *v)
{
	json_object_object_add(o, key, v ? json_object_new_string(v) : NULL);
}

/* Add key: an RFC 3339 date, or null. */
static void
put_date(struct json_object *o, const char *key, int64_t t)
{
	char buf[DATE_RFC3339_LEN];

	if (t == GZ_NO_DATE) {
		json_object_object_add(o, key, NULL);
		return;
	}
	date_format(t, buf);
	json_object_object_add(o, key, json_object_new_string(buf));
}

/* One entry as CONTRACT.md's JSON object. */
static struct json_object *
entry_json(const struct gz_entry *e)
{
	struct json_object *o = json_object_new_object(), *a;

	put_str(o, "id", e->id);
	put_str(o, "title", e->title);
	put_str(o, "link", e->link);
	a = json_object_new_array();
	for (size_t i = 0; i < e->n_links; i++) {
		struct json_object *l = json_object_new_object();
		put_str(l, "href", e->links[i].href);
		put_str(l, "rel", e->links[i].rel);
		put_str(l, "type", e->links[i].type);
		json_object_array_add(a, l);
	}
	json_object_object_add(o, "links", a);
	put_str(o, "summary", e->summary);
	put_str(o, "content", e->content);
	put_date(o, "published", e->published);
	put_date(o, "updated", e->updated);
	put_str(o, "author", e->author);
	a = json_object_new_array();
	for (size_t i = 0; i < e->n_categories; i++)
		json_object_array_add(a,
		                      json_object_new_string(e->categories[i]));
	json_object_object_add(o, "categories", a);
	a = json_object_new_array();
	for (size_t i = 0; i < e->n_enclosures; i++) {
		struct json_object *x = json_object_new_object();
		put_str(x, "url", e->enclosures[i].url);
		put_str(x, "type", e->enclosures[i].type);
		put_str(x, "length", e->enclosures[i].length);
		json_object_array_add(a, x);
	}
	json_object_object_add(o, "enclosures", a);
	return o;
}

/* The parser's callback: print the entry as it closes, then free it. */
static int
print_entry(struct gz_entry *e, void *arg)
{
	struct out *out = arg;
	struct json_object *o = entry_json(e);

	fprintf(out->f, "%s%s", out->n++ ? ",\n" : "\n",
	        json_object_to_json_string_ext(o, JSON_FLAGS));
	json_object_put(o);
	gz_entry_clear(e);
	return 0;
}

/* The feed (without entries) and the end of the document. */
static void
print_tail(FILE *f, const struct gz_feed *fd)
{
	struct json_object *o = json_object_new_object();

	put_str(o, "title", fd->title);
	put_str(o, "link", fd->link);
	put_str(o, "subtitle", fd->subtitle);
	put_str(o, "id", fd->id);
	put_date(o, "updated", fd->updated);
	put_str(o, "language", fd->language);
	put_str(o, "author", fd->author);
	put_str(o, "image", fd->image);
	put_str(o, "generator", fd->generator);
	json_object_object_add(o, "ttl", json_object_new_int64(fd->ttl));
	json_object_object_add(o, "update_period",
	                       json_object_new_int64(fd->update_period));
	json_object_object_add(o, "is_feed",
	                       json_object_new_boolean(fd->is_feed));
	fprintf(f, "\n],\n\"feed\": %s,\n",
	        json_object_to_json_string_ext(o, JSON_FLAGS));
	json_object_put(o);
	o = json_object_new_object();
	json_object_object_add(o, "bozo", json_object_new_boolean(fd->bozo));
	put_str(o, "bozo_message", fd->bozo_message);
	/* print the two keys without the braces of their object */
	const char *s = json_object_to_json_string_ext(o, JSON_FLAGS);
	fprintf(f, "%.*s}\n", (int)strlen(s) - 2, s + 1);
	json_object_put(o);
}

/* An option value, else the environment's, else NULL; "" counts as unset. */
static const char *
pick(const char *opt, const char *env)
{
	const char *v = opt ? opt : getenv(env);

	return v && v[0] ? v : NULL;
}

/* gazette parse FILE|- [--base URL] [--content-type CT] ... */
static int
parse_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	        {"base", required_argument, NULL, 'b'},
	        {"content-type", required_argument, NULL, 't'},
	        {"content-language", required_argument, NULL, 'l'},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	const char *base = NULL, *ct = NULL, *cl = NULL, *path;
	struct gz_parser_opts po = {0};
	struct gz_parser *p;
	struct gz_feed *feed = NULL;
	struct out out = {.f = stdout};
	static char buf[1 << 16];
	int c, fd, r = 0;
	ssize_t n;

	(void)ctx;
	while ((c = getopt_long(argc, argv, "b:t:l:h", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			base = optarg;
			break;
		case 't':
			ct = optarg;
			break;
		case 'l':
			cl = optarg;
			break;
		case 'h':
			return cmd_help(&cmd_parse);
		default:
			return cmd_usage(&cmd_parse, stderr);
		}
	}
	if (optind != argc - 1)
		return cmd_usage(&cmd_parse, stderr);
	path = argv[optind];
	if (strcmp(path, "-") == 0) {
		fd = STDIN_FILENO;
	} else {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			cmd_error("cannot read '%s': %s", path,
			          strerror(errno));
			return EXIT_ERR;
		}
	}
	po.base_url = pick(base, "FEED_URL");
	po.content_type = pick(ct, "FEED_CONTENT_TYPE");
	po.content_language = pick(cl, "FEED_CONTENT_LANGUAGE");
	po.on_entry = print_entry;
	po.arg = &out;
	p = gz_parser_new(&po);
	if (p == NULL) {
		cmd_error("out of memory");
		goto fail;
	}
	fputs("{\"entries\": [", stdout);
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			cmd_error("cannot read '%s': %s", path,
			          strerror(errno));
			fputs("\n]}\n", stdout);
			goto fail;
		}
		r = gz_parser_push(p, buf, (size_t)n);
		if (r < 0)
			break; /* a limit: the rest is not parsed */
	}
	r = gz_parser_finish(p, &feed);
	if (r < 0) {
		const char *why = gz_parser_error(p);

		cmd_error("cannot parse '%s': %s", path,
		          why ? why : strerror(-r));
		fputs("\n]}\n", stdout);
		goto fail;
	}
	print_tail(stdout, feed);
	gz_feed_free(feed);
	gz_parser_free(p);
	if (fd != STDIN_FILENO)
		close(fd);
	return fflush(stdout) == 0 ? EXIT_OK : EXIT_ERR;
fail:
	gz_parser_free(p);
	if (fd != STDIN_FILENO)
		close(fd);
	return EXIT_ERR;
}

const struct cmd_entry cmd_parse = {
        .name = "parse",
        .usage = "[--base URL] [--content-type TYPE] [--content-language L] "
                 "FILE|-",
        .summary = "print what gazette sees in a feed file, as JSON",
        .help = "  --base URL              the document's URL, for relative "
                "links (default: $FEED_URL)\n"
                "  --content-type TYPE     the HTTP Content-Type, for its "
                "charset (default: $FEED_CONTENT_TYPE)\n"
                "  --content-language L    the HTTP Content-Language "
                "(default: $FEED_CONTENT_LANGUAGE)\n"
                "\nThe feed, its entries and whether it was well-formed "
                "(\"bozo\") are printed\nas one JSON document; broken XML "
                "still exits 0. A JSON Feed (1.0, 1.1)\nis read too; "
                "malformed JSON is an error.\n",
        .exec = parse_exec,
};
