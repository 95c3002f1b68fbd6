// The strace engine's start-up workload (strace_engine.py): a static
// program that does nothing, so that `sockdiag run --engine strace --
// bench_static_true` against the program alone is what starting and
// stopping strace and the reader costs.
int main(void) { return 0; }
