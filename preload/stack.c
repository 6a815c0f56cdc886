/* stack.c - stack capture and symbolization. (stub) */
#include "fsr.h"
#include <execinfo.h>
#include <string.h>

void fsr_stack_capture(struct fsr_stack *s, const char *title)
{
	s->title = title;
	s->n = backtrace(s->pc, FSR_MAX_FRAMES);
}

int fsr_stack_capture_thread(pid_t tid, struct fsr_stack *s, const char *title)
{
	(void)tid; s->title = title; s->n = 0;
	return -1;
}

void fsr_stack_from_pc(struct fsr_stack *s, const char *title, void *pc)
{
	s->title = title; s->n = 1; s->pc[0] = pc;
}
