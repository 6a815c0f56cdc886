/* shape_main.c - the program of the shared-library shape: it does not
 * include fsreclaim.h; libshape.so (shape.c) does. */
#include <string.h>
int shape_run(int shim);
int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	return shape_run(!strcmp(argv[1], "shim"));
}
