/*
 * libDeepClusteringMklDispatch.so: one function, mkl_serv_intel_cpu_true, which answers "yes".
 *
 * libtorch's official x64 builds link Intel's oneMKL, whose float32 matrix products take their AVX-512 kernels only
 * when this function says the CPU is Intel's; on AMD CPUs that have AVX-512 (Zen 4, Zen 5) they fall back to
 * slower code. Loaded with RTLD_GLOBAL before libtorch (NativeEnvironment.cs), this definition comes first in the
 * process's symbol lookup, and MKL then picks its kernels from the CPU's instruction sets alone. It needs nothing,
 * not even libc: built with -nostdlib (build/build-mkl-dispatch.sh).
 */
int mkl_serv_intel_cpu_true(void) { return 1; }
