/* posix.c DIR - POSIX behaviour of every txfs op, on a mounted txfs.
 *
 * Each check asserts a real result (contents, attributes, error codes),
 * not only the absence of a crash.  Prints one line per failure and a
 * summary; exits 1 if anything failed.
 */
#include <time.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <unistd.h>

static int fails, checks;
static char base[PATH_MAX];

#define CHECK(cond, ...) do {                                           \
	checks++;                                                       \
	if (!(cond)) {                                                  \
		fails++;                                                \
		printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);  \
		printf(__VA_ARGS__);                                    \
		printf(" (errno %s)\n", strerror(errno));               \
	}                                                               \
} while (0)

/* expect a call to fail with a given errno */
#define CHECK_ERR(call, want) do {                                      \
	errno = 0;                                                      \
	int r_ = (call);                                                \
	checks++;                                                       \
	if (r_ != -1 || errno != (want)) {                              \
		fails++;                                                \
		printf("FAIL %s:%d: %s: got %d errno %s, want %s\n",     \
		       __FILE__, __LINE__, #call, r_, strerror(errno),  \
		       strerror(want));                                 \
	}                                                               \
} while (0)

static const char *P(const char *fmt, ...)
{
	static char bufs[8][PATH_MAX];
	static int n;
	char *b = bufs[n++ % 8];
	va_list ap;
	int l = snprintf(b, PATH_MAX, "%s/", base);
	va_start(ap, fmt);
	vsnprintf(b + l, PATH_MAX - l, fmt, ap);
	va_end(ap);
	return b;
}

static void fill(char *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)((i * 131 + seed * 7 + (i >> 12)) & 0xff);
}

static int write_file(const char *path, const char *buf, size_t len)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, buf, len);
	int r = (n == (ssize_t)len && fsync(fd) == 0) ? 0 : -1;
	if (close(fd) < 0)
		r = -1;
	return r;
}

/* whole contents equal to buf? */
static int file_is(const char *path, const char *buf, size_t len)
{
	struct stat st;
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) < 0 || (size_t)st.st_size != len) {
		close(fd);
		return 0;
	}
	char *got = malloc(len + 1);
	ssize_t n = read(fd, got, len + 1);
	int ok = n == (ssize_t)len && memcmp(got, buf, len) == 0;
	free(got);
	close(fd);
	return ok;
}

static void t_create_write_read(void)
{
	char buf[100000], got[100000];
	int fd;
	struct stat st;

	fill(buf, sizeof buf, 1);
	CHECK(write_file(P("f1"), buf, sizeof buf) == 0, "write f1");
	CHECK(file_is(P("f1"), buf, sizeof buf), "f1 contents");
	CHECK(stat(P("f1"), &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 100000 &&
	      (st.st_mode & 07777) == 0644 && st.st_nlink == 1, "f1 attrs");

	/* pread/pwrite across page boundaries, unaligned */
	fd = open(P("f1"), O_RDWR);
	CHECK(fd >= 0, "open f1 rw");
	CHECK(pwrite(fd, "ABCDEFGH", 8, 4093) == 8, "pwrite across page");
	memcpy(buf + 4093, "ABCDEFGH", 8);
	CHECK(pread(fd, got, 20, 4090) == 20 && memcmp(got, buf + 4090, 20) == 0, "pread across page");
	CHECK(pread(fd, got, 10, 100000) == 0, "read at EOF");
	CHECK(pread(fd, got, 100, 99950) == 50, "short read at end");
	/* write past EOF leaves a hole of zeros */
	CHECK(pwrite(fd, "Z", 1, 200000) == 1, "pwrite past EOF");
	CHECK(fstat(fd, &st) == 0 && st.st_size == 200001, "size after hole write");
	memset(got, 1, 1000);
	CHECK(pread(fd, got, 1000, 150000) == 1000, "read hole");
	int zero = 1;
	for (int i = 0; i < 1000; i++)
		zero &= got[i] == 0;
	CHECK(zero, "hole reads zeros");
	CHECK(fsync(fd) == 0, "fsync");
	CHECK(fdatasync(fd) == 0, "fdatasync");
	CHECK(close(fd) == 0, "close (flush)");

	/* O_EXCL on an existing file */
	CHECK_ERR(open(P("f1"), O_CREAT | O_EXCL | O_WRONLY, 0644), EEXIST);
	/* O_APPEND */
	fd = open(P("f2"), O_CREAT | O_WRONLY | O_APPEND, 0600);
	CHECK(fd >= 0, "create f2");
	CHECK(write(fd, "hello ", 6) == 6 && write(fd, "world", 5) == 5, "append");
	close(fd);
	CHECK(file_is(P("f2"), "hello world", 11), "f2 appended");
	CHECK(stat(P("f2"), &st) == 0 && (st.st_mode & 0777) == 0600, "f2 mode 0600");
	/* O_TRUNC */
	fd = open(P("f2"), O_WRONLY | O_TRUNC);
	CHECK(fd >= 0, "open O_TRUNC");
	close(fd);
	CHECK(stat(P("f2"), &st) == 0 && st.st_size == 0, "O_TRUNC empties");
}

static void t_lookup_errors(void)
{
	struct stat st;
	char name[300];

	CHECK_ERR(stat(P("nope"), &st), ENOENT);
	CHECK_ERR(open(P("nope"), O_RDONLY), ENOENT);
	CHECK_ERR(open(P("nodir/x"), O_CREAT | O_WRONLY, 0644), ENOENT);
	CHECK(write_file(P("plain"), "x", 1) == 0, "plain");
	CHECK_ERR(stat(P("plain/x"), &st), ENOTDIR);
	CHECK_ERR(mkdir(P("plain/x"), 0755), ENOTDIR);
	CHECK_ERR(open(P("plain/x"), O_CREAT | O_WRONLY, 0644), ENOTDIR);

	/* 255 is the longest name, 256 is too long */
	memset(name, 'n', 255);
	name[255] = 0;
	CHECK(write_file(P("%s", name), "y", 1) == 0, "255-byte name");
	CHECK(stat(P("%s", name), &st) == 0 && st.st_size == 1, "stat 255-byte name");
	CHECK(unlink(P("%s", name)) == 0, "unlink 255-byte name");
	memset(name, 'n', 256);
	name[256] = 0;
	CHECK_ERR(open(P("%s", name), O_CREAT | O_WRONLY, 0644), ENAMETOOLONG);
	CHECK_ERR(mkdir(P("%s", name), 0755), ENAMETOOLONG);
	CHECK_ERR(stat(P("%s", name), &st), ENAMETOOLONG);
	CHECK_ERR(symlink("t", P("%s", name)), ENAMETOOLONG);
	CHECK_ERR(link(P("plain"), P("%s", name)), ENAMETOOLONG);
	CHECK_ERR(rename(P("plain"), P("%s", name)), ENAMETOOLONG);
	CHECK(stat(P("plain"), &st) == 0, "plain survives failed rename");
}

static void t_dirs(void)
{
	struct stat st, st2;

	CHECK(stat(P("."), &st) == 0, "stat base");
	nlink_t base_links = st.st_nlink;
	CHECK(mkdir(P("d"), 0750) == 0, "mkdir d");
	CHECK(stat(P("d"), &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0750 &&
	      st.st_nlink == 2, "d attrs");
	CHECK(stat(P("."), &st2) == 0 && st2.st_nlink == base_links + 1, "parent nlink +1");
	CHECK_ERR(mkdir(P("d"), 0755), EEXIST);
	CHECK_ERR(mkdir(P("f1"), 0755), EEXIST);
	CHECK(mkdir(P("d/sub"), 0755) == 0, "mkdir d/sub");
	CHECK(write_file(P("d/file"), "abc", 3) == 0, "d/file");
	CHECK_ERR(rmdir(P("d")), ENOTEMPTY);
	CHECK_ERR(rmdir(P("d/file")), ENOTDIR);
	CHECK_ERR(unlink(P("d/sub")), EISDIR);
	CHECK_ERR(open(P("d"), O_WRONLY), EISDIR);
	CHECK_ERR(rmdir(P("d/nope")), ENOENT);
	CHECK_ERR(unlink(P("d/nope")), ENOENT);
	CHECK(unlink(P("d/file")) == 0, "unlink d/file");
	CHECK_ERR(stat(P("d/file"), &st), ENOENT);
	CHECK(rmdir(P("d/sub")) == 0, "rmdir d/sub");
	CHECK(stat(P("d"), &st) == 0 && st.st_nlink == 2, "d nlink back to 2");
	CHECK(rmdir(P("d")) == 0, "rmdir d");
	CHECK_ERR(stat(P("d"), &st), ENOENT);
	CHECK(stat(P("."), &st2) == 0 && st2.st_nlink == base_links, "parent nlink back");
}

static int cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void t_readdir(void)
{
	enum { N = 700 };       /* several readdir buffers */
	char *names[N + 8];
	int n = 0, dot = 0, dotdot = 0, bad_type = 0;

	CHECK(mkdir(P("rd"), 0755) == 0, "mkdir rd");
	for (int i = 0; i < N; i++) {
		int fd = open(P("rd/entry-with-a-longish-name-%04d", i), O_CREAT | O_WRONLY, 0644);
		if (fd >= 0)
			close(fd);
		else
			CHECK(0, "create rd/%d", i);
	}
	CHECK(mkdir(P("rd/zdir"), 0755) == 0, "rd/zdir");
	DIR *d = opendir(P("rd"));
	CHECK(d != NULL, "opendir");
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".")) {
			dot++;
			continue;
		}
		if (!strcmp(de->d_name, "..")) {
			dotdot++;
			continue;
		}
		if (!strcmp(de->d_name, "zdir"))
			bad_type += de->d_type != DT_DIR;
		else
			bad_type += de->d_type != DT_REG;
		if (n < N + 8)
			names[n++] = strdup(de->d_name);
	}
	CHECK(closedir(d) == 0, "closedir");
	CHECK(dot == 1 && dotdot == 1, ". and .. once each");
	CHECK(n == N + 1, "%d entries, want %d", n, N + 1);
	CHECK(bad_type == 0, "d_type wrong %d times", bad_type);
	qsort(names, n, sizeof *names, cmpstr);
	int dup = 0;
	for (int i = 1; i < n; i++)
		dup += !strcmp(names[i - 1], names[i]);
	CHECK(dup == 0, "%d duplicate names", dup);
	for (int i = 0; i < n; i++)
		free(names[i]);

	/* entries removed while listing are not returned twice */
	for (int i = 0; i < N; i++)
		unlink(P("rd/entry-with-a-longish-name-%04d", i));
	rmdir(P("rd/zdir"));
	d = opendir(P("rd"));
	n = 0;
	while (d && (de = readdir(d)))
		n++;
	if (d)
		closedir(d);
	CHECK(n == 2, "empty dir lists only . and .. (%d)", n);
	CHECK(rmdir(P("rd")) == 0, "rmdir rd");
}

static void t_setattr(void)
{
	char buf[10000];
	struct stat st;
	int fd;

	fill(buf, sizeof buf, 2);
	CHECK(write_file(P("sa"), buf, sizeof buf) == 0, "sa");
	CHECK(truncate(P("sa"), 5000) == 0, "truncate shrink");
	CHECK(file_is(P("sa"), buf, 5000), "shrunk contents");
	CHECK(truncate(P("sa"), 9000) == 0, "truncate grow");
	memset(buf + 5000, 0, 4000);
	CHECK(file_is(P("sa"), buf, 9000), "grown part is zeros");
	fd = open(P("sa"), O_RDWR);
	CHECK(fd >= 0 && ftruncate(fd, 0) == 0, "ftruncate 0");
	CHECK(fstat(fd, &st) == 0 && st.st_size == 0, "size 0");
	CHECK(pwrite(fd, "q", 1, 3) == 1, "write after truncate");
	close(fd);
	CHECK(file_is(P("sa"), "\0\0\0q", 4), "no stale data after truncate");

	CHECK(chmod(P("sa"), 0604) == 0, "chmod");
	CHECK(stat(P("sa"), &st) == 0 && (st.st_mode & 07777) == 0604 && S_ISREG(st.st_mode),
	      "mode after chmod");
	struct timespec ts[2] = { { 1000000000, 123456789 }, { 1200000000, 987654321 } };
	CHECK(utimensat(AT_FDCWD, P("sa"), ts, 0) == 0, "utimensat");
	CHECK(stat(P("sa"), &st) == 0 && st.st_atim.tv_sec == 1000000000 &&
	      st.st_atim.tv_nsec == 123456789 && st.st_mtim.tv_sec == 1200000000 &&
	      st.st_mtim.tv_nsec == 987654321, "times set");
	struct timespec before;
	clock_gettime(CLOCK_REALTIME, &before);
	CHECK(utimensat(AT_FDCWD, P("sa"), NULL, 0) == 0, "utimensat now");
	CHECK(stat(P("sa"), &st) == 0 && st.st_mtim.tv_sec >= before.tv_sec - 1, "mtime now");
	CHECK(chown(P("sa"), 1234, 5678) == 0, "chown");
	CHECK(stat(P("sa"), &st) == 0 && st.st_uid == 1234 && st.st_gid == 5678, "owner");
	CHECK(mkdir(P("sadir"), 0755) == 0, "sadir");
	CHECK_ERR(truncate(P("sadir"), 0), EISDIR);
	CHECK(rmdir(P("sadir")) == 0, "rmdir sadir");
	CHECK(unlink(P("sa")) == 0, "unlink sa");
}

static void t_rename(void)
{
	struct stat st, st2;

	CHECK(write_file(P("ra"), "AAAA", 4) == 0 && write_file(P("rb"), "BB", 2) == 0, "ra rb");
	CHECK(stat(P("ra"), &st) == 0, "stat ra");
	CHECK(rename(P("ra"), P("rc")) == 0, "rename ra rc");
	CHECK_ERR(stat(P("ra"), &st2), ENOENT);
	CHECK(stat(P("rc"), &st2) == 0 && st2.st_ino == st.st_ino, "rc is the old ra");
	CHECK_ERR(rename(P("nope"), P("x")), ENOENT);

	/* replace an existing file */
	CHECK(rename(P("rc"), P("rb")) == 0, "rename over rb");
	CHECK(file_is(P("rb"), "AAAA", 4), "rb replaced");
	CHECK_ERR(stat(P("rc"), &st2), ENOENT);

	/* RENAME_NOREPLACE */
	CHECK(write_file(P("rn"), "N", 1) == 0, "rn");
	CHECK_ERR(renameat2(AT_FDCWD, P("rn"), AT_FDCWD, P("rb"), RENAME_NOREPLACE), EEXIST);
	CHECK(file_is(P("rb"), "AAAA", 4) && file_is(P("rn"), "N", 1), "NOREPLACE kept both");
	CHECK(renameat2(AT_FDCWD, P("rn"), AT_FDCWD, P("rn2"), RENAME_NOREPLACE) == 0,
	      "NOREPLACE to a free name");
	CHECK(file_is(P("rn2"), "N", 1), "rn2");

	/* RENAME_EXCHANGE */
	CHECK(renameat2(AT_FDCWD, P("rn2"), AT_FDCWD, P("rb"), RENAME_EXCHANGE) == 0, "EXCHANGE");
	CHECK(file_is(P("rb"), "N", 1) && file_is(P("rn2"), "AAAA", 4), "exchanged");
	CHECK_ERR(renameat2(AT_FDCWD, P("rb"), AT_FDCWD, P("nope"), RENAME_EXCHANGE), ENOENT);
	CHECK(mkdir(P("rx"), 0755) == 0 && write_file(P("rx/in"), "I", 1) == 0, "rx/in");
	CHECK(renameat2(AT_FDCWD, P("rx"), AT_FDCWD, P("rb"), RENAME_EXCHANGE) == 0,
	      "EXCHANGE dir and file");
	CHECK(file_is(P("rb/in"), "I", 1) && file_is(P("rx"), "N", 1), "dir/file exchanged");
	CHECK(unlink(P("rx")) == 0 && unlink(P("rb/in")) == 0 && rmdir(P("rb")) == 0 &&
	      unlink(P("rn2")) == 0, "cleanup exchange");

	/* directories */
	CHECK(mkdir(P("r1"), 0755) == 0 && mkdir(P("r2"), 0755) == 0 &&
	      mkdir(P("r2/full"), 0755) == 0 && write_file(P("r2/full/x"), "x", 1) == 0 &&
	      write_file(P("rf"), "f", 1) == 0, "dir setup");
	CHECK_ERR(rename(P("r1"), P("r2/full")), ENOTEMPTY);
	CHECK_ERR(rename(P("r1"), P("rf")), ENOTDIR);
	CHECK_ERR(rename(P("rf"), P("r1")), EISDIR);
	CHECK_ERR(rename(P("r2"), P("r2/full/sub")), EINVAL);
	CHECK(stat(P("r2"), &st) == 0 && st.st_nlink == 3, "r2 nlink 3");
	CHECK(rename(P("r1"), P("r2/moved")) == 0, "move dir into r2");
	CHECK(stat(P("r2"), &st) == 0 && st.st_nlink == 4, "r2 nlink 4");
	CHECK(mkdir(P("r1"), 0755) == 0, "recreate r1");
	CHECK(rename(P("r2/moved"), P("r1")) == 0, "dir over empty dir");
	CHECK(stat(P("r2"), &st) == 0 && st.st_nlink == 3, "r2 nlink 3 again");
	/* .. of a moved directory is its new parent */
	CHECK(stat(P("r2/full/.."), &st) == 0 && stat(P("r2"), &st2) == 0 &&
	      st.st_ino == st2.st_ino, "..");
	CHECK(unlink(P("r2/full/x")) == 0 && rmdir(P("r2/full")) == 0 && rmdir(P("r2")) == 0 &&
	      rmdir(P("r1")) == 0 && unlink(P("rf")) == 0,
	      "cleanup rename");
}

static void t_links(void)
{
	struct stat st, st2;
	char buf[PATH_MAX];

	CHECK(write_file(P("l1"), "link", 4) == 0, "l1");
	CHECK(link(P("l1"), P("l2")) == 0, "link");
	CHECK(stat(P("l1"), &st) == 0 && stat(P("l2"), &st2) == 0 && st.st_ino == st2.st_ino &&
	      st.st_nlink == 2, "same inode, nlink 2");
	CHECK_ERR(link(P("l1"), P("l2")), EEXIST);
	CHECK_ERR(link(P("nope"), P("l3")), ENOENT);
	CHECK(mkdir(P("ldir"), 0755) == 0, "ldir");
	CHECK_ERR(link(P("ldir"), P("ldir2")), EPERM);
	CHECK(rename(P("l1"), P("l2")) == 0 && stat(P("l1"), &st) == 0, "rename between links is a no-op");
	CHECK(unlink(P("l1")) == 0, "unlink l1");
	CHECK(stat(P("l2"), &st) == 0 && st.st_nlink == 1 && file_is(P("l2"), "link", 4),
	      "l2 survives");

	CHECK(symlink("l2", P("s1")) == 0, "symlink");
	CHECK(lstat(P("s1"), &st) == 0 && S_ISLNK(st.st_mode) && st.st_size == 2, "lstat symlink");
	ssize_t n = readlink(P("s1"), buf, sizeof buf);
	CHECK(n == 2 && memcmp(buf, "l2", 2) == 0, "readlink");
	CHECK(file_is(P("s1"), "link", 4), "follow symlink");
	CHECK_ERR(symlink("x", P("s1")), EEXIST);
	CHECK_ERR(readlink(P("l2"), buf, sizeof buf), EINVAL);
	CHECK(symlink("/nowhere/at/all", P("s2")) == 0, "dangling symlink");
	CHECK_ERR(stat(P("s2"), &st), ENOENT);
	char longt[4000];
	memset(longt, 't', sizeof longt - 1);
	longt[sizeof longt - 1] = 0;
	CHECK(symlink(longt, P("s3")) == 0 && readlink(P("s3"), buf, sizeof buf) == 3999,
	      "long symlink target");
	CHECK(unlink(P("s1")) == 0 && unlink(P("s2")) == 0 && unlink(P("s3")) == 0 &&
	      unlink(P("l2")) == 0 && rmdir(P("ldir")) == 0, "cleanup links");
}

static void t_open_unlinked(void)
{
	char buf[20000], got[20000];
	fill(buf, sizeof buf, 3);
	int fd = open(P("ou"), O_CREAT | O_RDWR, 0644);
	CHECK(fd >= 0 && write(fd, buf, sizeof buf) == (ssize_t)sizeof buf, "ou");
	CHECK(unlink(P("ou")) == 0, "unlink open file");
	struct stat st;
	CHECK_ERR(stat(P("ou"), &st), ENOENT);
	CHECK(pread(fd, got, sizeof got, 0) == (ssize_t)sizeof got &&
	      memcmp(got, buf, sizeof got) == 0, "read unlinked open file");
	CHECK(fstat(fd, &st) == 0 && st.st_nlink == 0, "nlink 0");
	CHECK(close(fd) == 0, "close unlinked");
}

static void t_statfs(void)
{
	struct statvfs sv;
	CHECK(statvfs(base, &sv) == 0, "statvfs");
	CHECK(sv.f_namemax == 255 && sv.f_bsize == 4096 && sv.f_blocks > 0 &&
	      sv.f_bfree <= sv.f_blocks && sv.f_files > 0, "statvfs values");
}

static void t_big(void)
{
	size_t len = 3u << 20;
	char *buf = malloc(len);
	fill(buf, len, 9);
	CHECK(write_file(P("big"), buf, len) == 0, "3 MiB file");
	CHECK(file_is(P("big"), buf, len), "3 MiB contents");
	CHECK(unlink(P("big")) == 0, "unlink big");
	free(buf);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	snprintf(base, sizeof base, "%s/posix.%d", argv[1], (int)getpid());
	if (mkdir(base, 0755) < 0) {
		perror(base);
		return 1;
	}
	umask(022);
	t_create_write_read();
	t_lookup_errors();
	t_dirs();
	t_readdir();
	t_setattr();
	t_rename();
	t_links();
	t_open_unlinked();
	t_statfs();
	t_big();
	unlink(P("f1"));
	unlink(P("f2"));
	unlink(P("plain"));
	CHECK(rmdir(base) == 0, "rmdir base (everything cleaned up)");
	printf("posix: %d checks, %d failed\n", checks, fails);
	return fails ? 1 : 0;
}
