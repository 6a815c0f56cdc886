/* rpath_plug.c - the plugin rpath_host.c loads by its bare name */
int plug_value(void) { return 42; }
