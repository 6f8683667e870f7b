/*
 * The control socket's message decoder, as the daemon and the client run
 * it on bytes from the socket: a frame header, then the payload decoded as
 * a request and as a reply. Whatever decodes re-encodes to the same
 * payload (the codec round-trips).
 */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "gazette/ctl.h"

/* Decode payload as a request; when it decodes, check the round trip. */
static void
check_request(const char *payload, size_t len)
{
	char *cmd = NULL, *arg = NULL, *enc = NULL;
	size_t enc_len = 0;
	int r;

	r = ctl_request_decode(payload, len, &cmd, &arg);
	FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -EINVAL || r == -EMSGSIZE);
	if (r < 0)
		return;
	FUZZ_CHECK(cmd != NULL);
	r = ctl_request_encode(cmd, arg, &enc, &enc_len);
	FUZZ_CHECK(r == 0);
	FUZZ_CHECK(enc_len == len && memcmp(enc, payload, len) == 0);
	free(enc);
	free(cmd);
	free(arg);
}

/* Decode payload as a reply; when it decodes, check the round trip. */
static void
check_reply(const char *payload, size_t len)
{
	char *text = NULL, *enc = NULL;
	size_t enc_len = 0;
	bool ok = false;
	int r;

	r = ctl_reply_decode(payload, len, &ok, &text);
	FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -EINVAL || r == -EMSGSIZE);
	if (r < 0)
		return;
	FUZZ_CHECK(text != NULL);
	/* a text with a NUL in it cannot come back the same */
	if (strlen(text) == len - 1) {
		r = ctl_reply_encode(ok, text, &enc, &enc_len);
		FUZZ_CHECK(r == 0);
		FUZZ_CHECK(enc_len == len && memcmp(enc, payload, len) == 0);
		free(enc);
	}
	free(text);
}

/* The fuzz target: a frame as read from the socket. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t len = 0, framed_len = 0;
	char *payload, *framed = NULL;
	int r;

	if (size < CTL_HEADER)
		return 0;
	r = ctl_header(data, &len);
	FUZZ_CHECK(r == 0 || r == -EPROTO || r == -EMSGSIZE);
	if (r < 0)
		return 0;
	FUZZ_CHECK(len <= CTL_MAX_MSG);
	/* the daemon reads exactly len bytes; a short read is a hang-up */
	if (len > size - CTL_HEADER)
		len = size - CTL_HEADER;
	/* a copy of exactly len bytes, so ASan sees any overread */
	payload = malloc(len ? len : 1);
	if (payload == NULL)
		abort();
	memcpy(payload, data + CTL_HEADER, len);
	check_request(payload, len);
	check_reply(payload, len);

	r = ctl_frame(payload, len, &framed, &framed_len);
	FUZZ_CHECK(r == 0);
	FUZZ_CHECK(framed_len == CTL_HEADER + len);
	FUZZ_CHECK(memcmp(framed, data, 4) == 0);
	free(framed);
	free(payload);
	return 0;
}
