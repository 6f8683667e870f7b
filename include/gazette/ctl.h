/*
 * The control socket's messages, shared by gazetted (the server) and
 * gazette (the client: `gazette poll`, `gazette status`).
 *
 * One request per connection, one reply. Every message is a frame: a
 * header of two big-endian uint32, the protocol version (CTL_VERSION) and
 * the payload's length (at most CTL_MAX_MSG), then the payload.
 *   request payload: COMMAND '\0' [ARGUMENT '\0']
 *   reply payload:   'o' (ok) or 'e' (error), then UTF-8 text
 * Commands: "poll" [FEED: id or title prefix], "status", "reload".
 */
#ifndef GAZETTE_CTL_H
#define GAZETTE_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTL_VERSION 1
#define CTL_HEADER  8
#define CTL_MAX_MSG (64 * 1024)

/* A frame of payload (len bytes) in a new buffer: header then payload. */
int ctl_frame(const void *payload, size_t len, char **ret, size_t *ret_len);

/*
 * Read a frame header: the payload length in *ret_len. -EPROTO for
 * another version, -EMSGSIZE when longer than CTL_MAX_MSG.
 */
int ctl_header(const unsigned char hdr[CTL_HEADER], size_t *ret_len);

/* A request's payload: cmd '\0' [arg '\0']. */
int ctl_request_encode(const char *cmd, const char *arg, char **ret,
                       size_t *ret_len);
/* Split a request payload; *ret_arg NULL when none. -EBADMSG malformed. */
int ctl_request_decode(const char *payload, size_t len, char **ret_cmd,
                       char **ret_arg);

/* A reply's payload. */
int ctl_reply_encode(bool ok, const char *text, char **ret, size_t *ret_len);
int ctl_reply_decode(const char *payload, size_t len, bool *ret_ok,
                     char **ret_text);

/*
 * Send cmd (with arg, or NULL) to the daemon at socket_path and wait for
 * its reply. 0 and *ret_reply when it answered ok. -ENOENT or
 * -ECONNREFUSED when no daemon listens there (poll in-process then);
 * -EREMOTEIO when the daemon answered with an error (*ret_err: its
 * words); other -errno with *ret_err for trouble on the way.
 */
int ctl_request(const char *socket_path, const char *cmd, const char *arg,
                char **ret_reply, char **ret_err);

#endif
