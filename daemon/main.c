/*
 * gazetted: polls the subscriptions when due, keeps the store, answers
 * the control socket. Everything runs in one libevent loop: transfers,
 * the scheduler's timer, signals (evsignal: handlers run in the loop)
 * and control clients.
 */
#include <errno.h>
#include <getopt.h>
#include <locale.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "control.h"
#include "fetch.h"
#include "gazette/config.h"
#include "gazette/log.h"
#include "gazette/paths.h"
#include "gazette/store.h"
#include "gazette/xalloc.h"
#include "poll.h"

#define HOUSEKEEPING_S 3600 /* retention purge, and once at start */

struct daemon {
	struct event_base *base;
	struct config *cfg;
	const char *config_arg; /* -c FILE, or NULL for the default */
	const char *db_arg;     /* --db FILE */
	char *db;       /* the database in use (a copy: reload frees cfg) */
	char *db_shown; /* as the log shows it: no password */
	dev_t db_dev;   /* and the file it was at start */
	ino_t db_ino;
	bool db_lost; /* said so, stopping */
	struct store *store;
	struct poller *poller;
	struct control *control;
	struct event *ev_term, *ev_int, *ev_hup, *ev_house, *ev_rescan;
	bool once;
	int exit_status;
};

/* Tell systemd (Type=notify) when NOTIFY_SOCKET is set: a datagram. */
static void
sd_notify_msg(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	socklen_t len;
	size_t n;
	int fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@'))
		return;
	n = strlen(path);
	if (n >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, n);
	if (path[0] == '@')
		sa.sun_path[0] = '\0'; /* an abstract socket */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
	                  (path[0] == '/' ? 1 : 0));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa,
	           len) < 0)
		log_debug("sd_notify: %s", strerror(errno));
	close(fd);
}

/* The feeds of cfg into the store (from_config ones follow the file). */
static int
sync_config(struct store *s, const struct config *cfg, char **ret_err)
{
	struct store_feed_spec *specs = NULL;
	size_t n = 0;
	int r;

	r = config_store_specs(cfg, &specs, &n);
	if (r < 0)
		return r;
	r = store_config_sync(s, specs, n);
	config_store_specs_free(specs, n);
	if (r < 0)
		*ret_err = xasprintf("cannot sync the configured feeds into "
		                     "the database: %s",
		                     store_errmsg(s));
	return r;
}

/* Reload: parse into a fresh config; swap only when all of it is good. */
static int
reload(void *arg, char **ret_err)
{
	struct daemon *d = arg;
	struct config *n = NULL;
	char *err = NULL;
	int r;

	r = config_load(d->config_arg, d->config_arg ? CONFIG_MUST_EXIST : 0,
	                &n, &err);
	if (r < 0) {
		*ret_err = xasprintf("reload: %s; the running configuration "
		                     "stays",
		                     err ? err : strerror(-r));
		free(err);
		return r;
	}
	if (d->db_arg == NULL && strcmp(n->database, d->cfg->database) != 0)
		log_warn("reload: a new database path takes a restart; "
		         "still using '%s'",
		         d->cfg->database);
	poller_save(d->poller);
	r = sync_config(d->store, n, &err);
	if (r < 0) {
		*ret_err = xasprintf("reload: %s; the running configuration "
		                     "stays",
		                     err);
		free(err);
		config_free(n);
		return r;
	}
	poller_set_config(d->poller, n);
	config_free(d->cfg);
	d->cfg = n;
	r = poller_load(d->poller);
	if (r < 0)
		log_warn("reload: cannot reread the feeds: %s",
		         store_errmsg(d->store));
	log_notice("configuration reloaded: %zu feeds in '%s'", d->cfg->n_feeds,
	           d->cfg->path ? d->cfg->path : "(none)");
	return 0;
}

/* SIGTERM, SIGINT: stop; transfers are cancelled by the cleanup. */
static void
on_stop(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	(void)what;
	log_notice("%s: stopping", strsignal((int)sig));
	sd_notify_msg("STOPPING=1");
	event_base_loopbreak(d->base);
}

/* SIGHUP: reload the configuration, keep the old one on error. */
static void
on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;
	char *err = NULL;

	(void)sig;
	(void)what;
	sd_notify_msg("RELOADING=1");
	if (reload(d, &err) < 0) {
		log_err("%s", err);
		free(err);
	}
	sd_notify_msg("READY=1\nSTATUS=configuration reloaded");
}

/*
 * Retention, now and then: a purge by the configuration's rules, run by
 * the ingest thread between its merges, so that the store's writes stay
 * on its connection.
 */
static void
housekeeping(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	(void)fd;
	(void)what;
	if (d->poller)
		poller_purge(d->poller);
}

/*
 * Whether the database is still the file opened at start. Deleted or
 * replaced, SQLite would write on into a file nobody reads: every poll
 * lost without a word. Stopping says so, and a restart starts afresh.
 */
static bool
db_still_there(struct daemon *d)
{
	struct stat st;

	if (d->db_lost)
		return false;
	if (store_is_url(d->db))
		return true; /* a server's database: no file of ours */
	if (stat(d->db, &st) == 0 && st.st_dev == d->db_dev &&
	    st.st_ino == d->db_ino)
		return true;
	d->db_lost = true;
	log_err("the database '%s' was deleted or replaced while gazetted "
	        "ran; stopping (what it polled would be lost)",
	        d->db);
	event_base_loopexit(d->base, NULL);
	return false;
}

/* Feeds the CLI added or removed: reread the store now and then. */
static void
rescan(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	struct timeval tv = {(time_t)d->cfg->min_interval, 0};

	(void)fd;
	(void)what;
	if (!db_still_there(d))
		return;
	if (poller_load(d->poller) < 0)
		log_warn("cannot reread the feeds: %s", store_errmsg(d->store));
	if (tv.tv_sec < 1)
		tv.tv_sec = 1;
	evtimer_add(d->ev_rescan, &tv);
}

/* --once: everything polled; leave the loop. */
static void
once_idle(void *arg)
{
	struct daemon *d = arg;

	event_base_loopexit(d->base, NULL);
}

/* Usage, to f. */
static void
usage(FILE *f)
{
	fputs("usage: gazetted [-c FILE] [--db FILE] [-f] [-v] [--once]\n"
	      "\n"
	      "  -c, --config FILE  the configuration (default: the user's or "
	      "the system's gazette.conf)\n"
	      "      --db FILE      the database (default: from the "
	      "configuration)\n"
	      "  -f, --foreground   stay in the foreground (gazetted always "
	      "does: systemd or your shell supervises it)\n"
	      "  -v, --verbose      say more (twice: debug)\n"
	      "      --once         poll every feed once and exit\n"
	      "      --version      print the version\n"
	      "  -h, --help         this help\n",
	      f);
}

/* Signals, timers, the control socket. */
static int
setup_events(struct daemon *d)
{
	struct timeval house = {HOUSEKEEPING_S, 0};

	d->ev_term = evsignal_new(d->base, SIGTERM, on_stop, d);
	d->ev_int = evsignal_new(d->base, SIGINT, on_stop, d);
	d->ev_hup = evsignal_new(d->base, SIGHUP, on_hup, d);
	if (!d->ev_term || !d->ev_int || !d->ev_hup)
		return -ENOMEM;
	event_add(d->ev_term, NULL);
	event_add(d->ev_int, NULL);
	if (!d->once) {
		event_add(d->ev_hup, NULL);
		d->ev_house =
		        event_new(d->base, -1, EV_PERSIST, housekeeping, d);
		d->ev_rescan = evtimer_new(d->base, rescan, d);
		event_add(d->ev_house, &house);
		rescan(-1, 0, d);
		housekeeping(-1, 0, d);
	}
	return 0;
}

/* Free what d holds, in order: clients, transfers, store, loop. */
static void
daemon_clear(struct daemon *d)
{
	control_free(d->control);
	poller_free(d->poller); /* cancels transfers: curl before libevent */
	/* Its saves are committed: what it still leases goes back now. */
	if (d->store && store_lease_instance(d->store) &&
	    store_lease_unregister(d->store) < 0)
		log_warn("cannot give the leases back in '%s': %s; they "
		         "expire in lease-time",
		         d->db_shown, store_errmsg(d->store));
	free(d->db);
	free(d->db_shown);
	if (d->ev_term)
		event_free(d->ev_term);
	if (d->ev_int)
		event_free(d->ev_int);
	if (d->ev_hup)
		event_free(d->ev_hup);
	if (d->ev_house)
		event_free(d->ev_house);
	if (d->ev_rescan)
		event_free(d->ev_rescan);
	store_close(d->store);
	config_free(d->cfg);
	if (d->base)
		event_base_free(d->base);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"config", required_argument, NULL, 'c'},
	        {"db", required_argument, NULL, 'd'},
	        {"foreground", no_argument, NULL, 'f'},
	        {"verbose", no_argument, NULL, 'v'},
	        {"once", no_argument, NULL, 'o'},
	        {"version", no_argument, NULL, 'V'},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	struct daemon d = {0};
	enum log_level lvl = LOG_LVL_NOTICE;
	const struct poll_summary *t;
	char *err = NULL;
	const char *db;
	int c, r;

	setlocale(LC_ALL, "");
	/*
	 * Bodies are allocated on the loop thread and freed on the ingest
	 * thread; with a fixed threshold the large ones are mappings that
	 * go back to the system at once, so that the ingest queue's bound
	 * is a bound on memory too (the dynamic one would keep them).
	 */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	while ((c = getopt_long(argc, argv, "c:fvh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			d.config_arg = optarg;
			break;
		case 'd':
			d.db_arg = optarg;
			break;
		case 'f':
			break;
		case 'v':
			lvl = lvl == LOG_LVL_NOTICE ? LOG_LVL_INFO
			                            : LOG_LVL_DEBUG;
			break;
		case 'o':
			d.once = true;
			break;
		case 'V':
			puts("gazetted " GAZETTE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	log_init("gazetted", lvl);
	signal(SIGPIPE, SIG_IGN);

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_err("cannot initialise libcurl");
		return 1;
	}
	if (!fetch_curl_ok(&err)) {
		log_err("%s: gazetted would block on every name lookup; "
		        "refusing to start",
		        err);
		free(err);
		return 1;
	}
	d.exit_status = 1;
	r = config_load(d.config_arg, d.config_arg ? CONFIG_MUST_EXIST : 0,
	                &d.cfg, &err);
	if (r < 0) {
		log_err("%s", err ? err : strerror(-r));
		goto out;
	}
	db = d.db_arg ? d.db_arg : d.cfg->database;
	/* A PostgreSQL URI names a server's database: no directory. */
	r = store_is_url(db) ? 0 : paths_make_parent(db, 0700);
	if (r < 0) {
		log_err("cannot make the directory of '%s': %s", db,
		        strerror(-r));
		goto out;
	}
	/*
	 * The system service shares its database with group gazette (the
	 * unit's StateDirectory= with mode 2770, UMask=0007). Only systemd
	 * sets STATE_DIRECTORY; root running gazetted by hand, and every
	 * user, get a 0600 file.
	 */
	r = store_open(db,
	               STORE_CREATE |
	                       (getenv("STATE_DIRECTORY") ? STORE_GROUP : 0),
	               &d.store, &err);
	if (r < 0) {
		log_err("%s", err ? err : strerror(-r));
		goto out;
	}
	d.db = xstrdup(db);
	d.db_shown = store_display(db);
	if (d.db_shown == NULL) {
		log_err("out of memory");
		goto out;
	}
	log_info("database '%s'%s", d.db_shown, d.db_arg ? " (--db)" : "");
	{
		struct stat st;

		if (stat(db, &st) == 0) {
			d.db_dev = st.st_dev;
			d.db_ino = st.st_ino;
		}
	}
	r = sync_config(d.store, d.cfg, &err);
	if (r < 0) {
		log_err("%s", err);
		goto out;
	}
	/* A shared store: this daemon is one of those that lease its feeds. */
	if (!d.once && store_lease_shared(d.store)) {
		char host[256] = "";

		if (gethostname(host, sizeof(host) - 1) < 0)
			strcpy(host, "?");
		r = store_lease_register(d.store, host, (int64_t)getpid(),
		                         (int64_t)time(NULL));
		if (r < 0) {
			log_err("cannot register in '%s': %s", db,
			        store_errmsg(d.store));
			goto out;
		}
		log_info("instance %s in '%s'", store_lease_instance(d.store),
		         db);
	}
	d.base = event_base_new();
	if (d.base == NULL) {
		log_err("cannot make the event loop");
		goto out;
	}
	d.poller = poller_new(d.base, d.cfg, d.store, d.once);
	if (d.poller == NULL || setup_events(&d) < 0) {
		log_err("out of memory");
		goto out;
	}
	poller_set_db_name(d.poller, d.db_shown);
	r = poller_load(d.poller);
	if (r < 0) {
		log_err("cannot read the feeds from '%s': %s", db,
		        store_errmsg(d.store));
		goto out;
	}
	if (d.once) {
		poller_on_idle(d.poller, once_idle, &d);
		housekeeping(-1, 0, &d);
		poller_poll_now(d.poller, 0, NULL, NULL);
		if (!poller_idle(d.poller))
			event_base_dispatch(d.base);
		t = poller_totals(d.poller);
		log_notice("polled %d feed%s: %d ok, %d not modified, %d "
		           "failed, %d skipped; %d new stor%s",
		           t->feeds, t->feeds == 1 ? "" : "s", t->ok,
		           t->not_modified, t->failed, t->skipped,
		           t->new_stories, t->new_stories == 1 ? "y" : "ies");
		d.exit_status = 0;
		goto out;
	}
	r = control_new(d.base, d.cfg, d.poller, d.store, reload, &d,
	                &d.control, &err);
	if (r < 0) {
		log_err("%s", err);
		goto out;
	}
	log_notice("gazetted %s: %zu configured feeds, database '%s', "
	           "control socket '%s'",
	           GAZETTE_VERSION, d.cfg->n_feeds, d.db_shown, d.cfg->socket);
	{
		char *st = xasprintf("READY=1\nSTATUS=polling; database %s",
		                     d.db_shown);

		sd_notify_msg(st);
		free(st);
	}
	event_base_dispatch(d.base);
	d.exit_status = db_still_there(&d) ? 0 : 1;
out:
	free(err);
	daemon_clear(&d);
	curl_global_cleanup();
	return d.exit_status;
}
