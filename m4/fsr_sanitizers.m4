# FSR_SANITIZERS: --enable-sanitizers=asan|tsan builds the shim's core, txfs
# and the unit tests with AddressSanitizer+UBSan or ThreadSanitizer.  The
# interposer itself (libfsreclaim.so) cannot run under a sanitizer's own
# malloc, so the tests that preload it are left out of such a build.
# UBSan's null check is off (-fno-sanitize=null): GCC 12 tested a pointer
# to the thread's own TLS block (t = &fsr_self) with the flags of an
# unrelated compare before it (lock.c fsr_lock_learn, lockdep.h
# fsr_lock_take_class: a null-pointer abort whenever a class was 0); a
# null dereference still faults, and ASan reports it.
AC_DEFUN([FSR_SANITIZERS], [
AC_ARG_ENABLE([sanitizers],
  [AS_HELP_STRING([--enable-sanitizers=asan|tsan], [build core, txfs and unit tests with sanitizers])],
  [], [enable_sanitizers=no])
SAN_CFLAGS=
AS_CASE([$enable_sanitizers],
  [asan], [SAN_CFLAGS="-fsanitize=address,undefined -fno-sanitize=null -fno-sanitize-recover=undefined -fno-omit-frame-pointer"],
  [tsan], [SAN_CFLAGS="-fsanitize=thread -fno-omit-frame-pointer"],
  [no],   [],
  [AC_MSG_ERROR([--enable-sanitizers takes asan or tsan, not '$enable_sanitizers'])])
AC_SUBST([SAN_CFLAGS])
AM_CONDITIONAL([SANITIZED], [test "x$enable_sanitizers" != xno])
])
