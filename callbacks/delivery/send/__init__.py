"""Send: the event-loop HTTP client (`transport` on `io_loop`, answers read by `http_wire`) and the
network guard that decides which addresses a callback may reach (`network`)."""
