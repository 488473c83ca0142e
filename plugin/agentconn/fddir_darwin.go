package agentconn

// fdDir lists this process's open descriptors: macOS has no /proc, but
// its fdesc file system on /dev/fd lists them (fdesc(5)).
const fdDir = "/dev/fd"
