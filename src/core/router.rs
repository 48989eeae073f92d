//! The virtual-router state machine (RFC 3768, RFC 5798 as updated by RFC 9568).
