/* common.h - helpers shared by the core tests: run a program (optionally
 * with the shim preloaded and FSRECLAIM_OPTIONS set), capture its stdout and
 * stderr, and find the shim in the build tree. */
#ifndef FSR_TEST_COMMON_H
#define FSR_TEST_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define RUN_BUF (256 * 1024)

struct run {
	int status;          /* exit status, or 128+signal */
	char out[RUN_BUF];   /* stdout, NUL-terminated */
	size_t outn;
	char err[RUN_BUF];   /* stderr, NUL-terminated */
	size_t errn;
};

/* the shim: $FSR_SHIM, else $top_builddir/preload/.libs/libfsreclaim.so */
static inline const char *shim_path(void)
{
	static char buf[4096];
	const char *e = getenv("FSR_SHIM");
	if (e && *e)
		return e;
	const char *b = getenv("top_builddir");
	snprintf(buf, sizeof buf, "%s/preload/.libs/libfsreclaim.so", b && *b ? b : ".");
	return buf;
}

static inline const char *builddir(void)
{
	const char *b = getenv("top_builddir");
	return b && *b ? b : ".";
}

typedef void (*prehook_fn)(void *);

/* Run argv.  preload: LD_PRELOAD the shim (else LD_PRELOAD is removed).
 * opts: FSRECLAIM_OPTIONS (NULL: unset).  env: extra "K=V" strings (NULL
 * terminated, may be NULL).  hook: called in the child just before exec. */
static inline int run_prog(struct run *r, char *const argv[], int preload, const char *opts,
			   const char *const *env, prehook_fn hook, void *hookarg)
{
	int po[2], pe[2];
	if (pipe(po) || pipe(pe))
		return -1;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(po[1], 1);
		dup2(pe[1], 2);
		close(po[0]); close(po[1]); close(pe[0]); close(pe[1]);
		if (preload)
			setenv("LD_PRELOAD", shim_path(), 1);
		else
			unsetenv("LD_PRELOAD");
		if (opts)
			setenv("FSRECLAIM_OPTIONS", opts, 1);
		else
			unsetenv("FSRECLAIM_OPTIONS");
		unsetenv("FSRECLAIM_TEST_SECURE");
		for (; env && *env; env++)
			putenv((char *)*env);
		if (hook)
			hook(hookarg);
		execv(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	r->outn = r->errn = 0;
	struct pollfd fds[2] = { { po[0], POLLIN, 0 }, { pe[0], POLLIN, 0 } };
	int open_fds = 2;
	while (open_fds) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < 2; i++) {
			if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			char *buf = i ? r->err : r->out;
			size_t *n = i ? &r->errn : &r->outn;
			char tmp[8192];
			ssize_t k = read(fds[i].fd, tmp, sizeof tmp);
			if (k <= 0) {
				close(fds[i].fd);
				fds[i].fd = -1;
				open_fds--;
				continue;
			}
			size_t room = RUN_BUF - 1 - *n;
			size_t take = (size_t)k < room ? (size_t)k : room;
			memcpy(buf + *n, tmp, take);
			*n += take;
		}
	}
	r->out[r->outn] = 0;
	r->err[r->errn] = 0;
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return 0;
}

/* value of "key=" on a line of s, as a long (or -1) */
static inline long kv(const char *s, const char *key)
{
	size_t kl = strlen(key);
	for (const char *p = s; p && *p; ) {
		if (!strncmp(p, key, kl) && p[kl] == '=')
			return strtol(p + kl + 1, NULL, 10);
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

/* the text after "key=" up to the end of its line (static buffer) */
static inline const char *kvs(const char *s, const char *key)
{
	static char buf[65536];
	size_t kl = strlen(key);
	for (const char *p = s; p && *p; ) {
		if (!strncmp(p, key, kl) && p[kl] == '=') {
			const char *e = strchr(p, '\n');
			size_t n = e ? (size_t)(e - p - kl - 1) : strlen(p + kl + 1);
			if (n >= sizeof buf)
				n = sizeof buf - 1;
			memcpy(buf, p + kl + 1, n);
			buf[n] = 0;
			return buf;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

#endif
