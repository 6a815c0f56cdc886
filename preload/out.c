/* out.c - where reports and stats go.
 *
 * stderr means a duplicate of fd 2 taken when the shim loads, so a daemon
 * that daemonizes (fd 2 -> /dev/null) still reports.  log_path and
 * json_path write PATH.PID, created without following symlinks, mode 0644.
 * Before each write the fd is checked (fstat) to still be the file we
 * opened: a daemon that closed it and reused the number never gets a
 * report in its own file. */
#include "fsr.h"
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct sink {
	int fd;
	dev_t dev;
	ino_t ino;
	const char *path;   /* base path (log_path/json_path), NULL for stderr */
};

static struct sink log_sink = { -1, 0, 0, NULL }, json_sink = { -1, 0, 0, NULL };
static struct fsr_mutex out_lock;

static int sink_open(struct sink *s, const char *base, char *err, size_t errlen, const char *key)
{
	char path[4200];
	fsr_fmt(path, sizeof path, "%s.%d", base, (int)getpid());
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		if (err)
			fsr_fmt(err, errlen, "fsreclaim: error: FSRECLAIM_OPTIONS: %s: cannot create '%s': %s",
				key, path, strerror(errno));
		return -1;
	}
	/* keep it away from the low numbers a daemon expects to own */
	int hi = fcntl(fd, F_DUPFD_CLOEXEC, 600);
	if (hi >= 0) {
		close(fd);
		fd = hi;
	}
	struct stat st;
	fstat(fd, &st);
	s->fd = fd;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->path = base;
	return 0;
}

int fsr_out_init(char *err, size_t errlen)
{
	struct stat st;
	log_sink.fd = json_sink.fd = -1;
	if (fsr_opt.log_path[0]) {
		if (sink_open(&log_sink, fsr_opt.log_path, err, errlen, "log_path"))
			return -1;
	} else if (fstat(2, &st) == 0) {
		log_sink.fd = fcntl(2, F_DUPFD_CLOEXEC, 600);
		if (log_sink.fd < 0)
			log_sink.fd = fcntl(2, F_DUPFD_CLOEXEC, 3);
		log_sink.dev = st.st_dev;
		log_sink.ino = st.st_ino;
	}
	if (fsr_opt.json_path[0] && sink_open(&json_sink, fsr_opt.json_path, err, errlen, "json_path"))
		return -1;
	return 0;
}

/* the fd is still what we opened? else reopen (files) or drop (stderr) */
static int sink_check(struct sink *s)
{
	struct stat st;
	if (s->fd < 0)
		return -1;
	if (fstat(s->fd, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino)
		return 0;
	s->fd = -1;
	if (s->path)
		return sink_open(s, s->path, NULL, 0, NULL);
	return -1;
}

static void sink_write(struct sink *s, const char *buf, size_t len)
{
	int e = errno;
	fsr_mutex_lock(&out_lock);
	if (sink_check(s) == 0)
		(void)fsr_write_all(s->fd, buf, len);
	fsr_mutex_unlock(&out_lock);
	errno = e;
}

void fsr_out_write(const char *buf, size_t len) { sink_write(&log_sink, buf, len); }
void fsr_out_json(const char *buf, size_t len) { sink_write(&json_sink, buf, len); }

void fsr_out_atfork_child(void)
{
	out_lock.v = 0;
	/* a forked child writes its own PATH.PID */
	if (log_sink.path && log_sink.fd >= 0) {
		close(log_sink.fd);
		sink_open(&log_sink, log_sink.path, NULL, 0, NULL);
	}
	if (json_sink.path && json_sink.fd >= 0) {
		close(json_sink.fd);
		sink_open(&json_sink, json_sink.path, NULL, 0, NULL);
	}
}
