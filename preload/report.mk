# Reports, stacks and symbols.
REPORT_SRCS = preload/report.c preload/stack.c
