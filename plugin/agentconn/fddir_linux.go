package agentconn

// fdDir lists this process's open descriptors.
const fdDir = "/proc/self/fd"
