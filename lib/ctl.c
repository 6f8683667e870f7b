/* The control socket's message codec and a blocking client. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "gazette/ctl.h"

/* How long the client waits for the daemon; a poll of many feeds takes. */
#define CTL_CLIENT_TIMEOUT_MS (10 * 60 * 1000)

/* Header and payload in one new buffer. */
int
ctl_frame(const void *payload, size_t len, char **ret, size_t *ret_len)
{
	uint32_t v = htonl(CTL_VERSION), l = htonl((uint32_t)len);
	char *b;

	if (len > CTL_MAX_MSG)
		return -EMSGSIZE;
	b = malloc(CTL_HEADER + len);
	if (b == NULL)
		return -ENOMEM;
	memcpy(b, &v, 4);
	memcpy(b + 4, &l, 4);
	if (len)
		memcpy(b + CTL_HEADER, payload, len);
	*ret = b;
	*ret_len = CTL_HEADER + len;
	return 0;
}

/* Check a header; the payload length. */
int
ctl_header(const unsigned char hdr[CTL_HEADER], size_t *ret_len)
{
	uint32_t v, l;

	memcpy(&v, hdr, 4);
	memcpy(&l, hdr + 4, 4);
	if (ntohl(v) != CTL_VERSION)
		return -EPROTO;
	if (ntohl(l) > CTL_MAX_MSG)
		return -EMSGSIZE;
	*ret_len = ntohl(l);
	return 0;
}

/* cmd '\0' [arg '\0']. */
int
ctl_request_encode(const char *cmd, const char *arg, char **ret,
                   size_t *ret_len)
{
	size_t a = strlen(cmd) + 1, b = arg ? strlen(arg) + 1 : 0;
	char *p;

	if (a == 1 || a + b > CTL_MAX_MSG)
		return a == 1 ? -EINVAL : -EMSGSIZE;
	p = malloc(a + b);
	if (p == NULL)
		return -ENOMEM;
	memcpy(p, cmd, a);
	if (b)
		memcpy(p + a, arg, b);
	*ret = p;
	*ret_len = a + b;
	return 0;
}

/* Split a request payload into its command and argument. */
int
ctl_request_decode(const char *payload, size_t len, char **ret_cmd,
                   char **ret_arg)
{
	const char *end = payload + len, *z1, *z2 = NULL;
	char *cmd, *arg = NULL;

	if (len == 0 || payload[len - 1] != '\0')
		return -EBADMSG;
	z1 = memchr(payload, '\0', len);
	if (z1 == payload)
		return -EBADMSG;
	if (z1 + 1 < end) {
		z2 = memchr(z1 + 1, '\0', (size_t)(end - z1 - 1));
		if (z2 + 1 != end)
			return -EBADMSG; /* more than two fields */
	}
	cmd = strdup(payload);
	if (z2)
		arg = strdup(z1 + 1);
	if (cmd == NULL || (z2 && arg == NULL)) {
		free(cmd);
		free(arg);
		return -ENOMEM;
	}
	*ret_cmd = cmd;
	*ret_arg = arg;
	return 0;
}

/* 'o' or 'e', then the text. */
int
ctl_reply_encode(bool ok, const char *text, char **ret, size_t *ret_len)
{
	size_t n = text ? strlen(text) : 0;
	char *p;

	if (n + 1 > CTL_MAX_MSG)
		n = CTL_MAX_MSG - 1; /* cut: a reply is never refused */
	p = malloc(n + 1);
	if (p == NULL)
		return -ENOMEM;
	p[0] = ok ? 'o' : 'e';
	if (n)
		memcpy(p + 1, text, n);
	*ret = p;
	*ret_len = n + 1;
	return 0;
}

/* Read a reply payload. */
int
ctl_reply_decode(const char *payload, size_t len, bool *ret_ok, char **ret_text)
{
	char *t;

	if (len < 1 || (payload[0] != 'o' && payload[0] != 'e'))
		return -EBADMSG;
	if (memchr(payload + 1, '\0', len - 1))
		return -EBADMSG;
	t = strndup(payload + 1, len - 1);
	if (t == NULL)
		return -ENOMEM;
	*ret_ok = payload[0] == 'o';
	*ret_text = t;
	return 0;
}

/* Milliseconds on the monotonic clock. */
static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Write or read exactly len bytes within the deadline. */
static int
io_all(int fd, char *buf, size_t len, bool out, int64_t deadline)
{
	size_t done = 0;

	while (done < len) {
		struct pollfd pfd = {fd, out ? POLLOUT : POLLIN, 0};
		int64_t left = deadline - now_ms();
		ssize_t n;

		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&pfd, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ETIMEDOUT;
		if (out)
			n = send(fd, buf + done, len - done, MSG_NOSIGNAL);
		else
			n = recv(fd, buf + done, len - done, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNRESET;
		done += (size_t)n;
	}
	return 0;
}

/* Set *ret_err to a formatted message when the caller wants one. */
static void
seterr(char **ret_err, const char *what, int r)
{
	if (ret_err && asprintf(ret_err, "%s: %s", what, strerror(-r)) < 0)
		*ret_err = NULL;
}

/* Ask the daemon, wait for its answer. */
int
ctl_request(const char *socket_path, const char *cmd, const char *arg,
            char **ret_reply, char **ret_err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char *payload = NULL, *frame = NULL, *reply = NULL, *text = NULL;
	unsigned char hdr[CTL_HEADER];
	size_t plen, flen, rlen;
	int64_t deadline;
	bool ok;
	int fd, r;

	if (strlen(socket_path) >= sizeof(sa.sun_path)) {
		seterr(ret_err, "control socket path too long", -ENAMETOOLONG);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, socket_path);
	r = ctl_request_encode(cmd, arg, &payload, &plen);
	if (r < 0)
		return r;
	r = ctl_frame(payload, plen, &frame, &flen);
	free(payload);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		free(frame);
		return r;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		if (r == -ENOTSOCK)
			r = -ECONNREFUSED;
		goto out; /* no daemon: the caller polls in-process */
	}
	deadline = now_ms() + CTL_CLIENT_TIMEOUT_MS;
	r = io_all(fd, frame, flen, true, deadline);
	/* Refused before it read us (another uid): its reply still waits. */
	if (r == 0 || r == -EPIPE || r == -ECONNRESET)
		r = io_all(fd, (char *)hdr, CTL_HEADER, false, deadline);
	if (r < 0) {
		seterr(ret_err, "talking to gazetted", r);
		goto out;
	}
	r = ctl_header(hdr, &rlen);
	if (r < 0) {
		seterr(ret_err, "gazetted's reply", r);
		goto out;
	}
	reply = malloc(rlen ? rlen : 1);
	if (reply == NULL) {
		r = -ENOMEM;
		goto out;
	}
	r = io_all(fd, reply, rlen, false, deadline);
	if (r == 0)
		r = ctl_reply_decode(reply, rlen, &ok, &text);
	if (r < 0) {
		seterr(ret_err, "gazetted's reply", r);
		goto out;
	}
	if (!ok) {
		if (ret_err)
			*ret_err = text;
		else
			free(text);
		r = -EREMOTEIO;
		goto out;
	}
	*ret_reply = text;
	r = 0;
out:
	close(fd);
	free(frame);
	free(reply);
	return r;
}
