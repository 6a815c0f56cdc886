/* txfs.c - main: options, replay, mount, the session loop.
 *
 *   txfs [fuse options] [-o journal=FILE] [-o hazard=MODE] MOUNTPOINT
 *   txfs --dump-journal FILE
 *
 * Multi-threaded unless -s.  Without -o journal everything stays in memory.
 */
#include "txfs.h"
#include <fsreclaim.h>

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


struct txfs_opts {
	char *journal;
	char *hazard;
};

#define OPT(t, p) { t, offsetof(struct txfs_opts, p), 1 }
static const struct fuse_opt txfs_opt_spec[] = {
	OPT("journal=%s", journal),
	OPT("hazard=%s", hazard),
	FUSE_OPT_END
};

static void usage(const char *prog)
{
	printf("usage: %s [options] MOUNTPOINT\n"
	       "       %s --dump-journal FILE     print the records\n"
	       "       %s --check-journal FILE    replay in memory, print a summary\n\n"
	       "txfs options:\n"
	       "    -o journal=FILE        persist to (and replay) this journal\n"
	       "    -o hazard=MODE         none nofs-missing noio-missing txn-nesting\n"
	       "                           scope-leak needless-nofs own-mount\n"
	       "                           gfp-kernel-under-lock vmalloc-nofs needless-gfp-nofs\n\n",
	       prog, prog, prog);
}

/* an absolute path for a file that may not exist yet */
static char *abs_path(const char *p)
{
	char cwd[PATH_MAX], *r;
	if (p[0] == '/')
		return strdup(p);
	if (!getcwd(cwd, sizeof cwd))
		return NULL;
	r = malloc(strlen(cwd) + strlen(p) + 2);
	if (r)
		sprintf(r, "%s/%s", cwd, p);
	return r;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts co;
	struct txfs_opts opts = { 0 };
	struct fuse_session *se;
	char *journal = NULL;
	int ret = 1;

	if (argc == 3 && strcmp(argv[1], "--dump-journal") == 0)
		return journal_dump(argv[2]);
	if (argc == 3 && strcmp(argv[1], "--check-journal") == 0)
		return journal_check(argv[2]);

	if (fuse_opt_parse(&args, &opts, txfs_opt_spec, NULL) == -1)
		return 2;
	if (fuse_parse_cmdline(&args, &co) != 0)
		return 2;
	if (co.show_help) {
		usage(argv[0]);
		fuse_cmdline_help();
		fuse_lowlevel_help();
		ret = 0;
		goto out_args;
	}
	if (co.show_version) {
		printf("txfs (fsreclaim) FUSE library %s\n", fuse_pkgversion());
		fuse_lowlevel_version();
		ret = 0;
		goto out_args;
	}
	if (!co.mountpoint) {
		fprintf(stderr, "txfs: no mountpoint (see --help)\n");
		ret = 2;
		goto out_args;
	}
	if (opts.hazard && hazard_parse(opts.hazard, &txfs_hazard)) {
		fprintf(stderr, "txfs: unknown hazard mode '%s' (none nofs-missing "
			"noio-missing txn-nesting scope-leak needless-nofs own-mount "
			"gfp-kernel-under-lock vmalloc-nofs needless-gfp-nofs)\n",
			opts.hazard);
		ret = 2;
		goto out_args;
	}
	txfs_mountpoint = realpath(co.mountpoint, NULL);
	if (!txfs_mountpoint) {
		fprintf(stderr, "txfs: mountpoint %s: %s\n", co.mountpoint, strerror(errno));
		ret = 2;
		goto out_args;
	}
	/* the kernel checks permissions from our attributes */
	fuse_opt_add_arg(&args, "-odefault_permissions");
	fuse_opt_add_arg(&args, "-ofsname=txfs");
	fuse_opt_add_arg(&args, "-osubtype=txfs");

	tree_init();
	if (opts.journal) {
		journal = abs_path(opts.journal);
		if (!journal || journal_open(journal) < 0) {
			ret = 1;
			goto out_tree;
		}
	}

	se = fuse_session_new(&args, &txfs_ops, sizeof txfs_ops, NULL);
	if (!se)
		goto out_journal;
	if (fuse_set_signal_handlers(se) != 0)
		goto out_session;
	if (fuse_session_mount(se, co.mountpoint) != 0)
		goto out_signals;

	prime_reclaim_graph();
	shrink_register();
	fuse_daemonize(co.foreground);

	if (co.singlethread) {
		ret = fuse_session_loop(se);
	} else {
		struct fuse_loop_config cfg = {
			.clone_fd = co.clone_fd,
			.max_idle_threads = co.max_idle_threads == UINT_MAX ? 10 : co.max_idle_threads,
		};
		ret = fuse_session_loop_mt(se, &cfg);
	}
	ret = ret < 0 ? 1 : 0;  /* a signal ending the loop is a normal exit */
	shrink_unregister();
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out_journal:
	journal_close();
out_tree:
	pthread_mutex_lock(&journal_lock);
	tree_destroy();
	pthread_mutex_unlock(&journal_lock);
	free(journal);
out_args:
	free(co.mountpoint);
	free(opts.journal);
	free(opts.hazard);
	free((char *)txfs_mountpoint);
	fuse_opt_free_args(&args);
	return ret;
}
