"""gridwatch: the command-line entry point and the one typed settings object."""
