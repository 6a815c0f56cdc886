/* notifylock_updater.h - the half of notifylock.c (libfuse3 low level) and
 * notifylock2.c (libfuse2 high level) that does not depend on the library:
 * the file's contents under content_lock, which the ops take, and the
 * updating thread outside every op that changes them and tells the kernel
 * so.  Each READ wakes the thread once (read_done); by default it sends the
 * notification while it still holds content_lock (the form libfuse's
 * documentation forbids), with -c (opt_correct) after unlocking.  The
 * including file defines notify_inval(), the library's notification, and
 * ends the thread with updater_stop() after its loop. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t content_lock = PTHREAD_MUTEX_INITIALIZER;
static char content[64] = "0\n";   /* under content_lock */
static unsigned long counter;      /* under content_lock */

static pthread_mutex_t wake_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake_cv = PTHREAD_COND_INITIALIZER;
static unsigned long wakes, reads, notifies, errors;   /* under wake_lock */
static int stopping;
static int opt_correct;

static int notify_inval(void);

/* a READ was answered: wake the thread once */
static void read_done(void)
{
	pthread_mutex_lock(&wake_lock);
	reads++;
	wakes++;
	pthread_cond_signal(&wake_cv);
	pthread_mutex_unlock(&wake_lock);
}

static void notified(int r)
{
	pthread_mutex_lock(&wake_lock);
	notifies++;
	if (r != 0 && r != -ENOENT && r != -ENODEV && r != -EBADF)
		errors++;   /* ENOENT: the kernel had no inode; ENODEV: unmounted meanwhile */
	pthread_mutex_unlock(&wake_lock);
}

/* the updating thread: outside every op */
static void *updater(void *arg)
{
	(void)arg;
	for (;;) {
		pthread_mutex_lock(&wake_lock);
		while (!wakes && !stopping)
			pthread_cond_wait(&wake_cv, &wake_lock);
		if (stopping) {
			pthread_mutex_unlock(&wake_lock);
			return NULL;
		}
		wakes--;
		pthread_mutex_unlock(&wake_lock);

		pthread_mutex_lock(&content_lock);
		snprintf(content, sizeof content, "%lu\n", ++counter);
		if (!opt_correct)   /* the forbidden form: the lock the ops take is held */
			notified(notify_inval());
		pthread_mutex_unlock(&content_lock);
		if (opt_correct)
			notified(notify_inval());
	}
}

static void updater_stop(pthread_t th)
{
	pthread_mutex_lock(&wake_lock);
	stopping = 1;
	pthread_cond_signal(&wake_cv);
	pthread_mutex_unlock(&wake_lock);
	pthread_join(th, NULL);
}
