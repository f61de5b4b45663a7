/* libfloor: the floor of a `ratd --once` run: a process that loads the shared libraries
 * ratd loads (linked without --as-needed, so every one is loaded) and does nothing else. */
int
main(void)
{
	return 0;
}
