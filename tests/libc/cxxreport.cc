// cxxreport.cc - a C++ daemon's report: its frames demangled, its SUMMARY
// naming its own frame (not libstdc++'s, not libc's thread start).  Built
// twice: with debug info, and stripped (SUMMARY: module+offset; and with
// no debug info anywhere, what libdw would ask debuginfod for).
#include <fsreclaim.h>
#include <mutex>
#include <thread>
#include <cstdio>
#include <cstring>

namespace fsrt {
struct Box {
	std::mutex m;
	__attribute__((noinline)) void bad_restore()
	{
		std::lock_guard<std::mutex> g(m);
		memalloc_nofs_restore(0x1);      // MARK: cxx restore
	}
};
}

namespace fsrt {
// a std::mutex held while allocating, and reclaim taking it: the lock's
// site is inside <mutex>'s inline functions (at -O0, the program's own
// copy of __gthread_mutex_lock), the SUMMARY must name the daemon's frame
struct Cache {
	std::mutex m;
	int *slot = nullptr;
	__attribute__((noinline)) void grow()
	{
		std::lock_guard<std::mutex> g(m);
		delete slot;
		slot = new int[64];              // MARK: cxx grow
	}
	__attribute__((noinline)) void reclaim()
	{
		fsr_reclaim_acquire(FSR_GFP_FS | FSR_GFP_IO);
		m.lock();
		m.unlock();
		fsr_reclaim_release(FSR_GFP_FS | FSR_GFP_IO);
	}
};
}

int main(int argc, char **argv)
{
	if (argc > 1 && !std::strcmp(argv[1], "inversion")) {
		fsrt::Cache c;
		c.reclaim();
		c.grow();
		std::puts("done");
		return 0;
	}
	fsrt::Box b;
	std::thread t([&b] { b.bad_restore(); });
	t.join();
	// was libdebuginfod loaded into the program to symbolize the report?
	std::FILE *m = std::fopen("/proc/self/maps", "r");
	char line[512];
	bool mapped = false;
	while (m && std::fgets(line, sizeof line, m))
		if (std::strstr(line, "libdebuginfod"))
			mapped = true;
	if (m)
		std::fclose(m);
	std::printf("libdebuginfod %s\n", mapped ? "mapped" : "not mapped");
	std::puts("done");
	return 0;
}
