/*
 * The control socket: a Unix stream socket, owner-only unless the
 * configuration shares it with a group (control-socket-mode/-group),
 * peer credentials checked: others than the daemon's user and root may
 * only ask status and poll. One request and one reply per connection
 * (gazette/ctl.h).
 */
#ifndef GAZETTE_DAEMON_CONTROL_H
#define GAZETTE_DAEMON_CONTROL_H

struct config;
struct event_base;
struct poller;
struct store;
struct control;

/* What the daemon does for a "reload": 0, or -errno and *ret_err. */
typedef int (*control_reload_fn)(void *arg, char **ret_err);

/*
 * Listen at cfg->socket (its directory made 0700 when missing), with
 * cfg's control-socket-mode and -group. -EADDRINUSE when a daemon already
 * answers there; *ret_err says what failed.
 */
int control_new(struct event_base *base, const struct config *cfg,
                struct poller *p, struct store *s, control_reload_fn reload,
                void *arg, struct control **ret, char **ret_err);
/* Close every client, the socket, and unlink it. NULL is fine. */
void control_free(struct control *c);

#endif
