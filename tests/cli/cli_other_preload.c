/* Stands for a user's own LD_PRELOAD library: `sockdiag run` must keep it.
 * It does nothing but be loaded (the tests look for it in /proc/PID/maps). */
int cli_other_preload_marker = 1;
