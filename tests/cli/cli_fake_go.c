/* Not a Go program: a C program carrying a .go.buildinfo section, the mark
 * the Go linker leaves, so that `sockdiag doctor` can be tested on it
 * without a Go toolchain. */
__attribute__((used, section(".go.buildinfo"))) static const char buildinfo[] = "\xff Go buildinf:";

int main(void) { return 0; }
