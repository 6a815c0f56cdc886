/* devfd_mount - what mount.fuse3 -o drop_privileges or a container runtime
 * does: open /dev/fuse, mount it, and exec the daemon with the mountpoint
 * "/dev/fd/N", so that the daemon never learns where it is mounted.
 *
 * Usage: devfd_mount [--hidden] MOUNTPOINT -- COMMAND ARGS...
 * Each argument "@DEVFD@" of COMMAND becomes "/dev/fd/N".  The mount is
 * "fuse.selfcall" with fd=N,rootmode=40000,user_id=0,group_id=0 (root only).
 * --hidden mounts in a new mount namespace and execs COMMAND back in this
 * one, holding the new namespace (and so the mount) open by an fd: the
 * daemon serves a mount it cannot see, which goes away when it exits.
 * Exit status 77 when /dev/fuse is missing, 1 when it cannot mount. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

int main(int argc, char *argv[])
{
	int hidden = 0, a = 1;
	if (a < argc && strcmp(argv[a], "--hidden") == 0) {
		hidden = 1;
		a++;
	}
	if (argc - a < 3 || strcmp(argv[a + 1], "--") != 0) {
		fprintf(stderr, "usage: %s [--hidden] MOUNTPOINT -- COMMAND ARGS...\n", argv[0]);
		return 2;
	}
	const char *mp = argv[a];
	char **cmd = argv + a + 2;
	int fd = open("/dev/fuse", O_RDWR);   /* inherited by COMMAND: no O_CLOEXEC */
	if (fd < 0) {
		fprintf(stderr, "devfd_mount: /dev/fuse: %s\n", strerror(errno));
		return errno == ENOENT || errno == ENXIO || errno == ENODEV ? 77 : 1;
	}
	int home = -1;
	if (hidden) {
		home = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
		if (home < 0 || unshare(CLONE_NEWNS) != 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
			fprintf(stderr, "devfd_mount: a new mount namespace: %s\n", strerror(errno));
			return 1;
		}
	}
	char opts[128];
	snprintf(opts, sizeof opts, "fd=%d,rootmode=40000,user_id=0,group_id=0", fd);
	if (mount("devfd_mount", mp, "fuse.selfcall", MS_NOSUID | MS_NODEV, opts) != 0) {
		fprintf(stderr, "devfd_mount: mount %s (%s): %s\n", mp, opts, strerror(errno));
		return 1;
	}
	if (hidden) {
		/* keep the new namespace alive while COMMAND runs (this fd is
		 * inherited), then go back to the old one */
		if (open("/proc/self/ns/mnt", O_RDONLY) < 0 || setns(home, CLONE_NEWNS) != 0) {
			fprintf(stderr, "devfd_mount: back to the old mount namespace: %s\n", strerror(errno));
			umount2(mp, MNT_DETACH);
			return 1;
		}
		close(home);
	}
	/* say whether this kernel names the fd's connection (Linux 6.16 on):
	 * the test expects detection, or the shim's notice that it cannot */
	char path[64], buf[4096];
	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
	int fi = open(path, O_RDONLY), named = 0;
	if (fi >= 0) {
		ssize_t n = read(fi, buf, sizeof buf - 1);
		buf[n > 0 ? n : 0] = 0;
		named = strstr(buf, "fuse_connection") != NULL;
		close(fi);
	}
	printf("devfd_mount: connection in fdinfo: %s\n", named ? "yes" : "no");
	fflush(stdout);
	char devfd[32];
	snprintf(devfd, sizeof devfd, "/dev/fd/%d", fd);
	for (char **p = cmd; *p; p++)
		if (strcmp(*p, "@DEVFD@") == 0)
			*p = devfd;
	execvp(cmd[0], cmd);
	fprintf(stderr, "devfd_mount: %s: %s\n", cmd[0], strerror(errno));
	if (!hidden)
		umount2(mp, MNT_DETACH);
	return 1;
}
