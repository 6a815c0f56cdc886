/* replay.c - run a fuzz target's LLVMFuzzerTestOneInput on files, without
 * libFuzzer: `replay_TARGET DIR_OR_FILE...`.  make check runs it on the
 * seed corpus and on every regression input (crashes found by fuzzing). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		return -1;
	}
	static unsigned char buf[1 << 20];
	size_t n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	unsigned char *copy = malloc(n ? n : 1);   /* exact size: overreads show under ASan */
	memcpy(copy, buf, n);
	LLVMFuzzerTestOneInput(copy, n);
	free(copy);
	return 0;
}

int main(int argc, char **argv)
{
	int files = 0, bad = 0;
	for (int a = 1; a < argc; a++) {
		struct stat st;
		if (stat(argv[a], &st)) {
			perror(argv[a]);
			bad++;
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			bad += run_file(argv[a]) != 0;
			files++;
			continue;
		}
		DIR *d = opendir(argv[a]);
		struct dirent *e;
		while (d && (e = readdir(d))) {
			if (e->d_name[0] == '.' || !strcmp(e->d_name, "README"))
				continue;
			char p[4096];
			snprintf(p, sizeof p, "%s/%s", argv[a], e->d_name);
			bad += run_file(p) != 0;
			files++;
		}
		if (d)
			closedir(d);
	}
	printf("%s: %d inputs replayed\n", argv[0], files);
	return bad ? 1 : 0;
}
