/* rw_bench - the cost of read(2)/write(2) on fds that are not /dev/fuse
 * (what the wire transport's fd test adds to every call): N rounds of a
 * 1-byte write and read on a pipe, then N rounds of a 1-byte write and read
 * at offset 0 of a regular file (lseek between), then N rounds of a 1-byte
 * splice from a pipe into the file and back (the splice interposer's test);
 * ns per round.
 * usage: rw_bench FILE N */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
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

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	long n = atol(argv[2]);
	int p[2];
	char c = 'x';
	if (pipe(p))
		return 1;
	double t0 = now();
	for (long i = 0; i < n; i++)
		if (write(p[1], &c, 1) != 1 || read(p[0], &c, 1) != 1)
			return 1;
	double t1 = now();
	int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return 1;
	for (long i = 0; i < n; i++)
		if (write(fd, &c, 1) != 1 || lseek(fd, 0, SEEK_SET) != 0 || read(fd, &c, 1) != 1 ||
		    lseek(fd, 0, SEEK_SET) != 0)
			return 1;
	double t2 = now();
	for (long i = 0; i < n; i++) {
		loff_t off = 0;
		if (write(p[1], &c, 1) != 1 || splice(p[0], NULL, fd, &off, 1, 0) != 1)
			return 1;
		off = 0;
		if (splice(fd, &off, p[1], NULL, 1, 0) != 1 || read(p[0], &c, 1) != 1)
			return 1;
	}
	double t3 = now();
	printf("pipe %.1f\nfile %.1f\nsplice %.1f\n", (t1 - t0) / n, (t2 - t1) / n, (t3 - t2) / n);
	return 0;
}
