/* fuzz_journal.c - libFuzzer target for txfs's journal replay (replay.c).
 *
 * The input is a journal file.  A random journal almost never passes the
 * per-record CRC, so when the first byte is odd the target first makes the
 * input structurally valid: it walks the records, fixes magic, sequence
 * numbers and checksums, and leaves types, lengths and payloads as the
 * fuzzer made them; that way replay's record decoding and the tree code it
 * drives are fuzzed, not only the checksum test.  Invariants beyond "no
 * crash": replay stops at or before the end of the file, and a cut tail has
 * a reason. */
#include "txfs.h"
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void check(int ok)
{
	if (!ok)
		abort();
}

static void make_valid(unsigned char *buf, size_t size)
{
	size_t pos = 1;   /* byte 0 is the control byte */
	uint64_t seq = 1;
	while (pos + sizeof(struct jhdr) <= size) {
		struct jhdr h;
		memcpy(&h, buf + pos, sizeof h);
		h.magic = J_MAGIC;
		h.seq = seq++;
		if (h.len > size - pos - sizeof h)
			h.len = (uint32_t)(size - pos - sizeof h);
		h.crc = 0;
		uint32_t c = txfs_crc32(0, &h, sizeof h);
		h.crc = txfs_crc32(c, buf + pos + sizeof h, h.len);
		memcpy(buf + pos, &h, sizeof h);
		pos += sizeof h + h.len;
	}
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	if (size == 0 || size > (4u << 20))
		return 0;
	unsigned char *buf = malloc(size);
	memcpy(buf, data, size);
	if (buf[0] & 1)
		make_valid(buf, size);
	int fd = memfd_create("journal", MFD_CLOEXEC);
	check(fd >= 0);
	/* the journal proper starts after the control byte */
	check(write(fd, buf + 1, size - 1) == (ssize_t)(size - 1));
	struct replay_result r;
	tree_init();
	check(replay_fd(fd, 1, 0, &r) == 0);
	check(r.end <= r.file_size);
	check(r.end == r.file_size || r.stop != NULL);
	tree_destroy();
	close(fd);
	free(buf);
	return 0;
}
