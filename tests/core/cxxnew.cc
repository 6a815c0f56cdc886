// cxxnew.cc - C++ operator new/delete through the interposed malloc family.
// Run under the shim with interval=1 mode=inline: every new reaches a pass.
#include <fsreclaim.h>
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <new>
#include <string>
#include <vector>
#include <map>
#include <memory>
#include <dlfcn.h>

static volatile unsigned long scans;   /* volatile: malloc is `leaf` in glibc's headers */
static unsigned long cnt(fsr_shrinker *, unsigned int) { return 1; }
static unsigned long scan(fsr_shrinker *, unsigned long, unsigned int) { scans++; return 1; }

struct alignas(256) Big { char x[1000]; };

int main()
{
	fsr_shrinker sh = { "cxx", cnt, scan, FSR_SHRINKER_FS, nullptr };
	int shim = &fsr_api != nullptr;
	fsr_register_shrinker(&sh);
	int bad = 0;
	unsigned long s0 = scans;
	int *p = new int(5);
	delete p;
	if (shim && scans == s0) bad |= 1;
	s0 = scans;
	int *arr = new int[1000];
	delete[] arr;
	if (shim && scans == s0) bad |= 2;
	// aligned new (C++17): aligned_alloc underneath
	s0 = scans;
	Big *b = new Big;
	if (reinterpret_cast<uintptr_t>(b) % 256) bad |= 4;
	delete b;
	Big *ba = new Big[3];
	if (reinterpret_cast<uintptr_t>(ba) % 256) bad |= 4;
	delete[] ba;
	if (shim && scans == s0) bad |= 8;
	// nothrow operator new of an impossible size: nullptr
	volatile size_t huge = SIZE_MAX / 2;
	void *n = ::operator new(huge, std::nothrow);
	if (n) bad |= 16;
	// throwing operator new: std::bad_alloc
	try {
		void *h = ::operator new[](huge);
		::operator delete[](h);
		bad |= 32;
	} catch (const std::bad_alloc &) {
	}
	// containers
	std::vector<std::string> v;
	std::map<int, std::string> m;
	for (int i = 0; i < 1000; i++) {
		v.push_back(std::string(100 + i % 50, 'x'));
		m[i] = v.back();
	}
	std::unique_ptr<char[]> u(new char[70000]);
	u[69999] = 1;
	fsr_unregister_shrinker(&sh);
	std::printf("shim=%d\nscans=%lu\nbad=%d\n", shim, scans, bad);
	return bad ? 1 : 0;
}
