/*
 * The control socket server. Each client sends one framed request and
 * gets one framed reply; a "poll" reply waits until the polls are done.
 * Clients are bounded in number, in message size and in time to send
 * their request.
 */
#include <errno.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "control.h"
#include "gazette/config.h"
#include "gazette/ctl.h"
#include "gazette/log.h"
#include "gazette/paths.h"
#include "gazette/store.h"
#include "gazette/xalloc.h"
#include "poll.h"

#define MAX_CLIENTS       16
#define REQUEST_TIMEOUT_S 10
#define REPLY_TIMEOUT_S   10

struct client {
	struct control *c;
	int fd;
	struct event *ev;
	unsigned char hdr[CTL_HEADER];
	char *buf;
	size_t need, have; /* of the header, then of the payload */
	bool in_payload;
	char *out; /* the framed reply being written */
	size_t out_len, out_done;
	bool waiting; /* for polls to finish */
	bool refused; /* another uid: read its request, answer no */
	bool guest;   /* another uid the socket's mode let in: read-only */
	time_t since; /* accepted at (monotonic seconds) */
	struct client *next;
};

struct control {
	struct event_base *base;
	char *path;
	int fd;
	struct event *ev;
	struct poller *p;
	struct store *store;
	control_reload_fn reload;
	void *arg;
	struct client *clients;
	int n_clients;
	bool shared; /* the socket's mode lets others than its owner in */
};

/*
 * What a client that is neither the daemon's user nor root may ask (a
 * member of the socket's group): to look, and to have the daemon poll
 * sooner what it polls anyway. Anything else (reload, and any request
 * added later) needs the daemon's user.
 */
static bool
guest_may(const char *cmd)
{
	return strcmp(cmd, "status") == 0 || strcmp(cmd, "poll") == 0;
}

/* Close a client and forget it. */
static void
client_free(struct client *cl)
{
	struct control *c = cl->c;
	struct client **pp;

	for (pp = &c->clients; *pp; pp = &(*pp)->next)
		if (*pp == cl) {
			*pp = cl->next;
			break;
		}
	if (cl->waiting)
		poller_forget(c->p, cl);
	if (cl->ev)
		event_free(cl->ev);
	close(cl->fd);
	free(cl->buf);
	free(cl->out);
	free(cl);
	c->n_clients--;
}

/* libevent: write the reply; close once it is out. */
static void
client_write(evutil_socket_t fd, short what, void *arg)
{
	struct client *cl = arg;
	ssize_t n;

	if (what & EV_TIMEOUT) {
		client_free(cl);
		return;
	}
	while (cl->out_done < cl->out_len) {
		n = send(fd, cl->out + cl->out_done, cl->out_len - cl->out_done,
		         MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return; /* the persistent event calls again */
		if (n <= 0) {
			client_free(cl);
			return;
		}
		cl->out_done += (size_t)n;
	}
	client_free(cl);
}

/* Send the one reply. */
static void
client_reply(struct client *cl, bool ok, const char *text)
{
	struct timeval tv = {REPLY_TIMEOUT_S, 0};
	char *payload = NULL;
	size_t plen;

	cl->waiting = false;
	if (ctl_reply_encode(ok, text, &payload, &plen) < 0 ||
	    ctl_frame(payload, plen, &cl->out, &cl->out_len) < 0) {
		free(payload);
		client_free(cl);
		return;
	}
	free(payload);
	if (cl->ev)
		event_free(cl->ev);
	cl->ev = event_new(cl->c->base, cl->fd, EV_WRITE | EV_PERSIST,
	                   client_write, cl);
	event_add(cl->ev, &tv);
}

/* The polls a client asked for are done. */
static void
poll_done(const struct poll_summary *s, void *arg)
{
	struct client *cl = arg;
	char *t;

	t = xasprintf("polled: %d\nok: %d\nnot-modified: %d\nfailed: %d\n"
	              "skipped: %d\nnew-stories: %d\nupdated-stories: %d\n"
	              "network: %s\n",
	              s->feeds, s->ok, s->not_modified, s->failed, s->skipped,
	              s->new_stories, s->updated_stories,
	              s->network_down ? "down" : "up");
	client_reply(cl, true, t);
	free(t);
}

/* Carry out a request. */
static void
client_exec(struct client *cl, const char *cmd, const char *arg)
{
	struct control *c = cl->c;
	char *err = NULL, *t, *s;
	int64_t id = 0;
	int r;

	if (cl->guest && !guest_may(cmd)) {
		t = xasprintf("permission denied: '%s' is for the daemon's "
		              "user or root",
		              cmd);
		client_reply(cl, false, t);
		free(t);
		return;
	}
	if (strcmp(cmd, "status") == 0) {
		if (arg) {
			client_reply(cl, false, "status takes no argument");
			return;
		}
		s = poller_status(c->p);
		t = xasprintf("database: %s\n%s", store_path(c->store), s);
		client_reply(cl, true, t);
		free(s);
		free(t);
		return;
	}
	if (strcmp(cmd, "reload") == 0) {
		r = c->reload(c->arg, &err);
		client_reply(cl, r == 0, r == 0 ? "reloaded\n" : err);
		free(err);
		return;
	}
	if (strcmp(cmd, "poll") == 0) {
		/* Feeds added by the CLI since we last looked. */
		if (poller_load(c->p) < 0)
			log_warn("cannot reread the feeds: %s",
			         store_errmsg(c->store));
		if (arg) {
			r = store_feed_find(c->store, arg, &id);
			if (r < 0) {
				t = xasprintf("%s feed '%s'",
				              r == -EEXIST ? "ambiguous" : "no",
				              arg);
				client_reply(cl, false, t);
				free(t);
				return;
			}
		}
		cl->waiting = true;
		r = poller_poll_now(c->p, id, poll_done, cl);
		if (r < 0) {
			cl->waiting = false;
			client_reply(cl, false,
			             r == -EBUSY ? "too many polls waiting"
			                         : "no such feed");
		}
		/* r >= 0: poll_done replies, maybe already has. */
		return;
	}
	t = xasprintf("unknown command '%s'", cmd);
	client_reply(cl, false, t);
	free(t);
}

/* libevent: bytes of the request, header first. */
static void
client_read(evutil_socket_t fd, short what, void *arg)
{
	struct client *cl = arg;
	char *cmd = NULL, *carg = NULL;
	char *dst;
	ssize_t n;
	int r;

	if (what & EV_TIMEOUT) {
		client_free(cl);
		return;
	}
	dst = cl->in_payload ? cl->buf : (char *)cl->hdr;
	n = recv(fd, dst + cl->have, cl->need - cl->have, 0);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		client_free(cl);
		return;
	}
	cl->have += (size_t)n;
	if (cl->have < cl->need)
		return;
	if (!cl->in_payload) {
		r = ctl_header(cl->hdr, &cl->need);
		if (r < 0) {
			client_reply(cl, false,
			             r == -EPROTO ? "unsupported protocol "
			                            "version"
			                          : "message too long");
			return;
		}
		cl->in_payload = true;
		cl->have = 0;
		cl->buf = xmalloc(cl->need ? cl->need : 1);
		if (cl->need > 0)
			return;
	}
	event_del(cl->ev);
	/*
	 * A refused client is answered only after its request is read:
	 * closing with unread bytes would reset the connection before it
	 * could read why.
	 */
	if (cl->refused) {
		client_reply(cl, false, "permission denied");
		return;
	}
	r = ctl_request_decode(cl->buf, cl->need, &cmd, &carg);
	if (r < 0) {
		client_reply(cl, false, "malformed request");
		return;
	}
	client_exec(cl, cmd, carg);
	free(cmd);
	free(carg);
}

/* Monotonic seconds. */
static time_t
mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/*
 * Make room for a new client: drop the one that has waited longest (a
 * second at least) without sending a whole request, so that clients that
 * connect and say nothing cannot lock the others out. False when every
 * client is busy or just came.
 */
static bool
drop_silent(struct control *c)
{
	struct client *cl, *oldest = NULL;
	time_t now = mono_s();

	/* The list is newest first: the last match is the oldest. */
	for (cl = c->clients; cl; cl = cl->next)
		if (!cl->waiting && cl->out == NULL && now - cl->since >= 1)
			oldest = cl;
	if (oldest == NULL)
		return false;
	log_warn("control: too many clients; the longest silent one dropped");
	client_free(oldest);
	return true;
}

/* libevent: a new client; its credentials decide whether it may stay. */
static void
accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct control *c = arg;
	struct timeval tv = {REQUEST_TIMEOUT_S, 0};
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct client *cl;
	int fd;

	(void)what;
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	if (c->n_clients >= MAX_CLIENTS && !drop_silent(c)) {
		log_warn("control: too many clients; one refused");
		close(fd);
		return;
	}
	cl = xcalloc(1, sizeof(*cl));
	cl->c = c;
	cl->fd = fd;
	cl->need = CTL_HEADER;
	cl->since = mono_s();
	cl->next = c->clients;
	c->clients = cl;
	c->n_clients++;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		log_warn("control: a client without credentials refused");
		cl->refused = true;
	} else if (cred.uid != getuid() && cred.uid != 0) {
		/*
		 * The socket's mode and group decided who may connect; when
		 * it is owner-only, another uid got here by a way around it.
		 */
		if (c->shared) {
			cl->guest = true;
		} else {
			log_warn("control: client of uid %ld refused",
			         (long)cred.uid);
			cl->refused = true;
		}
	}
	cl->ev = event_new(c->base, fd, EV_READ | EV_PERSIST, client_read, cl);
	event_add(cl->ev, &tv);
}

/* Whether a daemon answers at path already. */
static bool
socket_alive(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool alive;

	if (fd < 0)
		return false;
	alive = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
	close(fd);
	return alive;
}

/*
 * The gid the socket is given: cfg's control-socket-group, looked up.
 * 0 and *ret = -1 for none: no group set, or the default group (the
 * system paths' gazette) missing, which is said.
 */
static int
socket_group(const struct config *cfg, gid_t *ret, char **ret_err)
{
	const char *name = cfg->control_socket_group;
	struct group gr, *g = NULL;
	char buf[4096];
	int r;

	*ret = (gid_t)-1;
	if (name == NULL || name[0] == '\0')
		return 0;
	r = getgrnam_r(name, &gr, buf, sizeof(buf), &g);
	if (g) {
		*ret = g->gr_gid;
		return 0;
	}
	if (!cfg->control_socket_group_set) {
		log_info("control: no group '%s': the socket keeps the "
		         "daemon's group",
		         name);
		return 0;
	}
	*ret_err = xasprintf("control-socket-group: no group '%s'%s%s", name,
	                     r ? ": " : "", r ? strerror(r) : "");
	return r ? -r : -ENOENT;
}

/* Whether the file at path belongs to group gid already. */
static bool
has_group(const char *path, gid_t gid)
{
	struct stat st;

	return stat(path, &st) == 0 && st.st_gid == gid;
}

/* Listen at the configuration's socket, with its mode and group. */
int
control_new(struct event_base *base, const struct config *cfg, struct poller *p,
            struct store *s, control_reload_fn reload, void *arg,
            struct control **ret, char **ret_err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char *path = cfg->socket;
	unsigned mode =
	        cfg->control_socket_mode ? cfg->control_socket_mode : 0600;
	struct control *c;
	gid_t gid;
	mode_t old;
	int fd, r;

	r = socket_group(cfg, &gid, ret_err);
	if (r < 0)
		return r;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		*ret_err = xasprintf("control socket path '%s' too long", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	r = paths_make_parent(path, 0700);
	if (r < 0) {
		*ret_err = xasprintf("cannot make the directory of '%s': %s",
		                     path, strerror(-r));
		return r;
	}
	if (socket_alive(&sa)) {
		*ret_err = xasprintf("a daemon already listens at '%s'", path);
		return -EADDRINUSE;
	}
	unlink(path); /* a stale socket of a daemon that died */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		r = -errno;
		*ret_err = xasprintf("socket: %s", strerror(errno));
		return r;
	}
	old = umask(0177); /* the socket is born 0600 */
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	/*
	 * A burst of clients waits in the kernel's queue rather than being
	 * refused with EAGAIN; MAX_CLIENTS bounds those served at once.
	 */
	/*
	 * The group first: between the two, the socket is still 0600. The
	 * system unit's socket is born in group gazette (the daemon's own),
	 * and its system call filter refuses chown: none is needed then.
	 */
	if (r == 0 && gid != (gid_t)-1 && !has_group(path, gid) &&
	    chown(path, (uid_t)-1, gid) < 0)
		r = -1;
	if (r < 0 || chmod(path, (mode_t)mode) < 0 ||
	    listen(fd, SOMAXCONN) < 0) {
		r = -errno;
		*ret_err = xasprintf("cannot listen at '%s': %s", path,
		                     strerror(errno));
		close(fd);
		return r;
	}
	c = xcalloc(1, sizeof(*c));
	c->base = base;
	c->path = xstrdup(path);
	c->fd = fd;
	c->p = p;
	c->store = s;
	c->reload = reload;
	c->arg = arg;
	c->shared = (mode & 0066) != 0;
	c->ev = event_new(base, fd, EV_READ | EV_PERSIST, accept_cb, c);
	event_add(c->ev, NULL);
	*ret = c;
	return 0;
}

/* Close everything; the socket file goes. */
void
control_free(struct control *c)
{
	if (c == NULL)
		return;
	while (c->clients)
		client_free(c->clients);
	event_free(c->ev);
	close(c->fd);
	unlink(c->path);
	free(c->path);
	free(c);
}
