/* lockwrap.c - pthread/C11 lock interposition. (stub) */
#include "lockdep.h"
