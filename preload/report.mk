# Reports, stacks and symbols.
REPORT_SRCS = preload/report.c preload/stack.c preload/symbols.c preload/symbols.h
