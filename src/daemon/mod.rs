//! The daemon: the event loop joining protocol core and IO shell.
