/* rw_bench - the cost of read(2)/write(2) on fds that are not /dev/fuse
 * (what the wire transport's fd test adds to every call): N rounds of a
 * 1-byte write and read on a pipe, then N rounds of a 1-byte write and read
 * at offset 0 of a regular file (lseek between), then N rounds of a 1-byte
 * splice from a pipe into the file and back (the splice interposer's test);
 * ns per round.
 * usage: rw_bench FILE N
 * With RW_BENCH_PAIR=1 in the environment: the interleaved comparison
 * instead.  The same rounds, in chunks of 50, alternate between the
 * process's read/write/lseek/splice (the shim's when it is preloaded) and
 * libc's own (dlsym on libc's handle), all through pointers; prints, per
 * kind, the median over the chunk pairs of the ratio of adjacent chunks
 * (process / libc; about 1 without a preload): the shim's cost measured
 * microseconds apart instead of runs apart. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

struct io {
	ssize_t (*read)(int, void *, size_t);
	ssize_t (*write)(int, const void *, size_t);
	off_t (*lseek)(int, off_t, int);
	ssize_t (*splice)(int, loff_t *, int, loff_t *, size_t, unsigned int);
};

/* n rounds of kind k (0 pipe, 1 file, 2 splice) through io; ns, or -1 */
static double rounds(const struct io *io, int k, int p[2], int fd, long n)
{
	char c = 'x';
	double t0 = now();
	for (long i = 0; i < n; i++) {
		loff_t off = 0;
		switch (k) {
		case 0:
			if (io->write(p[1], &c, 1) != 1 || io->read(p[0], &c, 1) != 1)
				return -1;
			break;
		case 1:
			if (io->write(fd, &c, 1) != 1 || io->lseek(fd, 0, SEEK_SET) != 0 ||
			    io->read(fd, &c, 1) != 1 || io->lseek(fd, 0, SEEK_SET) != 0)
				return -1;
			break;
		default:
			if (io->write(p[1], &c, 1) != 1 || io->splice(p[0], NULL, fd, &off, 1, 0) != 1)
				return -1;
			off = 0;
			if (io->splice(fd, &off, p[1], NULL, 1, 0) != 1 || io->read(p[0], &c, 1) != 1)
				return -1;
		}
	}
	return now() - t0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

#define PAIR_CHUNK 50
static int pair_main(const char *file, long n)
{
	void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	if (!libc)
		return 1;
	struct io arm[2] = {
		{ read, write, lseek, splice },
		{ (ssize_t (*)(int, void *, size_t))dlsym(libc, "read"),
		  (ssize_t (*)(int, const void *, size_t))dlsym(libc, "write"),
		  (off_t (*)(int, off_t, int))dlsym(libc, "lseek"),
		  (ssize_t (*)(int, loff_t *, int, loff_t *, size_t, unsigned int))dlsym(libc, "splice") },
	};
	if (!arm[1].read || !arm[1].write || !arm[1].lseek || !arm[1].splice)
		return 1;
	int p[2];
	if (pipe(p))
		return 1;
	int fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return 1;
	long pairs = n / (2 * PAIR_CHUNK);
	if (pairs < 1)
		pairs = 1;
	double *r = malloc((size_t)pairs * sizeof *r);
	if (!r)
		return 1;
	static const char *const name[3] = { "pipe", "file", "splice" };
	for (int k = 0; k < 3; k++) {
		if (rounds(&arm[0], k, p, fd, PAIR_CHUNK) < 0 || rounds(&arm[1], k, p, fd, PAIR_CHUNK) < 0)
			return 1;      /* warm-up */
		for (long i = 0; i < pairs; i++) {
			double t[2];
			for (int a = 0; a < 2; a++) {
				int w = i % 2 ? 1 - a : a;     /* each order as often */
				t[w] = rounds(&arm[w], k, p, fd, PAIR_CHUNK);
				if (t[w] < 0)
					return 1;
			}
			r[i] = t[0] / t[1];
		}
		qsort(r, (size_t)pairs, sizeof *r, cmp_double);
		printf("pair_%s %.4f\n", name[k], pairs % 2 ? r[pairs / 2] : (r[pairs / 2 - 1] + r[pairs / 2]) / 2);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	const char *pair = getenv("RW_BENCH_PAIR");
	if (pair && *pair == '1')
		return pair_main(argv[1], atol(argv[2]));
	long n = atol(argv[2]);
	int p[2];
	if (pipe(p))
		return 1;
	int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return 1;
	const struct io self = { read, write, lseek, splice };
	double t[3];
	for (int k = 0; k < 3; k++)
		if ((t[k] = rounds(&self, k, p, fd, n)) < 0)
			return 1;
	printf("pipe %.1f\nfile %.1f\nsplice %.1f\n", t[0] / n, t[1] / n, t[2] / n);
	return 0;
}
