/* gazette import FILE.opml: subscriptions from OPML, all or nothing. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "gazette/opml.h"
#include "gazette/store.h"
#include "gazette/xalloc.h"

/* Read a whole file (or stdin for "-"), at most max bytes. */
static int
read_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
	int fd = strcmp(path, "-") == 0 ? STDIN_FILENO
	                                : open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0, cap = 65536;
	char *buf;
	ssize_t n;

	if (fd < 0)
		return -errno;
	buf = xmalloc(cap + 1);
	for (;;) {
		if (len == cap) {
			if (cap >= max) {
				free(buf);
				if (fd != STDIN_FILENO)
					close(fd);
				return -EFBIG;
			}
			cap *= 2;
			buf = xreallocarray(buf, cap + 1, 1);
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = -errno;

			free(buf);
			if (fd != STDIN_FILENO)
				close(fd);
			return e;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (fd != STDIN_FILENO)
		close(fd);
	if (len > max) {
		free(buf);
		return -EFBIG;
	}
	buf[len] = '\0';
	*ret = buf;
	*ret_len = len;
	return 0;
}

/* Add every feed of the document in one transaction. */
static int
import_doc(struct store *s, const struct opml_doc *d, int *ret_added,
           int *ret_present, size_t *ret_failed)
{
	int added = 0, present = 0, r;

	r = store_begin(s);
	if (r < 0)
		return r;
	for (size_t i = 0; i < d->n_feeds; i++) {
		const struct opml_feed *f = &d->feeds[i];
		struct store_feed_spec spec = {
		        .title = f->feed_title ? NULL : f->title,
		        .parsed_title = f->feed_title ? f->title : NULL,
		        .category = f->category,
		        .interval = f->interval,
		        .n_urls = f->n_urls,
		        .urls = (const char *const *)f->urls,
		        .proxies = (const char *const *)f->proxies,
		};
		int64_t id;

		r = store_feed_add(s, &spec, &id);
		if (r < 0) {
			*ret_failed = i;
			store_rollback(s);
			return r;
		}
		if (r == 1)
			added++;
		else
			present++;
	}
	r = store_commit(s);
	if (r < 0)
		return r;
	*ret_added = added;
	*ret_present = present;
	return 0;
}

/* gazette import FILE.opml. */
static int
import_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	struct opml_doc *d = NULL;
	char q[QUOTE_MAX], q2[QUOTE_MAX];
	char *buf = NULL, *err = NULL;
	const char *path;
	int added = 0, present = 0, c, r;
	size_t len = 0, failed = 0;
	struct store *s;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (c == 'h')
			return cmd_help(&cmd_import);
		return cmd_bad_option(&cmd_import, argv, c);
	}
	if (argc - optind != 1)
		return cmd_usage_error(&cmd_import, "one OPML file, please");
	path = argv[optind];
	r = read_file(path, OPML_MAX_SIZE, &buf, &len);
	if (r < 0) {
		cmd_error("cannot read %s: %s", cmd_quote(path, q),
		          r == -EFBIG ? "larger than 64 MiB" : strerror(-r));
		return EXIT_ERR;
	}
	r = opml_parse(buf, len, &d, &err);
	free(buf);
	if (r < 0) {
		cmd_error("cannot import %s: %s; nothing imported",
		          cmd_quote(path, q), err ? err : strerror(-r));
		free(err);
		return EXIT_ERR;
	}
	for (size_t i = 0; i < d->n_skipped; i++)
		cmd_error("%s: line %d: skipped %s: %s", cmd_quote(path, q),
		          d->skipped[i].line,
		          cmd_quote(d->skipped[i].url ? d->skipped[i].url : "",
		                    q2),
		          d->skipped[i].reason);
	s = cmd_store(ctx);
	if (s == NULL) {
		opml_doc_free(d);
		return EXIT_ERR;
	}
	r = import_doc(s, d, &added, &present, &failed);
	if (r < 0) {
		cmd_error("cannot import %s: line %d: %s; nothing imported",
		          cmd_quote(path, q),
		          failed < d->n_feeds ? d->feeds[failed].line : 0,
		          store_errmsg(s));
		opml_doc_free(d);
		return EXIT_ERR;
	}
	printf("%d added, %d already present, %zu skipped\n", added, present,
	       d->n_skipped);
	opml_doc_free(d);
	return fflush(stdout) == 0 ? EXIT_OK : EXIT_ERR;
}

const struct cmd_entry cmd_import = {
        .name = "import",
        .usage = "FILE.opml",
        .summary = "subscribe to the feeds of an OPML file (all or nothing)",
        .help = "FILE may be - for the standard input. Feeds already "
                "subscribed are left as they are;\nURLs that are not http or "
                "https are reported and skipped.\n",
        .exec = import_exec,
};
